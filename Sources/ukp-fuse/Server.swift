import LibUKP
import Logging
import ServiceLifecycle
import VFSKit

#if canImport(Glibc)
import Glibc
#endif

/// The server process (`ukp-fuse serve-connection`, started by the `Supervisor`): builds
/// the platform and the trees, takes over the connections the supervisor mounted (fds 3,
/// 4, …), and serves until SIGINT/SIGTERM, which answer every blocked `fork` and `wait`
/// with `EIO` (the supervisor then unmounts). It dies with its supervisor.
struct Server {
    let settings: ServeOptions
    /// How many servers served these connections before this one.
    let restarts: Int
    let logger: Logger

    /// A pipe whose other end only the supervisor holds: end of file means it died.
    let lifeline: Int32?

    func run() async throws {
        HeapTrimService.keepLargeBlocksOutOfTheHeap()
        if let lifeline { Self.exitWhenClosed(lifeline) }
        if restarts == 0, let warning = FUSEServer.requestTimeoutWarning() {
            logger.warning("\(warning); set it to 0 for blocking fork and wait writes")
        }
        let state = StateDirectory(path: settings.stateDir ?? StateDirectory.defaultPath(for: settings.mountpoint))

        let journal: StateJournal?
        do {
            journal = try StateJournal(directory: state.path)
        } catch {
            logger.error("cannot keep state in \(state.path): \(error): nothing will survive a restart")
            journal = nil
        }
        if let problem = journal?.problem { logger.error("\(problem)") }
        let platform = try InstancePlatform(settings: settings, journal: journal, logger: logger)
        let uid = settings.uid ?? getuid()
        let gid = settings.gid ?? getgid()
        let options = FUSEMountOptions(allowOther: settings.allowOther, fsname: "ukp", subtype: "ukp")

        var mounts = [(name: "ukp", path: settings.mountpoint, tree: platform.engine.tree)]
        if let control = settings.simControl, let sim = platform.sim {
            mounts.append(("control", control, sim.controlTree))
        }
        var servers: [FUSEServer] = []
        do {
            for (index, mount) in mounts.enumerated() {
                let dispatcher = try Dispatcher(tree: mount.tree, uid: uid, gid: gid)
                let handover = FUSEHandover(
                    descriptor: Int32(3 + index), mountpoint: mount.path, recordsPath: state.records(of: mount.name),
                    restarts: restarts, heldRequests: settings.heldRequestsOnServerDeath)
                let server = FUSEServer(dispatcher: dispatcher, takingOver: handover, options: options)
                try server.mount()
                servers.append(server)
            }
        } catch {
            for server in servers {
                server.stop()
                await DedicatedThread.run { server.serve() }
            }
            await platform.shutdown()
            throw error
        }

        let service = FUSEService(servers: servers, platform: platform, isFirstServer: restarts == 0, logger: logger)
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [
                    .init(service: service),
                    .init(service: HeapTrimService(), successTerminationBehavior: .ignore, failureTerminationBehavior: .ignore),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

extension Server {
    /// Ends this process when the supervisor is gone (its end of `lifeline` closed): the
    /// mounts go with it (`auto_unmount`), and no server may outlive them.
    static func exitWhenClosed(_ lifeline: Int32) {
        DedicatedThread.detach {
            var byte: UInt8 = 0
            while read(lifeline, &byte, 1) < 0 && errno == EINTR {}
            _exit(0)
        }
    }
}

/// The FUSE sessions as a service: serve each on its own thread; on graceful shutdown,
/// fail blocked callers with `EIO` first, then stop serving.
struct FUSEService: Service {
    let servers: [FUSEServer]
    let platform: InstancePlatform
    /// The first server on these mounts: it says what is said once.
    let isFirstServer: Bool
    let logger: Logger

    func run() async throws {
        let servers = servers
        let platform = platform
        let logger = logger
        let isFirstServer = isFirstServer
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                for server in servers {
                    group.addTask { await DedicatedThread.run { server.serve() } }
                }
                // Said once, by the first server, once the mounts are taken (a start-up error stays one line).
                if isFirstServer, let notice = platform.notice { logger.notice("\(notice)") }
                group.addTask {
                    // A server that took over: did the kernel resend what its predecessor held?
                    try? await Task.sleep(for: .milliseconds(200))
                    for server in servers {
                        if case .failure(let error)? = server.resendOutcome {
                            logger.error("the kernel refused FUSE_NOTIFY_RESEND (\(error)): requests the dead server held are lost")
                        }
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
