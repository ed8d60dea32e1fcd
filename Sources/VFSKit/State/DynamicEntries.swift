import Synchronization

/// The live entries of a dynamic directory, in insertion order, with O(1) lookup by key.
///
/// The application owns it and keeps its records here (one source of truth); a `ForEach`
/// in the tree lists and resolves it. Removing an entry makes every handle opened under
/// it answer `ESTALE`. Insertion, lookup and removal are O(1) (amortized): removals leave
/// holes in the order that are swept out once they make up half of it.
public final class DynamicEntries<Key: PathKey, Value: Sendable>: Sendable {
    struct Entry: Sendable {
        let value: Value
        let token: EntryToken
        /// Increases with each insertion: the listing order and the readdir cookie.
        let serial: UInt64
    }

    private struct State {
        var entries: [Key: Entry] = [:]
        /// Every insertion in order, holes included: what `ls` walks (names rendered at
        /// insertion: no key rendering, no generic code).
        var listing: ContiguousArray<ListedEntry> = []
        var holes = 0
        var nextSerial: UInt64 = 1

        mutating func insert(_ entry: Entry, for key: Key, name: String?) -> Entry? {
            let old = remove(key)
            entries[key] = entry
            listing.append(ListedEntry(name: name, serial: entry.serial))
            return old
        }

        mutating func remove(_ key: Key) -> Entry? {
            guard let entry = entries.removeValue(forKey: key) else { return nil }
            entries.shrinkIfSparse()
            let index = listing.position(of: entry.serial)
            listing[index] = ListedEntry(name: nil, serial: entry.serial, isHole: true)
            holes += 1
            if holes > 64, holes * 2 > listing.count { sweep() }
            return entry
        }

        /// Drops the holes (O(n), once per n/2 removals), and the room they took.
        mutating func sweep() {
            listing.removeAll { $0.isHole }
            listing.shrinkIfSparse()
            holes = 0
        }

        mutating func removeAll() -> [Entry] {
            defer { self = State(nextSerial: nextSerial) }
            return Array(entries.values)
        }

        /// Live entries in insertion order (O(n log n): for the rare whole-set views).
        var inOrder: [(key: Key, entry: Entry)] {
            entries.sorted { $0.value.serial < $1.value.serial }.map { ($0.key, $0.value) }
        }
    }

    private let state = Mutex(State())

    public init() {}

    /// Adds an entry at the end (replacing, and so invalidating, an entry of the same key).
    public func insert(_ value: Value, for key: Key) {
        let name = key.pathName
        let listed = FileName.isValid(name) ? name : nil
        let replaced = state.withLock { state -> Entry? in
            let entry = Entry(value: value, token: EntryToken(parent: nil), serial: state.nextSerial)
            state.nextSerial += 1
            return state.insert(entry, for: key, name: listed)
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
        let removed = state.withLock { $0.removeAll() }
        for entry in removed { entry.token.kill() }
    }

    /// The value for a live key.
    public subscript(key: Key) -> Value? {
        state.withLock { $0.entries[key]?.value }
    }

    /// The live keys in insertion order.
    public var keys: [Key] { state.withLock { $0.inOrder.map(\.key) } }

    /// The live values in insertion order.
    public var values: [Value] { state.withLock { $0.inOrder.map(\.entry.value) } }

    public var count: Int { state.withLock { $0.entries.count } }

    func entry(for key: Key) -> Entry? {
        state.withLock { $0.entries[key] }
    }

    /// Up to `limit` listable entries whose serial is greater than `serial`, in order.
    func listing(after serial: UInt64, limit: Int) -> DynamicListing {
        state.withLock { state in state.listing.listing(after: serial, limit: limit) }
    }
}

/// One insertion in a dynamic directory's order: its file name (nil when the key renders
/// to no valid file name: such an entry cannot be looked up, so it is not listed, or when
/// it was removed: a hole) and serial.
struct ListedEntry: Sendable {
    let name: String?
    let serial: UInt64
    var isHole = false
}

/// A stretch of a dynamic directory's listing.
struct DynamicListing: Sendable {
    /// File names and serials (the cookies), in order.
    var entries: [(name: String, serial: UInt64)] = []
    /// The serial to continue after; nil once the end was reached.
    var resumeAfter: UInt64?
}

extension ContiguousArray<ListedEntry> {
    /// The index of the first entry whose serial is at least `serial` (entries are in
    /// increasing serial order).
    func position(of serial: UInt64) -> Int {
        var low = 0
        var high = count
        while low < high {
            let mid = (low + high) / 2
            if self[mid].serial < serial { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// Up to `limit` named entries after `serial`.
    func listing(after serial: UInt64, limit: Int) -> DynamicListing {
        let start = position(of: serial &+ 1)
        var result = DynamicListing()
        result.entries.reserveCapacity(Swift.min(Swift.max(0, limit), count - start))
        var index = start
        while result.entries.count < limit, index < count {
            if let name = self[index].name { result.entries.append((name, self[index].serial)) }
            index += 1
        }
        result.resumeAfter = index < count ? (index > start ? self[index - 1].serial : serial) : nil
        return result
    }
}
