public import Logging
import SystemPackage

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Renews what a fork copied, in SPEC.md's order ("Becoming a child"): reseed the kernel
/// CRNG, step the wall clock (the engine then gives `/generation` a new UUID), run the
/// child hooks. Also steps the parent's clock after its pause, and an instance's clock when
/// it connects to its platform.
///
/// A step that fails is logged at error level with the step and the errno, and the rest go on.
public final class InstanceRenewer: Sendable {
    /// What to renew (the daemon's `--no-child-reseed`, `--no-clock-step`, `--child-hooks`,
    /// `--child-hook-timeout`).
    public struct Options: Sendable, Hashable {
        /// Reseed the kernel CRNG in a child (and add the platform's entropy at connect).
        public var reseed: Bool
        /// Step `CLOCK_REALTIME` to the platform's clock (child, parent, connect).
        public var stepClock: Bool
        /// The directory of child hooks; nil runs none.
        public var hookDirectory: String?
        /// How long each hook may run before its process group is killed.
        public var hookTimeout: Duration
        /// Added to each hook's environment (besides `UKP_GENERATION`).
        public var hookEnvironment: [String: String]

        public init(
            reseed: Bool = true,
            stepClock: Bool = true,
            hookDirectory: String? = nil,
            hookTimeout: Duration = .seconds(5),
            hookEnvironment: [String: String] = [:]
        ) {
            self.reseed = reseed
            self.stepClock = stepClock
            self.hookDirectory = hookDirectory
            self.hookTimeout = hookTimeout
            self.hookEnvironment = hookEnvironment
        }
    }

    /// What this renewer renews.
    public let options: Options
    private let system: (any RenewalSystem)?
    private let logger: Logger

    /// Renews nothing: the default of an engine (tests, and every simulated instance).
    public static let disabled = InstanceRenewer()

    private init() {
        options = Options(reseed: false, stepClock: false)
        system = nil
        logger = Logger(label: "ukp.renewal", factory: { _ in SwiftLogNoOpLogHandler() })
    }

    /// Renews through `system`, logging to `logger`.
    public init(system: any RenewalSystem, options: Options = .init(), logger: Logger) {
        self.options = options
        self.system = system
        self.logger = logger
    }

    // MARK: The steps

    /// Steps 1 and 2 in an instance that has become a child: reseed, then the clock. The
    /// clock is measured again through `platform` (a child that just resumed reads its first
    /// message late); the reading that came with the fork's answer is the fallback.
    func reseedAndStepClock(_ renewal: PlatformRenewal?, measuring platform: any Platform) async {
        guard let system else { return }
        if options.reseed { reseed(system, with: renewal?.entropy ?? []) }
        guard options.stepClock else { return }
        let measured = await platform.hostClock()
        stepClock(system, to: measured ?? renewal?.hostClock, after: "becoming a child")
    }

    /// The parent's fork write: its clock lags by its own pause; step it to the platform's.
    func stepParentClock(_ renewal: PlatformRenewal?) {
        guard let system, options.stepClock, let clock = renewal?.hostClock else { return }
        stepClock(system, to: clock, after: "the fork's pause")
    }

    /// The platform answered `Hello`: a booting (or reconnecting) instance takes its entropy and clock.
    func connected(_ renewal: PlatformRenewal) {
        guard let system else { return }
        if options.reseed, !renewal.entropy.isEmpty { reseed(system, with: renewal.entropy) }
        if options.stepClock, let clock = renewal.hostClock { stepClock(system, to: clock, after: "connecting") }
    }

    /// True when there is a hook directory.
    var runsHooks: Bool { system != nil && options.hookDirectory != nil }

    /// Step 4: each executable of the hook directory, in name order, each under the timeout.
    /// A hook that fails or times out is logged; the others still run. `instance` names a
    /// simulated child (`UKP_INSTANCE`).
    func runHooks(generation: UUID, instance: UUID? = nil) async {
        guard let system, let directory = options.hookDirectory else { return }
        let hooks: [String]
        do {
            hooks = try system.hooks(in: directory)
        } catch {
            logger.error("child hooks: cannot list \(directory): \(error.name)")
            return
        }
        var environment = options.hookEnvironment
        environment["UKP_GENERATION"] = generation.lowercaseText
        if let instance { environment["UKP_INSTANCE"] = instance.lowercaseText }
        for hook in hooks {
            let result = await system.runHook(hook, environment: environment, timeout: options.hookTimeout)
            if result.succeeded {
                logger.info("child hook \(hook) \(result)")
            } else {
                logger.error("child hook \(hook) failed: \(result)")
            }
        }
    }

    private func reseed(_ system: any RenewalSystem, with entropy: [UInt8]) {
        if entropy.isEmpty {
            logger.notice("reseed: no entropy from the platform: RNDRESEEDCRNG alone")
        } else {
            do throws(Errno) {
                try system.addEntropy(entropy)
            } catch {
                logger.error("reseed: RNDADDENTROPY failed: \(error.name)")
            }
        }
        do throws(Errno) {
            try system.reseedCRNG()
            let source = entropy.isEmpty ? "" : " with \(entropy.count) bytes from the platform"
            logger.info("reseed: CRNG reseeded\(source)")
        } catch {
            logger.error("reseed: RNDRESEEDCRNG failed: \(error.name)")
        }
    }

    private func stepClock(_ system: any RenewalSystem, to clock: HostClockReading?, after what: String) {
        guard let clock else {
            logger.notice("clock step: no clock from the platform after \(what): wall clock left as it is")
            return
        }
        let before = system.realtime()
        let target = clock.hostTime()
        do throws(Errno) {
            try system.setRealtime(target)
            let step = Double(target &- before) / 1_000_000
            logger.info("clock step: CLOCK_REALTIME stepped by \(step) ms to the platform's after \(what)")
        } catch {
            logger.error("clock step: clock_settime(CLOCK_REALTIME) failed: \(error.name)")
        }
    }
}

extension Errno {
    /// The symbolic name and the message, e.g. `EPERM (Operation not permitted)`.
    var name: String {
        let symbols: [Int32: String] = [
            1: "EPERM", 2: "ENOENT", 4: "EINTR", 5: "EIO", 8: "ENOEXEC", 9: "EBADF", 12: "ENOMEM",
            13: "EACCES", 14: "EFAULT", 16: "EBUSY", 20: "ENOTDIR", 22: "EINVAL", 25: "ENOTTY",
            38: "ENOSYS", 95: "EOPNOTSUPP",
        ]
        return "\(symbols[rawValue] ?? "errno \(rawValue)") (\(self))"
    }
}
