/// One declared entry of a control filesystem: a file, a directory, a symbolic link, or a
/// dynamic set of entries.
///
/// Build nodes with `File`, `Directory`, `Link` and `ForEach` inside a `@NodeBuilder` block.
public struct Node: Sendable {
    enum Kind: Sendable {
        case file(FileBehavior)
        case directory(DirectoryContent)
        case dynamic(any DynamicSource)
        case link(LinkTarget)
    }

    private(set) var name: String
    let kind: Kind
    let summary: String
    /// Permission bits (e.g. 0o444); the profile's default for the kind when nil.
    let permissions: UInt16?
    let owner: Owner?
    /// Set for a node that exists only while a condition holds.
    var presence: Presence?
    /// Which of `chmod`/`chown` the node accepts (none by default: `EPERM`).
    var changeableAttributes: ChangeableAttributes = []

    init(name: String, kind: Kind, summary: String, permissions: UInt16? = nil, owner: Owner? = nil) {
        self.name = name
        self.kind = kind
        self.summary = summary
        self.permissions = permissions
        self.owner = owner
    }

    var isDirectory: Bool {
        switch kind {
        case .directory, .dynamic: true
        case .file, .link: false
        }
    }

    var isLink: Bool {
        if case .link = kind { return true }
        return false
    }

    /// The same node under another name (a `ForEach` entry takes its key's).
    func renamed(_ newName: String) -> Node {
        var node = self
        node.name = newName
        return node
    }

    /// The permission bits served: the declared ones, else the profile's default for the
    /// kind (a file by its handlers, a directory, a `ForEach`'s entries as declared); links
    /// are always 0o777. The one place defaults are worked out.
    func effectivePermissions(in profile: TreeProfile) -> UInt16 {
        if case .link = kind { return 0o777 }
        if let permissions { return permissions }
        switch kind {
        case .file(let behavior): return profile.fileMode(readable: behavior.reader != nil, writable: behavior.writer != nil)
        case .directory, .dynamic, .link: return profile.directoryMode
        }
    }

    /// The permissions under VFSKit's default profile.
    var effectivePermissions: UInt16 { effectivePermissions(in: .standard) }
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

/// Attribute changes a node accepts (``NodeConvertible/allowing(_:)``); every other change is `EPERM`.
public struct ChangeableAttributes: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// `chmod`: the permission bits (by the owner or root, as the kernel checks).
    public static let mode = ChangeableAttributes(rawValue: 1)
    /// `chown`/`chgrp` (by root, as the kernel checks).
    public static let owner = ChangeableAttributes(rawValue: 2)
}

/// Anything that contributes nodes to a `@NodeBuilder` block.
public protocol NodeConvertible: Sendable {
    var nodes: [Node] { get }
}

extension Node: NodeConvertible {
    public var nodes: [Node] { [self] }
}

extension NodeConvertible {
    /// The node exists only while `condition` holds: looking it up is `ENOENT` and listings
    /// leave it out otherwise, and handles opened on it answer the profile's
    /// ``TreeProfile/removedEntryErrno`` once it goes (a new open after it returns is fine).
    ///
    /// The condition must not read the request (`Condition(when: { … }, signalledBy: signal)`):
    /// its signal is how the tree learns that the node went or came.
    ///
    /// ```swift
    /// File("delay_on", "Blink on-time").read("ms") { _ in led.delayOn }
    ///     .present(while: Condition(when: { led.trigger == .timer }, signalledBy: led.triggerChanged))
    /// ```
    public func present(while condition: Condition) -> Node {
        var node = onlyNode
        node.presence = Presence(condition: condition)
        return node
    }

    /// The node accepts these attribute changes (`chmod`, `chown`), kept for the node's life
    /// (a dynamic entry's nodes start afresh when the entry is made again).
    public func allowing(_ changes: ChangeableAttributes) -> Node {
        var node = onlyNode
        node.changeableAttributes = changes
        return node
    }

    private var onlyNode: Node {
        let nodes = self.nodes
        precondition(nodes.count == 1, "present(while:) and allowing(_:) apply to one node")
        return nodes[0]
    }
}

/// When a conditional node exists: a request-free condition and the signal announcing changes.
struct Presence: Sendable {
    let condition: Condition

    /// True while the node exists; a throwing condition counts as absent.
    var holds: Bool {
        guard let holds = condition.stateHolds else { return false }
        return (try? holds()) ?? false
    }
}
