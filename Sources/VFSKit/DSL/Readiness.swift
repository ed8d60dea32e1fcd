import SystemPackage

/// When a file is ready for `poll(2)`, declared rather than hand-wired.
///
/// Each form names a `ChangeSignal`; the dispatcher re-evaluates readiness when it fires
/// and wakes a registered poller exactly when the answer changes.
public struct Readiness: Sendable {
    enum Kind: Sendable {
        /// sysfs style: `POLLPRI|POLLIN` once the signal fired since this open file last read at offset 0.
        case changes
        /// `POLLIN` while the condition holds.
        case readable(@Sendable (RequestContext) throws(Errno) -> Bool)
    }

    let kind: Kind
    let signal: @Sendable (RequestContext) throws(Errno) -> ChangeSignal

    /// Ready (`POLLPRI|POLLIN`) once `signal` fired since this open file last read from offset 0
    /// (or since it was opened); re-read from offset 0 after waking.
    public static func changes(
        _ signal: @escaping @Sendable (RequestContext) throws -> ChangeSignal
    ) -> Readiness {
        Readiness(kind: .changes, signal: Condition.typed(signal))
    }

    /// Readable (`POLLIN`) while `condition` holds; re-evaluated whenever its signal fires.
    public static func readable(_ condition: Condition) -> Readiness {
        Readiness(kind: .readable(condition.holds), signal: condition.signal)
    }

    /// Readable (`POLLIN`) while `condition` holds; re-evaluated whenever `signal` fires.
    public static func readable(
        when condition: @escaping @Sendable (RequestContext) throws -> Bool,
        signalledBy signal: @escaping @Sendable (RequestContext) throws -> ChangeSignal
    ) -> Readiness {
        readable(Condition(when: condition, signalledBy: signal))
    }
}
