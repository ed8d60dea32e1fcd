#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// The body of `Child` (this project's extension): one child of this instance as the
/// platform knows it now, sent in answer to `Resync`.
public struct WireChild: Sendable, Hashable {
    /// The child's UUID.
    public var child: UUID
    /// The snapshot it was created from.
    public var snapshot: UUID
    /// When it was created, in Unix seconds.
    public var creationTime: UInt64
    /// Its state now.
    public var state: InstanceState
    /// The exit code once `state` is `Stopped` (sent as 0 before).
    public var exitCode: UInt32

    /// A child as the platform reports it; `exitCode` counts once `state` is `Stopped`.
    public init(child: UUID, snapshot: UUID, creationTime: UInt64, state: InstanceState, exitCode: UInt32 = 0) {
        self.child = child
        self.snapshot = snapshot
        self.creationTime = creationTime
        self.state = state
        self.exitCode = exitCode
    }

    /// The child as the engine takes it.
    public var reported: ReportedChild {
        ReportedChild(
            ForkedChild(id: child, snapshot: snapshot, creationTime: Int64(clamping: creationTime)),
            state: state, exitCode: state == .stopped ? Int32(bitPattern: exitCode) : nil)
    }
}

/// The body of `ResyncEnd` (this project's extension): the resync is over.
public struct WireResyncEnd: Sendable, Hashable {
    /// The fork the `Resync` asked about (0: none).
    public var fork: UInt32
    /// What became of that fork.
    public var outcome: WireForkOutcome
    /// How many `Child` messages the platform sent in this resync.
    public var children: UInt32

    /// The end of a resync that asked about `fork` and sent `children` `Child` messages.
    public init(fork: UInt32, outcome: WireForkOutcome, children: UInt32) {
        self.fork = fork
        self.outcome = outcome
        self.children = children
    }
}

/// What became of the fork a `Resync` asked about.
public enum WireForkOutcome: UInt32, Sendable, Hashable, CaseIterable {
    /// The `Resync` asked about no fork.
    case none = 0
    /// The platform received it and sent its answer again before `ResyncEnd` (`ForkCreated`
    /// or `Error` to the parent, `ParentId` to the child, with the fork's correlation id).
    case answered = 1
    /// The platform never received a `ForkRequest` with that correlation id: nothing was forked.
    case neverReceived = 2
}
