/// A child of this instance as the platform knows it now, reported when the platform and
/// the instance resynchronize (`PlatformEvents.childrenReported(_:)`).
public struct ReportedChild: Sendable, Hashable {
    /// The child, as its fork created it.
    public var child: ForkedChild
    /// Its state now.
    public var state: InstanceState
    /// The exit code, once `state` is `Stopped`.
    public var exitCode: Int32?

    /// A child in `state` (with its `exitCode` once stopped).
    public init(_ child: ForkedChild, state: InstanceState, exitCode: Int32? = nil) {
        self.child = child
        self.state = state
        self.exitCode = exitCode
    }

    /// The event that brings a child as this instance sees it to the reported state; nil
    /// when it is there already (or stopped: `Stopped` is final).
    func event(for known: Child) -> ChildEvent? {
        if state == .stopped {
            if known.hasStopped, known.exitCode != nil { return nil }
            return exitCode.map { .exited($0) } ?? (known.hasStopped ? nil : .status(.stopped))
        }
        return known.hasStopped || known.status == state ? nil : .status(state)
    }
}
