import Synchronization

/// How a read or write was dispatched.
public enum Dispatched: Sendable {
    /// The handler finished on the calling thread and the reply has been sent.
    case done
    /// The handler is suspended. Hook the kernel's interrupt to `interrupt()`, then call
    /// `armed()`; the reply comes later, from whichever thread finishes the handler.
    case pending(PendingRequest)
}

/// A request whose handler is still running: the link between the kernel's interrupt,
/// the handler's task, and the moment the driver may receive the reply.
public final class PendingRequest: Sendable {
    private enum Phase {
        case starting, awaitingDriver, armed, finished
    }

    private struct State {
        var phase = Phase.starting
        var heldReply: (@Sendable () -> Void)?
        var task: Task<Void, Never>?
        var interrupted = false
    }

    private let state = Mutex(State())

    init() {}

    /// True once the kernel interrupted the request (the caller got a signal).
    public var isInterrupted: Bool { state.withLock { $0.interrupted } }

    /// The caller was interrupted: cancel the handler, which answers `EINTR`.
    public func interrupt() {
        let task = state.withLock { state -> Task<Void, Never>? in
            state.interrupted = true
            return state.task
        }
        task?.cancel()
    }

    /// The driver is ready for the reply (its interrupt hook is in place).
    public func armed() {
        let reply = state.withLock { state -> (@Sendable () -> Void)? in
            if let reply = state.heldReply {
                state.heldReply = nil
                state.phase = .finished
                return reply
            }
            state.phase = .armed
            return nil
        }
        reply?()
    }

    func attach(_ task: Task<Void, Never>) {
        let cancelNow = state.withLock { state -> Bool in
            state.task = task
            return state.interrupted
        }
        if cancelNow { task.cancel() }
    }

    /// The handler finished: deliver now if the driver is armed, else hold the reply.
    func complete(_ reply: @escaping @Sendable () -> Void) {
        let deliverNow = state.withLock { state -> Bool in
            if state.phase == .armed {
                state.phase = .finished
                state.task = nil
                return true
            }
            state.heldReply = reply
            return false
        }
        if deliverNow { reply() }
    }

    /// Called once the handler's task has run up to its first suspension or its end.
    func finishStarting() -> Dispatched {
        let reply = state.withLock { state -> (@Sendable () -> Void)? in
            if let reply = state.heldReply {
                state.heldReply = nil
                state.phase = .finished
                state.task = nil
                return reply
            }
            state.phase = .awaitingDriver
            return nil
        }
        guard let reply else { return .pending(self) }
        reply()
        return .done
    }
}
