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

    /// The permission bits served: the declared ones, else the kind's default (a file
    /// 0o444 when readable plus 0o222 when writable, a directory 0o555, a `ForEach`'s entries
    /// what it declares). The one place defaults are worked out.
    var effectivePermissions: UInt16 {
        if let permissions { return permissions }
        switch kind {
        case .file(let behavior): return (behavior.reader != nil ? 0o444 : 0) | (behavior.writer != nil ? 0o222 : 0)
        case .directory: return 0o555
        case .dynamic(let source): return source.permissions
        }
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
