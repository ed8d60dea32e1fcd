public import SystemPackage

#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// The hypervisor integration the fork engine runs on.
///
/// A real integration must: send the fork signal and answer with the new child and its
/// snapshot, or the reason there is none (`fork()`); report every status change and the
/// exit code of this instance's children to the engine it is attached to; and, in the
/// child of a fork, tell the engine that this instance has become that child (by
/// answering the in-flight `fork()` with `.child`, or by calling `becameChild()`).
public protocol Platform: Sendable {
    /// Sends the fork signal (the "hardware signal") and waits until the platform is done.
    ///
    /// Called for one fork at a time. Throw `.signalFailed` when the signal cannot be
    /// delivered or answered, `.rejected(errno)` when the platform refuses the fork.
    func fork() async throws(ForkFailure) -> ForkOutcome

    /// Like `fork()`, with what the platform supplied to renew this side (entropy and clock).
    /// The default calls `fork()` and supplies nothing.
    func forkWithRenewal() async throws(ForkFailure) -> ForkReply

    /// The host's wall clock measured now (round trips), for a child to step its clock to;
    /// nil when the platform cannot tell. The default is nil.
    func hostClock() async -> HostClockReading?

    /// Called once by the engine it serves: report this instance's events to `events` from now on.
    func attach(_ events: any PlatformEvents)

    /// What became of the fork that an earlier server of this instance sent and never saw
    /// answered; the engine asks when it restores one from its state journal, and a resent
    /// request for that fork waits for the answer. The default is `.unknown`.
    func forkInFlightOutcome() async -> ForkInFlightOutcome
}

/// What a platform reports to the engine of an instance (the engine implements it).
public protocol PlatformEvents: AnyObject, Sendable {
    /// A child of this instance moved to `state` (use `childExited` for `Stopped`).
    func childStatusChanged(_ child: UUID, to state: InstanceState)
    /// A child of this instance stopped with `code`.
    func childExited(_ child: UUID, code: Int32)
    /// This instance has become the child of a fork: pending requests belonged to the parent.
    func becameChild() async
    /// The same, with what the platform supplied to renew the child. The default calls `becameChild()`.
    func becameChild(renewal: PlatformRenewal?) async
    /// The platform supplied entropy and its clock outside a fork (when this instance
    /// connected). The default ignores them.
    func platformRenewed(_ renewal: PlatformRenewal)
    /// The platform's account of this instance's children now, after it and the instance
    /// lost touch (what happened meanwhile: states, exits, a child whose fork's answer was
    /// lost). The default ignores it.
    func childrenReported(_ children: [ReportedChild])
}

/// A child that a fork created.
public struct ForkedChild: Sendable, Hashable {
    /// The child's UUID.
    public var id: UUID
    /// The UUID of the snapshot the child was created from.
    public var snapshot: UUID
    /// When the child was created, in Unix seconds.
    public var creationTime: Int64

    public init(id: UUID, snapshot: UUID, creationTime: Int64) {
        self.id = id
        self.snapshot = snapshot
        self.creationTime = creationTime
    }
}

/// The platform's answer to a fork signal; like `fork(2)`, each side sees its own.
public enum ForkOutcome: Sendable, Hashable {
    /// This instance is the parent; the fork created this child.
    case parent(ForkedChild)
    /// This instance is the new child, resuming from the snapshot.
    case child
}

/// Why a fork created no child.
public enum ForkFailure: Error, Sendable, Hashable {
    /// The fork signal could not be delivered or answered: the write fails with `EIO`.
    case signalFailed
    /// The platform refused the fork (e.g. `ENOMEM`, no snapshot available): the write fails with it.
    case rejected(Errno)

    /// The errno the fork write fails with.
    public var errno: Errno {
        switch self {
        case .signalFailed: .ioError
        case .rejected(let errno): errno
        }
    }
}
