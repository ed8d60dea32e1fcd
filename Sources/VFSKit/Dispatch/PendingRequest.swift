import Synchronization

/// How a read or write was dispatched.
public enum Dispatched: Sendable {
    /// The handler finished on the calling thread and the reply has been sent.
    case done
    /// The handler is suspended. Hook the kernel's interrupt to `interrupt()`, then call
    /// `armed()`; the reply comes later, from whichever thread finishes the handler.
    case pending(PendingRequest)
}

/// A request whose handler is still running (or that waits, parked, for a condition): the
/// link between the kernel's interrupt, what it cancels, and the moment the driver may
/// receive the reply.
public final class PendingRequest: Sendable {
    private enum Phase {
        case starting, awaitingDriver, armed, finished
    }

    private struct State {
        var phase = Phase.starting
        var heldReply: (@Sendable () -> Void)?
        /// Cancels the handler's task, or answers a parked request `EINTR`.
        var cancel: (@Sendable () -> Void)?
        var interrupted = false

        /// The reply the handler left while the driver was not ready, now the request's end.
        mutating func takeHeldReply() -> (@Sendable () -> Void)? {
            guard let reply = heldReply else { return nil }
            heldReply = nil
            phase = .finished
            cancel = nil
            return reply
        }
    }

    private let state = Mutex(State())

    init() {}

    /// True once the kernel interrupted the request (the caller got a signal).
    public var isInterrupted: Bool { state.withLock { $0.interrupted } }

    /// The caller was interrupted: cancel the handler, which answers `EINTR`.
    ///
    /// Never replies on the calling thread (the FUSE driver calls it with the request locked).
    public func interrupt() {
        let cancel = state.withLock { state -> (@Sendable () -> Void)? in
            state.interrupted = true
            return state.cancel
        }
        cancel?()
    }

    /// The driver is ready for the reply (its interrupt hook is in place).
    public func armed() {
        let reply = state.withLock { state -> (@Sendable () -> Void)? in
            if let reply = state.takeHeldReply() { return reply }
            state.phase = .armed
            return nil
        }
        reply?()
    }

    /// What `interrupt()` does: cancel a task, or answer a parked request from elsewhere.
    func onInterrupt(_ cancel: @escaping @Sendable () -> Void) {
        let cancelNow = state.withLock { state -> Bool in
            state.cancel = cancel
            return state.interrupted
        }
        if cancelNow { cancel() }
    }

    /// The handler finished: deliver now if the driver is armed, else hold the reply.
    func complete(_ reply: @escaping @Sendable () -> Void) {
        let deliverNow = state.withLock { state -> Bool in
            if state.phase == .armed {
                state.phase = .finished
                state.cancel = nil
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
            if let reply = state.takeHeldReply() { return reply }
            state.phase = .awaitingDriver
            return nil
        }
        guard let reply else { return .pending(self) }
        reply()
        return .done
    }
}
