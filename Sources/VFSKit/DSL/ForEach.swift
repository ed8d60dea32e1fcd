import SystemPackage

/// One directory per live entry of a `DynamicEntries`, named by its key, in insertion order.
///
/// ```swift
/// ForEach(children, "one entry per live child UUID, in creation order") { child in
///     File("snapshot", "…").read("snapshot UUID") { _ in try child.value.snapshot }
/// }
/// ```
/// Lookup parses the name as `Key` and finds it in O(1); a name that does not parse,
/// or is not live, is `ENOENT`. Content is built once per entry, on first use.
public struct ForEach<Key: PathKey, Value: Sendable>: NodeConvertible {
    private let source: DynamicEntriesSource<Key, Value>

    /// - Parameters:
    ///   - summary: what the listing shows, for the spec table.
    ///   - entrySummary: one line describing each entry's directory.
    public init(
        _ entries: DynamicEntries<Key, Value>, _ summary: String, entrySummary: String = "",
        permissions: UInt16 = 0o555,
        @NodeBuilder content: @escaping @Sendable (DynamicEntry<Key, Value>) -> [Node]
    ) {
        source = DynamicEntriesSource(
            entries: entries, summary: summary, entrySummary: entrySummary,
            permissions: permissions, content: content)
    }

    public var nodes: [Node] {
        [Node(name: Key.placeholder, kind: .dynamic(source), summary: source.summary, permissions: nil, owner: nil)]
    }
}

/// The entry a `ForEach` directory stands for, as its handlers see it.
public struct DynamicEntry<Key: PathKey, Value: Sendable>: Sendable {
    public let key: Key
    private let storedValue: Value?
    let token: EntryToken?

    init(key: Key, value: Value?, token: EntryToken?) {
        self.key = key
        storedValue = value
        self.token = token
    }

    /// The entry's value; `ESTALE` once the entry has been removed.
    public var value: Value {
        get throws(Errno) {
            guard let storedValue, token?.isLive ?? false else { throw .staleNFSFileHandle }
            return storedValue
        }
    }
}

/// A dynamic set of directories, type-erased for the tree.
protocol DynamicSource: Sendable {
    var summary: String { get }
    var entrySummary: String { get }
    var permissions: UInt16 { get }
    var placeholder: String { get }
    /// The live entry called `name`, in O(1).
    func resolve(_ name: String) -> ResolvedEntry?
    /// Up to `limit` listable live entries whose serial is greater than `serial`, in order.
    func list(after serial: UInt64, limit: Int) -> DynamicListing
    /// The content declared for an example entry, for the spec table and validation.
    func exampleContent() -> [Node]
}

/// A live entry of a dynamic directory, ready to become a node.
struct ResolvedEntry: Sendable {
    let token: EntryToken
    let serial: UInt64
    let content: @Sendable () -> [Node]
}

struct DynamicEntriesSource<Key: PathKey, Value: Sendable>: DynamicSource {
    let entries: DynamicEntries<Key, Value>
    let summary: String
    let entrySummary: String
    let permissions: UInt16
    let content: @Sendable (DynamicEntry<Key, Value>) -> [Node]

    var placeholder: String { Key.placeholder }

    func resolve(_ name: String) -> ResolvedEntry? {
        guard let key = Key(pathName: name), key.pathName == name,
            let entry = entries.entry(for: key)
        else { return nil }
        let handle = DynamicEntry(key: key, value: entry.value, token: entry.token)
        let content = content
        return ResolvedEntry(token: entry.token, serial: entry.serial) { content(handle) }
    }

    func list(after serial: UInt64, limit: Int) -> DynamicListing {
        entries.listing(after: serial, limit: limit)
    }

    func exampleContent() -> [Node] {
        content(DynamicEntry(key: Key.example, value: nil, token: nil))
    }
}
