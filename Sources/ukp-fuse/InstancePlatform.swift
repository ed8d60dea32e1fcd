import LibUKP
import Logging

/// The platform the daemon forks on (`--platform`), and the engine of the instance it serves.
struct InstancePlatform: Sendable {
    /// What the ukp tree at the mount point serves.
    let engine: ForkEngine
    /// The simulator, with `--platform sim` (its control tree can be mounted).
    let sim: SimPlatform?
    /// Answers every blocked `fork` and `wait` with `EIO` and lets go of the platform.
    let shutdown: @Sendable () async -> Void
    /// Said once in the log when the mounts answer (what the platform does not renew).
    var notice: String?

    /// A platform failed to start: one line naming the problem.
    struct StartError: Error, CustomStringConvertible {
        let description: String
    }

    /// - Parameter journal: what the instance must not forget, restored now and recorded from now on.
    init(settings: ServeOptions, journal: StateJournal?, logger: Logger) throws {
        let configuration = ForkEngine.Configuration(
            forkQueueDepth: settings.forkQueueDepth,
            stoppedRetention: .milliseconds(Int64(settings.stoppedRetention * 1000)))
        var renewal = InstanceRenewer.Options(
            reseed: !settings.noChildReseed,
            stepClock: !settings.noClockStep,
            hookDirectory: settings.childHooks,
            hookTimeout: .milliseconds(Int64(settings.childHookTimeout * 1000)),
            hookEnvironment: ["UKP_MOUNTPOINT": settings.mountpoint])
        var renewalLogger = logger
        renewalLogger[metadataKey: "renewal"] = "child"
        switch settings.platform {
        case .sim:
            if renewal.reseed || renewal.stepClock {
                notice = """
                    sim platform: one kernel for every instance: children are not reseeded and \
                    their clocks not stepped\(renewal.hookDirectory == nil ? "" : "; child hooks still run")
                    """
            }
            renewal.reseed = false
            renewal.stepClock = false
            let renewer = InstanceRenewer(system: LinuxRenewalSystem(), options: renewal, logger: renewalLogger)
            let sim = SimPlatform(engineConfiguration: configuration, renewer: renewer, journal: journal)
            self.sim = sim
            engine = sim.root.engine
            shutdown = { await sim.shutdown() }
        case .wire:
            let path = settings.wirePath ?? ServeOptions.defaultWirePath
            var wireLogger = logger
            wireLogger[metadataKey: "platform"] = "wire"
            let engineJournal = journal.map { EngineJournal($0) }
            let wire = WirePlatform(path: path, hello: settings.wireHello, journal: engineJournal) { [wireLogger] level, line in
                wireLogger.log(level: level.loggerLevel, "\(line)")
            }
            let renewer = InstanceRenewer(system: LinuxRenewalSystem(), options: renewal, logger: renewalLogger)
            let engine = ForkEngine(platform: wire, configuration: configuration, renewer: renewer, journal: engineJournal)
            do {
                try wire.start()
            } catch {
                throw StartError(description: "cannot open the platform's stream \(path): \(error)")
            }
            self.sim = nil
            self.engine = engine
            shutdown = {
                await engine.shutdown()
                wire.close()
            }
        }
    }
}

extension WireLogLevel {
    var loggerLevel: Logger.Level {
        switch self {
        case .debug: .debug
        case .info: .info
        case .warning: .warning
        case .error: .error
        }
    }
}
