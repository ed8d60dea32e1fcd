/// The root of a control filesystem: its top-level nodes.
public struct Tree: Sendable, NodeConvertible {
    public let summary: String
    let content: [Node]

    public init(_ summary: String = "", @NodeBuilder content: () -> [Node]) {
        self.summary = summary
        self.content = content()
    }

    /// The top-level nodes, to embed this tree inside another one's directory.
    public var nodes: [Node] { content }

    var root: Node {
        Node(name: "", kind: .directory(DirectoryContent(content)), summary: summary, permissions: 0o555, owner: nil)
    }
}
