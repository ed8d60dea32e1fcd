/// A read-only view of a tree's declarations, for tools that check or document a tree
/// (the conformance suite, spec generators).
public struct Declaration: Sendable {
    public enum Kind: Sendable, Equatable {
        case file
        case directory
        /// The entries of a `ForEach`: each live entry is a directory named by its key.
        case dynamic(placeholder: String)
    }

    /// The entry's name (the placeholder, such as `<uuid>`, for dynamic entries).
    public let name: String
    public let kind: Kind
    public let permissions: UInt16
    /// An owner override; nil means the tree's default owner.
    public let owner: Owner?
    public let summary: String
    public let isReadable: Bool
    public let isWritable: Bool
    public let isPollable: Bool
    /// When a pollable file reports ready (nil for files without declared readiness).
    public let readiness: DeclaredReadiness?
    /// The longest accepted write, for writable files.
    public let writeLimit: Int
    /// Children of directories (for dynamic entries: the content of each entry).
    public let children: [Declaration]

    init(_ node: Node) {
        name = node.name
        summary = node.summary
        owner = node.owner
        permissions = node.effectivePermissions
        switch node.kind {
        case .file(let behavior):
            kind = .file
            isReadable = behavior.reader != nil
            isWritable = behavior.writer != nil
            isPollable = behavior.poll != nil
            readiness = behavior.poll.map { poll in
                switch poll.readiness.kind {
                case .changes: .changes
                case .readable: .readableWhileConditionHolds
                }
            }
            writeLimit = behavior.writeLimit
            children = []
        case .directory(let content):
            kind = .directory
            (isReadable, isWritable, isPollable, writeLimit, readiness) = (true, false, false, 0, nil)
            children = content.children.map(Declaration.init)
        case .dynamic(let source):
            kind = .dynamic(placeholder: source.placeholder)
            (isReadable, isWritable, isPollable, writeLimit, readiness) = (true, false, false, 0, nil)
            children = source.exampleContent().map(Declaration.init)
        }
    }
}

/// The declared readiness of a pollable file, as `Readiness` states it.
public enum DeclaredReadiness: Sendable, Equatable {
    /// `.changes`: `POLLPRI|POLLIN` once the signal fired since the open file last read at
    /// offset 0; a fresh open is not ready.
    case changes
    /// `.readable`: `POLLIN` while the condition holds.
    case readableWhileConditionHolds
}

extension Tree {
    /// The root directory's declaration.
    public var declaration: Declaration { Declaration(root) }
}
