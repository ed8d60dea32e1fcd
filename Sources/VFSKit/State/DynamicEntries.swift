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
        /// Names and serials in the same order as `entries`, rendered once at insertion:
        /// `ls` walks this concrete array (no key rendering, no generic copies).
        var listing: ContiguousArray<ListedEntry> = []
        var nextSerial: UInt64 = 1

        mutating func remove(_ key: Key) -> Entry? {
            guard let index = entries.index(forKey: key) else { return nil }
            listing.remove(at: index)
            return entries.remove(at: index).value
        }
    }

    private let state = Mutex(State())

    public init() {}

    /// Adds an entry at the end (replacing, and so invalidating, an entry of the same key).
    public func insert(_ value: Value, for key: Key) {
        let name = key.pathName
        let listed = TreeValidator.isValidName(name) ? name : nil
        let replaced = state.withLock { state -> Entry? in
            let entry = Entry(value: value, token: EntryToken(parent: nil), serial: state.nextSerial)
            state.nextSerial += 1
            let old = state.remove(key)
            state.entries[key] = entry
            state.listing.append(ListedEntry(name: listed, serial: entry.serial))
            return old
        }
        replaced?.token.kill()
    }

    /// Removes an entry; handles opened under it answer `ESTALE` from now on.
    @discardableResult
    public func remove(_ key: Key) -> Value? {
        let removed = state.withLock { $0.remove(key) }
        removed?.token.kill()
        return removed?.value
    }

    /// Removes every entry.
    public func removeAll() {
        let removed = state.withLock { state in
            defer {
                state.entries.removeAll()
                state.listing.removeAll()
            }
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

    /// Up to `limit` listable entries whose serial is greater than `serial`, in order.
    func listing(after serial: UInt64, limit: Int) -> DynamicListing {
        state.withLock { state in state.listing.listing(after: serial, limit: limit) }
    }
}

/// One entry of a dynamic directory's listing: its file name (nil when the key renders to
/// no valid file name: such an entry cannot be looked up, so it is not listed) and serial.
struct ListedEntry: Sendable {
    let name: String?
    let serial: UInt64
}

/// A stretch of a dynamic directory's listing.
struct DynamicListing: Sendable {
    /// File names and serials (the cookies), in order.
    var entries: [(name: String, serial: UInt64)] = []
    /// The serial to continue after; nil once the end was reached.
    var resumeAfter: UInt64?
}

extension ContiguousArray<ListedEntry> {
    /// Up to `limit` named entries after `serial` (entries are in increasing serial order).
    func listing(after serial: UInt64, limit: Int) -> DynamicListing {
        var low = 0
        var high = count
        while low < high {
            let mid = (low + high) / 2
            if self[mid].serial <= serial { low = mid + 1 } else { high = mid }
        }
        var result = DynamicListing()
        result.entries.reserveCapacity(Swift.min(Swift.max(0, limit), count - low))
        var index = low
        while result.entries.count < limit, index < count {
            if let name = self[index].name { result.entries.append((name, self[index].serial)) }
            index += 1
        }
        result.resumeAfter = index < count ? (index > low ? self[index - 1].serial : serial) : nil
        return result
    }
}
