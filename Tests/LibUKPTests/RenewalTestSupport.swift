import Foundation
import Logging
import Synchronization
import SystemPackage
import Testing

@testable import LibUKP

/// A `RenewalSystem` that records each step (with what `probe` said at that moment), fails
/// the steps it is told to, and runs hooks that the test can hold.
final class RecordingSystem: RenewalSystem {
    struct Step: Sendable, Hashable {
        let name: String
        /// What the probe returned when the step ran (e.g. the engine's generation).
        let probe: String
    }

    private struct State {
        var steps: [Step] = []
        var failing: [String: Errno] = [:]
        var probe: (@Sendable () -> String)?
        var hooks: [String] = ["10-first", "20-second"]
        var hookResults: [String: HookResult] = [:]
        var holds: [String: [CheckedContinuation<Void, Never>]] = [:]
        var held: Set<String> = []
        var setTimes: [Int64] = []
        var environments: [[String: String]] = []
    }

    private let state = Mutex(State())

    /// Each step so far, in order.
    var steps: [Step] { state.withLock { $0.steps } }
    var names: [String] { steps.map(\.name) }
    /// The times `setRealtime` was given.
    var setTimes: [Int64] { state.withLock { $0.setTimes } }
    /// The environment each hook ran with.
    var environments: [[String: String]] { state.withLock { $0.environments } }

    /// `probe` is asked at every step.
    func observe(_ probe: @escaping @Sendable () -> String) { state.withLock { $0.probe = probe } }
    /// The step named `name` (`addEntropy`, `reseedCRNG`, `setRealtime`, `hooks`) fails with `errno`.
    func fail(_ name: String, with errno: Errno) { state.withLock { $0.failing[name] = errno } }
    func setHooks(_ hooks: [String]) { state.withLock { $0.hooks = hooks } }
    func setResult(_ result: HookResult, for hook: String) { state.withLock { $0.hookResults[hook] = result } }
    /// The hook `name` blocks until `release(name)`.
    func hold(_ name: String) { state.withLock { _ = $0.held.insert(name) } }
    func release(_ name: String) {
        let waiters = state.withLock { state in
            state.held.remove(name)
            return state.holds.removeValue(forKey: name) ?? []
        }
        for waiter in waiters { waiter.resume() }
    }

    private func record(_ name: String) throws(Errno) {
        let (probe, failure) = state.withLock { ($0.probe, $0.failing[name.split(separator: " ").first.map(String.init) ?? name]) }
        let step = Step(name: name, probe: probe?() ?? "")
        state.withLock { $0.steps.append(step) }
        if let failure { throw failure }
    }

    func addEntropy(_ bytes: [UInt8]) throws(Errno) { try record("addEntropy \(bytes.count)") }
    func reseedCRNG() throws(Errno) { try record("reseedCRNG") }
    func realtime() -> Int64 { 1_000 }
    func setRealtime(_ nanoseconds: Int64) throws(Errno) {
        state.withLock { $0.setTimes.append(nanoseconds) }
        try record("setRealtime")
    }
    func hooks(in directory: String) throws(Errno) -> [String] {
        try record("hooks")
        return state.withLock { $0.hooks }.map { directory + "/" + $0 }
    }

    func runHook(_ path: String, environment: [String: String], timeout: Duration) async -> HookResult {
        let name = String(path.split(separator: "/").last!)
        state.withLock { $0.environments.append(environment) }
        try? record("hook \(name) \(environment["UKP_GENERATION"] ?? "-")")
        let held = state.withLock { $0.held.contains(name) }
        if held {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state -> Bool in
                    guard state.held.contains(name) else { return true }
                    state.holds[name, default: []].append(continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        }
        return state.withLock { $0.hookResults[name] } ?? .exited(0)
    }
}

/// Log lines collected through swift-log.
final class CapturedLog: Sendable {
    private let lines = Mutex<[(Logger.Level, String)]>([])

    var logger: Logger {
        Logger(label: "test") { _ in Handler(log: self) }
    }

    var all: [(Logger.Level, String)] { lines.withLock { $0 } }

    /// The messages at exactly `level` that contain `text`.
    func at(_ level: Logger.Level, _ text: String = "") -> [String] {
        lines.withLock { $0.filter { $0.0 == level && (text.isEmpty || $0.1.contains(text)) }.map(\.1) }
    }

    fileprivate func append(_ level: Logger.Level, _ message: String) {
        lines.withLock { $0.append((level, message)) }
    }

    struct Handler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            log.append(event.level, event.message.description)
        }
    }
}

extension InstanceRenewer {
    /// A renewer through `system` with hooks in `/hooks`, logging to `log`.
    static func recording(
        _ system: RecordingSystem,
        _ log: CapturedLog,
        reseed: Bool = true,
        stepClock: Bool = true,
        hooks: String? = "/hooks"
    ) -> InstanceRenewer {
        InstanceRenewer(
            system: system,
            options: .init(reseed: reseed, stepClock: stepClock, hookDirectory: hooks),
            logger: log.logger)
    }
}

/// A renewal as a platform supplies it to a child: 32 bytes and a clock read `ago`.
func childRenewal(realtime: Int64 = 1_800_000_000_000_000_000) -> PlatformRenewal {
    PlatformRenewal(entropy: Array(repeating: 7, count: 32), hostClock: HostClockReading(realtime: realtime))
}
