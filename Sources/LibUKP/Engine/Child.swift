import Synchronization
public import SystemPackage
public import VFSKit

#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// One child instance of this instance: what `/vm/<uuid>/` shows.
///
/// Everything is readable without an actor hop (a `Mutex` guards the changing part),
/// so the hot read path answers on the thread that received the request.
public final class Child: Sendable {
    /// The child's UUID: its directory name under `/vm/`.
    public let id: UUID
    /// The snapshot the child was created from.
    public let snapshot: UUID
    /// When the child was created, in Unix seconds.
    public let creationTime: Int64
    /// Fires on every change of `status` or `exitCode`; `status` pollers watch it.
    public let statusChanged = ChangeSignal()
    /// Fires when the child stops, when its exit code arrives, and when waits are closed
    /// (engine shutdown): blocked `wait` writers and `wait` pollers watch it.
    public let waitChanged = ChangeSignal()

    private struct State {
        var status: InstanceState
        var exitCode: Int32?
    }

    private let state: Mutex<State>
    /// What a wait comes to, readable without the lock (thousands of parked writers read it
    /// at once when the child stops): 0 still waiting, -1 stopped, else the errno waits fail with.
    private let waitOutcome = Atomic<Int32>(0)

    public init(id: UUID, snapshot: UUID, creationTime: Int64, status: InstanceState = .starting) {
        self.id = id
        self.snapshot = snapshot
        self.creationTime = creationTime
        self.state = Mutex(State(status: status))
        if status == .stopped { waitOutcome.store(-1, ordering: .releasing) }
    }

    /// The current state.
    public var status: InstanceState { state.withLock { $0.status } }

    /// The exit code, once the child has stopped and the platform reported it.
    public var exitCode: Int32? { state.withLock { $0.exitCode } }

    /// True once the child reached `Stopped` (a `Template` has not stopped).
    public var hasStopped: Bool { state.withLock { $0.status == .stopped } }

    /// Suspends until the child has stopped; returns at once if it already has.
    ///
    /// Any number of tasks may wait. A cancelled waiter leaves and throws `EINTR`;
    /// waiters fail with `EIO` when the engine shuts down or becomes a child.
    public func waitUntilStopped() async throws(Errno) {
        try await waitChanged.wait { () throws(Errno) in try self.waitIsOver }
    }

    /// True once the child has stopped, so a wait is over; throws the error waits fail
    /// with once the engine shut down or became a child.
    public var waitIsOver: Bool {
        get throws(Errno) {
            switch waitOutcome.load(ordering: .acquiring) {
            case 0: return false
            case -1: return true
            case let errno: throw Errno(rawValue: errno)
            }
        }
    }

    /// How many callers are blocked: whatever watches `waitChanged` (tasks in
    /// `waitUntilStopped()`, `wait` writes parked by the tree, and `wait` pollers).
    var waiterCount: Int { waitChanged.observerCount }

    /// Applies a platform event; returns true when it made the child stop.
    ///
    /// `Stopped` is final: later states are ignored, but a missing exit code may still arrive.
    @discardableResult
    func apply(_ event: ChildEvent) -> Bool {
        let (changed, stopped) = state.withLock { state -> (Bool, Bool) in
            switch event {
            case .status(let status):
                guard state.status != .stopped, state.status != status else { return (false, false) }
                state.status = status
            case .exited(let code):
                if state.status == .stopped {
                    guard state.exitCode == nil else { return (false, false) }
                    state.exitCode = code
                    return (true, false)
                }
                state.status = .stopped
                state.exitCode = code
            }
            if state.status == .stopped { waitOutcome.store(-1, ordering: .releasing) }
            return (true, state.status == .stopped)
        }
        guard changed else { return stopped }
        statusChanged.signal()
        // Waits (and `wait` pollers) care only for the stop and the exit code, not for the
        // states before: each signal makes every parked writer look again.
        if case .status(let status) = event, status != .stopped { return stopped }
        waitChanged.signal()
        return stopped
    }

    /// Fails every blocked and future wait with `error` (engine shutdown, becoming a child).
    func close(with error: Errno) {
        // The first error stands; a child that stopped already is a wait that is over.
        _ = waitOutcome.compareExchange(expected: 0, desired: error.rawValue, ordering: .acquiringAndReleasing)
        waitChanged.signal()
    }
}
