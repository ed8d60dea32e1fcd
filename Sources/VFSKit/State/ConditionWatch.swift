import Synchronization
import SystemPackage

/// Waits, without a task or a thread, for a condition that a `ChangeSignal` announces, and
/// ends exactly once: when the condition holds (success) or throws (its error), when the
/// watched dynamic entry is removed (`ESTALE`), or when `cancel(_:)` is called.
///
/// The one once-only waiter of VFSKit: parked writes and `ChangeSignal.wait(until:)` use it.
final class ConditionWatch: Sendable {
    /// Boxed: a closure stored directly as a `Mutex`'s value is re-abstracted on each access.
    private struct Completion: Sendable {
        let call: @Sendable (Result<Void, Errno>) -> Void
    }

    private struct State {
        var result: Result<Void, Errno>?
        var completion: Completion?
        var observer: UInt64?
        var deathHandler: UInt64?
    }

    private let signal: ChangeSignal
    private let holds: @Sendable () throws(Errno) -> Bool
    /// The liveness of the dynamic entry the wait is under, if any.
    private let entry: EntryToken?
    private let state = Mutex(State())

    init(signal: ChangeSignal, entry: EntryToken? = nil, holds: @escaping @Sendable () throws(Errno) -> Bool) {
        self.signal = signal
        self.entry = entry
        self.holds = holds
    }

    /// Starts watching; `completion` runs once, on the thread that ends the wait (at once,
    /// on this thread, when the condition already holds or the wait was cancelled).
    func start(_ completion: @escaping @Sendable (Result<Void, Errno>) -> Void) {
        let ended = state.withLock { state -> Result<Void, Errno>? in
            if state.result == nil { state.completion = Completion(call: completion) }
            return state.result
        }
        if let ended { return completion(ended) }
        // Watch first, then look: a change between the two is not lost. The signal stops
        // calling (and forgets) the watcher once it answers that the wait is over.
        let observer = signal.addWatcher { [self] in !evaluate(signalled: true) }
        let deathHandler = entry?.onDeath { [self] in finish(.failure(.staleNFSFileHandle)) }
        let alreadyEnded = state.withLock { state -> Bool in
            state.observer = observer
            state.deathHandler = deathHandler
            return state.result != nil
        }
        if alreadyEnded {
            unwatch(observer, deathHandler)
            return
        }
        evaluate()
    }

    /// Ends the wait with `error` (an interrupt: `EINTR`) unless it ended already.
    func cancel(_ error: Errno) {
        finish(.failure(error))
    }

    /// Re-evaluates the condition: ends the wait when it holds or throws. Returns whether
    /// the wait is over (`signalled`: the signal itself forgets the watcher then).
    @discardableResult
    private func evaluate(signalled: Bool = false) -> Bool {
        do throws(Errno) {
            guard try holds() else { return state.withLock { $0.result != nil } }
            finish(.success(()), signalled: signalled)
        } catch {
            finish(.failure(error), signalled: signalled)
        }
        return true
    }

    private func finish(_ result: Result<Void, Errno>, signalled: Bool = false) {
        let ended = state.withLock { state -> (Completion?, UInt64?, UInt64?)? in
            guard state.result == nil else { return nil }
            state.result = result
            defer { (state.completion, state.observer, state.deathHandler) = (nil, nil, nil) }
            return (state.completion, state.observer, state.deathHandler)
        }
        guard let (completion, observer, deathHandler) = ended else { return }
        unwatch(signalled ? nil : observer, deathHandler)
        completion?.call(result)
    }

    private func unwatch(_ observer: UInt64?, _ deathHandler: UInt64?) {
        if let observer { signal.removeObserver(observer) }
        if let deathHandler { entry?.removeDeathHandler(deathHandler) }
    }
}
