import Synchronization
import SystemPackage

@testable import VFSKit

#if canImport(Glibc)
import Glibc
#endif

/// A request as a test drives it: records each answer, whether it came inline (through
/// `send`) or later, and on which thread; `interrupt()` plays the kernel's interrupt.
final class ProbeRequest<Value: Sendable>: Sendable {
    struct Answer: Sendable {
        let result: Result<Value, Errno>
        let inline: Bool
        let onCallingThread: Bool
    }

    private struct Hook: Sendable {
        let call: @Sendable () -> Void
    }

    private struct State {
        var answers: [Answer] = []
        var answeredLater = false
        var onInterrupt: Hook?
        var interrupted = false
    }

    private let state = Mutex(State())
    private let callingThread = Box<pthread_t?>(nil)
    let delivered = Counter()

    /// The reply to hand to the dispatcher, from the thread that dispatches.
    func reply() -> ProbeReply<Value> {
        callingThread.value = pthread_self()
        return ProbeReply(self)
    }

    var answers: [Answer] { state.withLock { $0.answers } }
    /// True once the dispatcher turned the reply into a `LaterReply`.
    var answeredLater: Bool { state.withLock { $0.answeredLater } }

    func record(_ result: Result<Value, Errno>, inline: Bool) {
        let same = callingThread.value.map { pthread_equal($0, pthread_self()) != 0 } ?? false
        state.withLock { $0.answers.append(Answer(result: result, inline: inline, onCallingThread: same)) }
        delivered.increment()
    }

    func later(onInterrupt: @escaping @Sendable () -> Void) {
        let interruptedAlready = state.withLock { state -> Bool in
            state.answeredLater = true
            if state.interrupted { return true }
            state.onInterrupt = Hook(call: onInterrupt)
            return false
        }
        if interruptedAlready { onInterrupt() }
    }

    func interrupt() {
        state.withLock { state in
            state.interrupted = true
            return state.onInterrupt.take()
        }?.call()
    }
}

/// The `Reply` of a `ProbeRequest`.
struct ProbeReply<Value: Sendable>: Reply, ~Copyable {
    private let request: Unmanaged<ProbeRequest<Value>>

    init(_ request: ProbeRequest<Value>) { self.request = .passRetained(request) }

    consuming func send(_ result: Result<Value, Errno>) {
        let request = self.request.takeRetainedValue()
        discard self
        request.record(result, inline: true)
    }

    consuming func answerLater(onInterrupt: @escaping @Sendable () -> Void) -> LaterReply<Value> {
        let request = self.request.takeRetainedValue()
        discard self
        request.later(onInterrupt: onInterrupt)
        return LaterReply { request.record($0, inline: false) }
    }

    deinit {
        request.takeRetainedValue().record(.failure(.ioError), inline: true)
    }
}
