/// One declared entry of a control filesystem: a file, a directory, or a dynamic set of directories.
///
/// Build nodes with `File`, `Directory` and `ForEach` inside a `@NodeBuilder` block.
public struct Node: Sendable {
    enum Kind: Sendable {
        case file(FileBehavior)
        case directory(DirectoryContent)
        case dynamic(any DynamicSource)
    }

    let name: String
    let kind: Kind
    let summary: String
    /// Permission bits (e.g. 0o444); the kind's default when nil.
    let permissions: UInt16?
    let owner: Owner?

    var isDirectory: Bool {
        if case .file = kind { return false }
        return true
    }
}

/// An owner that overrides the tree's default uid/gid for one node.
public struct Owner: Sendable, Equatable {
    public var uid: UInt32
    public var gid: UInt32
    public init(uid: UInt32, gid: UInt32) {
        self.uid = uid
        self.gid = gid
    }
}

/// Anything that contributes nodes to a `@NodeBuilder` block.
public protocol NodeConvertible: Sendable {
    var nodes: [Node] { get }
}

extension Node: NodeConvertible {
    public var nodes: [Node] { [self] }
}
