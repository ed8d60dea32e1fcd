import Synchronization
import SystemPackage

/// Where a handler running in `Task.immediate` leaves its result, for the thread that
/// started it (the handler finished without suspending: answer inline) or for the
/// `LaterReply` that thread then hands over (it suspended: answer when it finishes).
final class HandlerOutcome<Value: Sendable>: Sendable {
    private enum State {
        case running
        case finished(Result<Value, Errno>)
        case delivering(LaterReply<Value>)
        case taken
    }

    private let state = Mutex(State.running)

    /// The handler finished: answers through the later reply if there is one, else keeps the result.
    func finish(_ result: Result<Value, Errno>) {
        let later = state.withLock { state -> LaterReply<Value>? in
            switch state {
            case .running:
                state = .finished(result)
                return nil
            case .delivering(let later):
                state = .taken
                return later
            case .finished, .taken:
                return nil
            }
        }
        later?.send(result)
    }

    /// The result, if the handler already finished (taken: nothing else will answer).
    func takeEarlyResult() -> Result<Value, Errno>? {
        state.withLock { state in
            guard case .finished(let result) = state else { return nil }
            state = .taken
            return result
        }
    }

    /// The handler suspended: `later` answers once it finishes (now, if it already has).
    func deliver(to later: LaterReply<Value>) {
        let result = state.withLock { state -> Result<Value, Errno>? in
            switch state {
            case .running:
                state = .delivering(later)
                return nil
            case .finished(let result):
                state = .taken
                return result
            case .delivering, .taken:
                return nil
            }
        }
        if let result { later.send(result) }
    }
}
