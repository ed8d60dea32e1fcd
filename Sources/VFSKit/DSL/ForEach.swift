import SystemPackage

/// One entry per live entry of a `DynamicEntries`, named by its key, in insertion order:
/// a directory with declared content, or a single file or link.
///
/// ```swift
/// ForEach(children, "one entry per live child UUID, in creation order") { child in
///     File("snapshot", "…").read("snapshot UUID") { _ in try child.value.snapshot }
/// }
/// ForEach(exported, "one directory per exported line", named: "gpio<N>") { line in … }   // gpio17
/// ForEach(each: counters, "one file per counter") { counter in
///     File("", "a counter").read("its value") { _ in try counter.value.count }
/// }
/// ```
/// Lookup parses the name as `Key` (after the pattern's prefix and suffix) and finds it in
/// O(1); a name that does not parse back to itself, or is not live, is `ENOENT`. Content is
/// built once per entry, on first use.
public struct ForEach<Key: PathKey, Value: Sendable>: NodeConvertible {
    private let source: DynamicEntriesSource<Key, Value>

    /// One directory per entry.
    /// - Parameters:
    ///   - entries: the live entries.
    ///   - summary: what the listing shows, for the spec table.
    ///   - pattern: the entries' names, a pattern with one `<…>` where the key goes
    ///     (`"gpio<N>"`, `"pwm<n>"`); by default the key's own name.
    ///   - entrySummary: one line describing each entry's directory.
    ///   - permissions: the entries' mode; by default the profile's directory mode.
    ///   - content: each entry's directory content.
    public init(
        _ entries: DynamicEntries<Key, Value>, _ summary: String, named pattern: String? = nil,
        entrySummary: String = "", permissions: UInt16? = nil,
        @NodeBuilder content: @escaping @Sendable (DynamicEntry<Key, Value>) -> [Node]
    ) {
        source = DynamicEntriesSource(
            entries: entries, summary: summary, pattern: NamePattern(pattern, key: Key.self), entryProblem: nil
        ) { name, entry in
            Node(
                name: name, kind: .directory(DirectoryContent(deferred: { content(entry) })), summary: entrySummary,
                permissions: permissions, owner: nil)
        }
    }

    /// One file (or link) per entry: `entry` declares it; its own name is replaced by the key's.
    public init(
        each entries: DynamicEntries<Key, Value>, _ summary: String, named pattern: String? = nil,
        entry: @escaping @Sendable (DynamicEntry<Key, Value>) -> any NodeConvertible
    ) {
        let example = entry(DynamicEntry(key: Key.example, value: nil, token: nil)).nodes
        let problem =
            example.count == 1 && !example[0].isDirectory
            ? nil : "a ForEach entry must declare exactly one file or link"
        source = DynamicEntriesSource(
            entries: entries, summary: summary, pattern: NamePattern(pattern, key: Key.self), entryProblem: problem
        ) { name, handle in
            (entry(handle).nodes.first ?? File(name, "").nodes[0]).renamed(name)
        }
    }

    public var nodes: [Node] {
        [Node(name: source.placeholder, kind: .dynamic(source), summary: source.summary, permissions: nil, owner: nil)]
    }
}

/// The entry a `ForEach` entry stands for, as its handlers see it.
public struct DynamicEntry<Key: PathKey, Value: Sendable>: Sendable {
    public let key: Key
    private let storedValue: Value?
    let token: EntryToken?

    init(key: Key, value: Value?, token: EntryToken?) {
        self.key = key
        storedValue = value
        self.token = token
    }

    /// The entry's value; `ESTALE` once the entry has been removed (answered as the tree's
    /// profile says: ``TreeProfile/removedEntryErrno``).
    public var value: Value {
        get throws(Errno) {
            guard let storedValue, token?.isLive ?? false else { throw .staleNFSFileHandle }
            return storedValue
        }
    }
}

