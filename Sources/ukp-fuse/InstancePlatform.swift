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

    /// A platform failed to start: one line naming the problem.
    struct StartError: Error, CustomStringConvertible {
        let description: String
    }

    init(settings: ServeOptions, logger: Logger) throws {
        let configuration = ForkEngine.Configuration(
            forkQueueDepth: settings.forkQueueDepth,
            stoppedRetention: .milliseconds(Int64(settings.stoppedRetention * 1000)))
        switch settings.platform {
        case .sim:
            let sim = SimPlatform(engineConfiguration: configuration)
            self.sim = sim
            engine = sim.root.engine
            shutdown = {
                for instance in sim.instances.values { await instance.engine.shutdown() }
            }
        case .wire:
            let path = settings.wirePath ?? ServeOptions.defaultWirePath
            var wireLogger = logger
            wireLogger[metadataKey: "platform"] = "wire"
            let wire = WirePlatform(path: path) { [wireLogger] level, line in
                wireLogger.log(level: level.loggerLevel, "\(line)")
            }
            let engine = ForkEngine(platform: wire, configuration: configuration)
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
