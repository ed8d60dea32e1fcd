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
    /// The condition of `.readable(_:)`, for the validator.
    var condition: Condition?
    /// Declared events: reported when ready, and when not; nil: the profile's convention.
    var events: (ready: PollEvents, idle: PollEvents)?

    /// Reports exactly `ready` when ready and `idle` otherwise, whatever the tree's profile
    /// says: e.g. `.changes { … }.reporting(ready: [.in, .out, .err, .pri], idle: [.in, .out])`.
    /// A poller wakes when the file goes from one to the other.
    public func reporting(ready: PollEvents, idle: PollEvents) -> Readiness {
        var readiness = self
        readiness.events = (ready, idle)
        return readiness
    }

    /// Ready (`POLLPRI|POLLIN`, or the profile's ``PollConvention/changed``) once `signal` fired since this open file last read from offset 0
    /// (or since it was opened); re-read from offset 0 after waking.
    public static func changes(
        _ signal: @escaping @Sendable (RequestContext) throws -> ChangeSignal
    ) -> Readiness {
        Readiness(kind: .changes, signal: Condition.typed(signal))
    }

    /// Readable (`POLLIN`) while `condition` holds; re-evaluated whenever its signal fires.
    public static func readable(_ condition: Condition) -> Readiness {
        Readiness(kind: .readable(condition.holds), signal: condition.signal, condition: condition)
    }

    /// Readable (`POLLIN`) while `condition` holds; re-evaluated whenever `signal` fires.
    public static func readable(
        when condition: @escaping @Sendable (RequestContext) throws -> Bool,
        signalledBy signal: @escaping @Sendable (RequestContext) throws -> ChangeSignal
    ) -> Readiness {
        readable(Condition(when: condition, signalledBy: signal))
    }
}
