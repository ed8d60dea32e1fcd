import Collections
import Synchronization

/// The live entries of a dynamic directory, in insertion order, with O(1) lookup by key.
///
/// The application owns it and keeps its records here (one source of truth); a `ForEach`
/// in the tree lists and resolves it. Removing an entry makes every handle opened under
/// it answer `ESTALE`.
public final class DynamicEntries<Key: PathKey, Value: Sendable>: Sendable {
    struct Entry: Sendable {
        let value: Value
        let token: EntryToken
        /// Increases with each insertion: the listing order and the readdir cookie.
        let serial: UInt64
    }

    private struct State {
        var entries: OrderedDictionary<Key, Entry> = [:]
        var nextSerial: UInt64 = 1
    }

    private let state = Mutex(State())

    public init() {}

    /// Adds an entry at the end (replacing, and so invalidating, an entry of the same key).
    public func insert(_ value: Value, for key: Key) {
        let replaced = state.withLock { state -> Entry? in
            let entry = Entry(value: value, token: EntryToken(parent: nil), serial: state.nextSerial)
            state.nextSerial += 1
            let old = state.entries.removeValue(forKey: key)
            state.entries[key] = entry
            return old
        }
        replaced?.token.kill()
    }

    /// Removes an entry; handles opened under it answer `ESTALE` from now on.
    @discardableResult
    public func remove(_ key: Key) -> Value? {
        let removed = state.withLock { $0.entries.removeValue(forKey: key) }
        removed?.token.kill()
        return removed?.value
    }

    /// Removes every entry.
    public func removeAll() {
        let removed = state.withLock { state in
            defer { state.entries.removeAll() }
            return state.entries.values.elements
        }
        for entry in removed { entry.token.kill() }
    }

    /// The value for a live key.
    public subscript(key: Key) -> Value? {
        state.withLock { $0.entries[key]?.value }
    }

    /// The live keys in insertion order.
    public var keys: [Key] { state.withLock { Array($0.entries.keys) } }

    /// The live values in insertion order.
    public var values: [Value] { state.withLock { $0.entries.values.map(\.value) } }

    public var count: Int { state.withLock { $0.entries.count } }

    func entry(for key: Key) -> Entry? {
        state.withLock { $0.entries[key] }
    }

    /// Up to `limit` entries whose serial is greater than `serial`, in order.
    func entries(after serial: UInt64, limit: Int) -> [(key: Key, entry: Entry)] {
        state.withLock { state in
            let values = state.entries.values
            var low = 0
            var high = values.count
            while low < high {
                let mid = (low + high) / 2
                if values[mid].serial <= serial { low = mid + 1 } else { high = mid }
            }
            let end = low + min(max(0, limit), values.count - low)
            return (low..<end).map { (state.entries.keys[$0], values[$0]) }
        }
    }
}
