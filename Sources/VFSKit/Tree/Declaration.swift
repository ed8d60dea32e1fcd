/// A read-only view of a tree's declarations, for tools that check or document a tree
/// (the conformance suite, spec generators). Modes, limits and poll events are as served:
/// the tree profile's defaults applied.
public struct Declaration: Sendable {
    public enum Kind: Sendable, Equatable {
        case file
        case directory
        /// A symbolic link; `target` is nil when it is computed from state.
        case link(target: String?)
        /// The entries of a `ForEach`: `entry` declares what each live entry is.
        case dynamic(placeholder: String)
    }

    /// The entry's name (the placeholder, such as `<uuid>` or `gpio<N>`, for dynamic entries).
    public let name: String
    public let kind: Kind
    public let permissions: UInt16
    /// An owner override; nil means the tree's default owner.
    public let owner: Owner?
    public let summary: String
    public let isReadable: Bool
    public let isWritable: Bool
    public let isPollable: Bool
    /// True for a node that exists only while a condition holds.
    public let isConditional: Bool
    /// The attribute changes (`chmod`, `chown`) the node accepts.
    public let changeableAttributes: ChangeableAttributes
    /// When a pollable file reports ready (nil for files without declared readiness).
    public let readiness: DeclaredReadiness?
    /// What `poll` reports when the file is ready, and when it is not (for a file without
    /// declared readiness, both are what it always reports).
    public let pollEvents: (ready: PollEvents, idle: PollEvents)
    /// The longest accepted write, for writable files.
    public let writeLimit: Int
    /// Children of directories (for dynamic entries: the content of each entry's directory).
    public let children: [Declaration]
    /// For dynamic entries: what each entry is (a directory with `children`, a file or a link).
    public let entry: [Declaration]

    init(_ node: Node, profile: TreeProfile) {
        name = node.name
        summary = node.summary
        owner = node.owner
        permissions = node.effectivePermissions(in: profile)
        isConditional = node.presence != nil
        changeableAttributes = node.changeableAttributes
        var entry: [Declaration] = []
        let always = profile.poll.always
        switch node.kind {
        case .file(let behavior):
            kind = .file
            isReadable = behavior.reader != nil
            isWritable = behavior.writer != nil
            isPollable = behavior.poll != nil
            let plain: PollEvents = always ?? (isReadable ? PollEvents.in : []).union(isWritable ? PollEvents.out : [])
            if let poll = behavior.poll {
                let base = always ?? []
                switch poll.readiness.kind {
                case .changes:
                    readiness = .changes
                    pollEvents = poll.readiness.events ?? (base.union(profile.poll.changed), base)
                case .readable:
                    readiness = .readableWhileConditionHolds
                    pollEvents = poll.readiness.events ?? (base.union(.in), base)
                }
            } else {
                readiness = nil
                pollEvents = (plain, plain)
            }
            writeLimit = behavior.writeLimit ?? profile.writeLimit
            children = []
        case .directory(let content):
            kind = .directory
            (isReadable, isWritable, isPollable, writeLimit, readiness, pollEvents) = (true, false, false, 0, nil, ([], []))
            children = content.children.map { Declaration($0, profile: profile) }
        case .link(let target):
            kind = .link(target: target.fixed)
            (isReadable, isWritable, isPollable, writeLimit, readiness, pollEvents) = (false, false, false, 0, nil, ([], []))
            children = []
        case .dynamic(let source):
            kind = .dynamic(placeholder: source.placeholder)
            (isReadable, isWritable, isPollable, writeLimit, readiness, pollEvents) = (true, false, false, 0, nil, ([], []))
            let example = Declaration(source.exampleNode(), profile: profile)
            children = example.children
            entry = [example]
        }
        self.entry = entry
    }

    /// For dynamic entries: true when each entry is a directory.
    public var entriesAreDirectories: Bool { entry.first?.kind == .directory }
}

/// The declared readiness of a pollable file, as `Readiness` states it.
public enum DeclaredReadiness: Sendable, Equatable {
    /// `.changes`: ready once the signal fired since the open file last read at offset 0;
    /// a fresh open is not ready.
    case changes
    /// `.readable`: ready while the condition holds.
    case readableWhileConditionHolds
}

extension Tree {
    /// The root directory's declaration.
    public var declaration: Declaration { Declaration(root, profile: profile) }
}
