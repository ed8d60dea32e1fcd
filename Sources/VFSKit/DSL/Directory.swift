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
