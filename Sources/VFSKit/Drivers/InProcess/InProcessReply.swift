import Synchronization
import SystemPackage

/// One request of the in-process driver: the task awaiting its answer, and what an
/// interrupt (cancelling that task) stops once the request waits for a later answer.
final class InProcessRequest<Value: Sendable>: Sendable {
    private struct Interrupt: Sendable {
        let call: @Sendable () -> Void
    }

    private struct State {
        var continuation: CheckedContinuation<Result<Value, Errno>, Never>?
        var onInterrupt: Interrupt?
        var interrupted = false
    }

    private let state = Mutex(State())

    func await(_ continuation: CheckedContinuation<Result<Value, Errno>, Never>) {
        state.withLock { $0.continuation = continuation }
    }

    /// Resumes the awaiting task, once.
    func answer(_ result: Result<Value, Errno>) {
        state.withLock { $0.continuation.take() }?.resume(returning: result)
    }

    /// The awaiting task was cancelled: the in-process form of a signal.
    func interrupt() {
        let onInterrupt = state.withLock { state -> Interrupt? in
            state.interrupted = true
            return state.onInterrupt.take()
        }
        onInterrupt?.call()
    }

    /// The request waits for a later answer: an interrupt now reaches `onInterrupt` (at once
    /// if it came already).
    func waitLater(onInterrupt: @escaping @Sendable () -> Void) {
        let interruptedAlready = state.withLock { state -> Bool in
            if state.interrupted { return true }
            state.onInterrupt = Interrupt(call: onInterrupt)
            return false
        }
        if interruptedAlready { onInterrupt() }
    }
}

/// The in-process driver's `Reply`: resumes the task that awaits the request.
struct InProcessReply<Value: Sendable>: Reply, ~Copyable {
    /// Retained: `discard self` needs trivially destroyed stored properties.
    private let request: Unmanaged<InProcessRequest<Value>>

    init(_ request: InProcessRequest<Value>) { self.request = .passRetained(request) }

    consuming func send(_ result: Result<Value, Errno>) {
        let request = self.request.takeRetainedValue()
        discard self
        request.answer(result)
    }

    consuming func answerLater(onInterrupt: @escaping @Sendable () -> Void) -> LaterReply<Value> {
        let request = self.request.takeRetainedValue()
        discard self
        request.waitLater(onInterrupt: onInterrupt)
        return LaterReply { request.answer($0) }
    }

    deinit {
        VFSKitLog.unanswered("an in-process request was dropped unanswered")
        request.takeRetainedValue().answer(.failure(.ioError))
    }
}
