import Dispatch
import Synchronization

/// An event counter that pollers watch: `signal()` after the state behind a file changes.
///
/// Call `signal()` outside your own locks: observers run synchronously and may read your state.
/// Many observers (writers parked on one file, each waiting for its condition) are
/// evaluated on several threads at once, so that as many answers go out in parallel.
public final class ChangeSignal: Sendable {
    /// Boxed: a closure stored directly in a `Mutex`'s value is re-abstracted on each access.
    private struct Observer: Sendable {
        /// Returns whether it keeps watching; one that returns false is removed.
        let call: @Sendable () -> Bool
    }

    private struct State {
        var count: UInt64 = 0
        var nextObserverID: UInt64 = 0
        var observers: [UInt64: Observer] = [:]
    }

    /// From how many observers on `signal()` is spread over several threads.
    static let parallelThreshold = 128
    /// How many threads at most.
    static let parallelism = min(4, System.processorCount)

    private let state = Mutex(State())

    public init() {}

    /// How many times the signal has fired.
    public var count: UInt64 { state.withLock { $0.count } }

    /// How many watch it now: registered pollers and writes parked until a condition holds.
    public var observerCount: Int { state.withLock { $0.observers.count } }

    /// Records one change and wakes every observer.
    public func signal() {
        let observers = state.withLock { state -> [(id: UInt64, observer: Observer)] in
            state.count &+= 1
            return state.observers.isEmpty ? [] : state.observers.map { ($0.key, $0.value) }
        }
        guard !observers.isEmpty else { return }
        var finished: [UInt64] = []
        if observers.count < Self.parallelThreshold || Self.parallelism < 2 {
            for (id, observer) in observers where !observer.call() { finished.append(id) }
        } else {
            let done = Mutex<[UInt64]>([])
            let workers = Self.parallelism
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                var mine: [UInt64] = []
                for index in stride(from: worker, to: observers.count, by: workers) where !observers[index].observer.call() {
                    mine.append(observers[index].id)
                }
                done.withLock { $0.append(contentsOf: mine) }
            }
            finished = done.withLock { $0 }
        }
        guard !finished.isEmpty else { return }
        state.withLock { state in
            for id in finished { state.observers.removeValue(forKey: id) }
            state.observers.shrinkIfSparse()
        }
    }

    /// Calls `observer` after every future `signal()` until `removeObserver` is called.
    func addObserver(_ observer: @escaping @Sendable () -> Void) -> UInt64 {
        addWatcher {
            observer()
            return true
        }
    }

    /// Calls `watcher` after every future `signal()` until it returns false (or
    /// `removeObserver` is called): one lock for all the watchers a signal ends.
    func addWatcher(_ watcher: @escaping @Sendable () -> Bool) -> UInt64 {
        state.withLock { state in
            let id = state.nextObserverID
            state.nextObserverID += 1
            state.observers[id] = Observer(call: watcher)
            return id
        }
    }

    func removeObserver(_ id: UInt64) {
        _ = state.withLock { $0.observers.removeValue(forKey: id) }
    }
}
