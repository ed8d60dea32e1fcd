import DequeModule
import SystemPackage

/// The rules of the fork queue as a value: one fork at a time, a bounded FIFO behind it.
///
/// Each event returns the action the owner must take; nothing here does I/O, so the
/// rules can be tested (and fuzzed) without a platform.
struct ForkQueue: Sendable {
    typealias RequestID = UInt64

    /// What the owner must do after an event.
    enum Action: Sendable, Hashable {
        /// Nothing.
        case none
        /// Send this request's fork signal to the platform now.
        case start(RequestID)
        /// Answer this request with an error; it forks nothing.
        case fail(RequestID, Errno)
    }

    /// How many requests may wait behind the running fork.
    let depth: Int
    /// The request whose fork the platform is performing.
    private(set) var running: RequestID?
    /// Requests waiting for their turn, oldest first.
    private(set) var waiting: Deque<RequestID> = []
    /// After shutdown every request fails with `EIO`.
    private(set) var isClosed = false

    init(depth: Int = 32) {
        precondition(depth >= 0, "fork queue depth must not be negative")
        self.depth = depth
    }

    /// A new fork request: start it, queue it, or refuse it (`EBUSY` when the queue is full).
    mutating func request(_ id: RequestID) -> Action {
        if isClosed { return .fail(id, .ioError) }
        if running == nil {
            running = id
            return .start(id)
        }
        guard waiting.count < depth else { return .fail(id, .resourceBusy) }
        waiting.append(id)
        return .none
    }

    /// The running fork finished (whatever its outcome): start the oldest waiting request.
    mutating func completed() -> Action {
        precondition(running != nil, "completed() without a running fork")
        running = nil
        guard !isClosed, let next = waiting.popFirst() else { return .none }
        running = next
        return .start(next)
    }

    /// The caller of `id` was interrupted: a waiting request leaves with `EINTR`;
    /// a running one is not interruptible and goes on.
    mutating func cancel(_ id: RequestID) -> Action {
        guard let index = waiting.firstIndex(of: id) else { return .none }
        waiting.remove(at: index)
        return .fail(id, .interrupted)
    }

    /// This instance became the child of a fork: the waiting requests belonged to the
    /// parent; they are returned (to fail with `EIO`) and the queue is drained.
    mutating func becameChild() -> [RequestID] {
        defer { waiting.removeAll() }
        return Array(waiting)
    }

    /// Closes the queue: returns every request still unanswered (the running one first),
    /// to fail with `EIO`. The running fork still reports `completed()`.
    mutating func shutdown() -> [RequestID] {
        isClosed = true
        defer { waiting.removeAll() }
        return (running.map { [$0] } ?? []) + Array(waiting)
    }
}
