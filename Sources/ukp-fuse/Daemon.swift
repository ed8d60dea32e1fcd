import LibUKP
import Logging
import ServiceLifecycle
import VFSKit
#if canImport(Glibc)
import Glibc
#endif

/// Builds the platform and the mounts from the command line, then serves until a
/// signal: SIGINT/SIGTERM answer every blocked `fork` and `wait` with `EIO`, unmount, exit 0.
struct Daemon {
    let settings: ServeOptions

    func run() async throws {
        let level = settings.logLevel.level
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "ukp-fuse")
        if let warning = FUSEServer.requestTimeoutWarning() {
            logger.warning("\(warning); set it to 0 for blocking fork and wait writes")
        }

        let platform = try InstancePlatform(settings: settings, logger: logger)
        let uid = settings.uid ?? getuid()
        let gid = settings.gid ?? getgid()
        let options = FUSEMountOptions(allowOther: settings.allowOther, fsname: "ukp", subtype: "ukp")

        var mounts = [(path: settings.mountpoint, tree: platform.engine.tree)]
        if let control = settings.simControl, let sim = platform.sim {
            mounts.append((control, sim.controlTree))
        }
        var servers: [FUSEServer] = []
        do {
            for mount in mounts {
                try MountPoint.create(mount.path)
                let dispatcher = try Dispatcher(tree: mount.tree, uid: uid, gid: gid)
                let server = FUSEServer(dispatcher: dispatcher, mountpoint: mount.path, options: options)
                try server.mount()
                servers.append(server)
            }
        } catch {
            for server in servers { server.stop(); await DedicatedThread.run { server.serve() } }
            await platform.shutdown()
            throw error
        }

        let service = FUSEService(servers: servers, platform: platform, primary: settings.mountpoint, logger: logger)
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [
                .init(service: service),
                .init(service: HeapTrimService(), successTerminationBehavior: .ignore, failureTerminationBehavior: .ignore),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        logger.info("unmounted; exiting")
    }
}

/// The FUSE sessions as a service: serve each on its own thread; on graceful shutdown,
/// fail blocked callers with `EIO` first, then unmount.
struct FUSEService: Service {
    let servers: [FUSEServer]
    let platform: InstancePlatform
    let primary: String
    let logger: Logger

    func run() async throws {
        let servers = servers
        let platform = platform
        let logger = logger
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                for server in servers {
                    group.addTask { await DedicatedThread.run { server.serve() } }
                }
                group.addTask {
                    await DedicatedThread.run {
                        for server in servers { MountPoint.waitUntilAnswering(server.mountpoint) }
                    }
                    print("ukp-fuse: serving \(primary)")
                    fflush(nil)
                    if let notice = platform.notice { logger.notice("\(notice)") }
                    for server in servers where server.mountpoint != primary {
                        logger.info("sim control tree at \(server.mountpoint)")
                    }
                }
                await group.waitForAll()
            }
        } onGracefulShutdown: {
            Task {
                logger.info("shutting down: answering blocked callers with EIO")
                await platform.shutdown()
                for _ in 0..<200 where servers.contains(where: { $0.blockedRequests > 0 }) {
                    try? await Task.sleep(for: .milliseconds(10))
                }
                for server in servers { server.stop() }
            }
        }
    }
}
