public import SystemPackage

/// The system effects of renewing an instance, injected into the engine so that tests can
/// observe their order and make them fail. `LinuxRenewalSystem` is the real one.
///
/// Every method returns promptly except `runHook`, which awaits the hook without blocking a thread.
public protocol RenewalSystem: Sendable {
    /// Mixes `bytes` into the kernel's entropy pool, credited (`RNDADDENTROPY`).
    func addEntropy(_ bytes: [UInt8]) throws(Errno)
    /// Makes the kernel CRNG reseed now from its pool (`RNDRESEEDCRNG`).
    func reseedCRNG() throws(Errno)
    /// The wall clock (`CLOCK_REALTIME`), in nanoseconds since the Unix epoch.
    func realtime() -> Int64
    /// Steps the wall clock to `nanoseconds` since the Unix epoch (`clock_settime(CLOCK_REALTIME)`).
    func setRealtime(_ nanoseconds: Int64) throws(Errno)
    /// The executables in `directory`, in name order: what `--child-hooks` runs.
    func hooks(in directory: String) throws(Errno) -> [String]
    /// Runs the hook at `path` with `environment` added to the daemon's, waits for it at most
    /// `timeout`, and kills its process group if it is still running then.
    func runHook(_ path: String, environment: [String: String], timeout: Duration) async -> HookResult
}

/// How a child hook ended.
public enum HookResult: Sendable, Hashable, CustomStringConvertible {
    /// It exited with this status (0 is success).
    case exited(Int32)
    /// A signal ended it.
    case signalled(Int32)
    /// It ran past its timeout and its process group was killed.
    case timedOut(Duration)
    /// It could not be started.
    case failedToStart(Errno)

    /// True for an exit status of 0.
    public var succeeded: Bool { self == .exited(0) }

    public var description: String {
        switch self {
        case .exited(let status): "exited with status \(status)"
        case .signalled(let signal): "killed by signal \(signal)"
        case .timedOut(let timeout): "timed out after \(timeout.secondsText) s: killed"
        case .failedToStart(let errno): "could not start: \(errno)"
        }
    }
}

extension Duration {
    /// Seconds as a short decimal (`5`, `0.25`).
    var secondsText: String {
        let milliseconds = nanoseconds / 1_000_000
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000)" : "\(Double(milliseconds) / 1000)"
    }
}
