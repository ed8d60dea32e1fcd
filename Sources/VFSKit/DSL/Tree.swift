/// The root of a control filesystem: its top-level nodes, and the profile that sets the
/// choices made for every file (``TreeProfile``).
public struct Tree: Sendable, NodeConvertible {
    public let summary: String
    /// The choices made for every file: modes, text rule, errnos, poll events.
    public let profile: TreeProfile
    let content: [Node]

    public init(_ summary: String = "", profile: TreeProfile = .standard, @NodeBuilder content: () -> [Node]) {
        self.summary = summary
        self.profile = profile
        self.content = content()
    }

    /// The top-level nodes, to embed this tree inside another one's directory.
    public var nodes: [Node] { content }

    var root: Node {
        Node(name: "", kind: .directory(DirectoryContent(content)), summary: summary, permissions: nil, owner: nil)
    }
}