/// The names of a `ForEach`'s entries: the key's name between a fixed prefix and suffix.
struct NamePattern: Sendable {
    let prefix: String
    let suffix: String
    /// The pattern as written (`gpio<N>`), or the key's placeholder.
    let placeholder: String
    /// Why the pattern is malformed, for the validator.
    let problem: String?

    init<Key: PathKey>(_ pattern: String?, key: Key.Type) {
        guard let pattern else {
            (prefix, suffix, placeholder, problem) = ("", "", Key.placeholder, nil)
            return
        }
        placeholder = pattern
        if let open = pattern.firstIndex(of: "<"), let close = pattern[open...].firstIndex(of: ">"),
            !pattern[pattern.index(after: close)...].contains("<")
        {
            prefix = String(pattern[..<open])
            suffix = String(pattern[pattern.index(after: close)...])
            problem = nil
        } else {
            (prefix, suffix) = ("", "")
            problem = "the name pattern \"\(pattern)\" needs exactly one <placeholder>"
        }
    }

    var isPlain: Bool { prefix.isEmpty && suffix.isEmpty }

    func name(_ keyName: String) -> String { isPlain ? keyName : prefix + keyName + suffix }

    /// The key's part of `name`, nil when the prefix or suffix is missing.
    func keyName(_ name: String) -> Substring? {
        guard !isPlain else { return name[...] }
        guard name.count > prefix.count + suffix.count, name.hasPrefix(prefix), name.hasSuffix(suffix) else { return nil }
        return name.dropFirst(prefix.count).dropLast(suffix.count)
    }
}

/// A dynamic set of entries, type-erased for the tree.
protocol DynamicSource: Sendable {
    var summary: String { get }
    /// The entries' names as the spec table shows them: `<uuid>`, `gpio<N>`.
    var placeholder: String { get }
    /// A malformed declaration, for the validator.
    var problem: String? { get }
    /// The live entry called `name`, in O(1).
    func resolve(_ name: String) -> ResolvedEntry?
    /// Up to `limit` listable live entries whose serial is greater than `serial`, in order.
    func list(after serial: UInt64, limit: Int) -> DynamicListing
    /// The node declared for an example entry, for the spec table and validation.
    func exampleNode() -> Node
}

extension DynamicSource {
    /// The content declared for an example entry's directory (none for file entries).
    func exampleContent() -> [Node] {
        if case .directory(let content) = exampleNode().kind { return content.children }
        return []
    }
}

/// A live entry of a dynamic directory, ready to become a node.
struct ResolvedEntry: Sendable {
    let token: EntryToken
    let serial: UInt64
    /// The entry's node, named as looked up.
    let node: @Sendable () -> Node
}

struct DynamicEntriesSource<Key: PathKey, Value: Sendable>: DynamicSource {
    let entries: DynamicEntries<Key, Value>
    let summary: String
    let pattern: NamePattern
    var entryProblem: String?
    let makeNode: @Sendable (String, DynamicEntry<Key, Value>) -> Node

    var placeholder: String { pattern.placeholder }
    var problem: String? { pattern.problem ?? entryProblem }

    func resolve(_ name: String) -> ResolvedEntry? {
        guard let keyName = pattern.keyName(name), let key = Key(pathName: String(keyName)), key.pathName == keyName,
            let entry = entries.entry(for: key)
        else { return nil }
        let handle = DynamicEntry(key: key, value: entry.value, token: entry.token)
        let makeNode = makeNode
        return ResolvedEntry(token: entry.token, serial: entry.serial) { makeNode(name, handle) }
    }

    func list(after serial: UInt64, limit: Int) -> DynamicListing {
        var listing = entries.listing(after: serial, limit: limit)
        if !pattern.isPlain {
            for index in listing.entries.indices { listing.entries[index].name = pattern.name(listing.entries[index].name) }
        }
        return listing
    }

    func exampleNode() -> Node {
        makeNode(placeholder, DynamicEntry(key: Key.example, value: nil, token: nil))
    }
}
