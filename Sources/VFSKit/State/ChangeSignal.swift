import Synchronization

/// An event counter that pollers watch: `signal()` after the state behind a file changes.
///
/// Call `signal()` outside your own locks: observers run synchronously and may read your state.
public final class ChangeSignal: Sendable {
    private struct State {
        var count: UInt64 = 0
        var nextObserverID: UInt64 = 0
        var observers: [UInt64: @Sendable () -> Void] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// How many times the signal has fired.
    public var count: UInt64 { state.withLock { $0.count } }

    /// How many watch it now: registered pollers and writes parked until a condition holds.
    public var observerCount: Int { state.withLock { $0.observers.count } }

    /// Records one change and wakes every observer.
    public func signal() {
        let observers = state.withLock { state -> [@Sendable () -> Void] in
            state.count &+= 1
            return state.observers.isEmpty ? [] : Array(state.observers.values)
        }
        for observer in observers { observer() }
    }

    /// Calls `observer` after every future `signal()` until `removeObserver` is called.
    func addObserver(_ observer: @escaping @Sendable () -> Void) -> UInt64 {
        state.withLock { state in
            let id = state.nextObserverID
            state.nextObserverID += 1
            state.observers[id] = observer
            return id
        }
    }

    func removeObserver(_ id: UInt64) {
        _ = state.withLock { $0.observers.removeValue(forKey: id) }
    }
}
