import Synchronization

/// A directory with declared contents.
public struct Directory: NodeConvertible {
    private let node: Node

    /// - Parameters:
    ///   - name: the entry's name.
    ///   - permissions: permission bits; by default the profile's directory mode (0o555; sysfs 0o755).
    ///   - owner: the owner, when not the tree's.
    ///   - summary: one line for the spec table.
    ///   - content: the directory's entries.
    public init(
        _ name: String, permissions: UInt16? = nil, owner: Owner? = nil, _ summary: String,
        @NodeBuilder content: () -> [Node]
    ) {
        node = Node(
            name: name, kind: .directory(DirectoryContent(content())), summary: summary,
            permissions: permissions, owner: owner)
    }

    /// A directory whose content is declared on first use (a lookup or a listing in it, or
    /// the spec table), once: for content that costs something to declare, such as the tree
    /// of an object made on demand. Parameters as for `init`.
    public static func deferred(
        _ name: String, permissions: UInt16? = nil, owner: Owner? = nil, _ summary: String,
        @NodeBuilder content: @escaping @Sendable () -> [Node]
    ) -> Directory {
        Directory(
            node: Node(
                name: name, kind: .directory(DirectoryContent(deferred: content)), summary: summary,
                permissions: permissions, owner: owner))
    }

    private init(node: Node) {
        self.node = node
    }

    public var nodes: [Node] { [node] }
}

/// The children of a directory, built at once (declared directories) or on first use
/// (the per-entry directories of a `ForEach`).
final class DirectoryContent: Sendable {
    private let build: @Sendable () -> [Node]
    private let built: Mutex<[Node]?>

    init(_ nodes: [Node]) {
        build = { nodes }
        built = Mutex(nodes)
    }

    init(deferred build: @escaping @Sendable () -> [Node]) {
        self.build = build
        built = Mutex(nil)
    }

    var children: [Node] {
        if let nodes = built.withLock({ $0 }) { return nodes }
        let nodes = build()
        return built.withLock { built in
            if let existing = built { return existing }
            built = nodes
            return nodes
        }
    }
}
