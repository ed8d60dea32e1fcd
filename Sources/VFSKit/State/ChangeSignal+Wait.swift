import Synchronization
public import SystemPackage

extension ChangeSignal {
    /// Suspends until `condition` holds, re-evaluated after each `signal()`; returns at once
    /// if it holds already. A condition that throws ends the wait with its error; cancelling
    /// the waiting task throws `EINTR`. Any number of tasks may wait; each costs one observer.
    public func wait(until condition: @escaping @Sendable () throws(Errno) -> Bool) async throws(Errno) {
        let waiter = SignalWaiter(condition)
        let observer = addObserver { waiter.evaluate() }
        defer { removeObserver(observer) }
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { waiter.start($0) }
        } onCancel: {
            waiter.finish(.failure(.interrupted))
        }
        try result.get()
    }
}

/// One task waiting on a signal: resumed exactly once, when the condition holds or throws,
/// or when the task is cancelled.
private final class SignalWaiter: Sendable {
    private struct State {
        var continuation: CheckedContinuation<Result<Void, Errno>, Never>?
        var result: Result<Void, Errno>?
    }

    private let condition: @Sendable () throws(Errno) -> Bool
    private let state = Mutex(State())

    init(_ condition: @escaping @Sendable () throws(Errno) -> Bool) { self.condition = condition }

    /// Takes the continuation (resumed at once if the wait already ended), then looks once:
    /// the observer was registered before, so no signal in between is lost.
    func start(_ continuation: CheckedContinuation<Result<Void, Errno>, Never>) {
        let ended = state.withLock { state -> Result<Void, Errno>? in
            if state.result == nil { state.continuation = continuation }
            return state.result
        }
        if let ended { return continuation.resume(returning: ended) }
        evaluate()
    }

    func evaluate() {
        do throws(Errno) {
            if try condition() { finish(.success(())) }
        } catch {
            finish(.failure(error))
        }
    }

    func finish(_ result: Result<Void, Errno>) {
        let continuation = state.withLock { state -> CheckedContinuation<Result<Void, Errno>, Never>? in
            guard state.result == nil else { return nil }
            state.result = result
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume(returning: result)
    }
}
