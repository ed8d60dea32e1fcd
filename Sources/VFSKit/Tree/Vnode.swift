import Synchronization

/// A node as served: an inode number, its declaration and, for directories, the
/// children looked up so far. Inode numbers are never reused while a tree is served.
final class Vnode: Sendable {
    let ino: UInt64
    let parentIno: UInt64
    let node: Node
    /// Liveness of the dynamic entry this node is under; nil for declared nodes.
    let token: EntryToken?
    /// Whether this node exists exactly as long as its parent directory: a declared node,
    /// also inside a dynamic entry. Not a dynamic entry itself, nor a conditional node, whose
    /// existence changes on its own. The kernel may cache such a node's entry as long as a
    /// declared node's; it forgets it with its parent's entry when that goes.
    let livesWithParent: Bool
    /// Set once a lookup answered with this node: only then may the kernel hold it (and its
    /// attributes), so only then does its removal need telling.
    let lookedUp = Atomic(false)
    /// Seconds since the epoch when this vnode was made (the node's times).
    let created: Int64
    /// Only for directories: the declared children, built on first use, then read
    /// without a lock (every lookup of a declared name).
    let declaredChildren = AtomicLazyReference<DeclaredChildren>()
    /// Only for directories with a `ForEach`: the entries looked up so far.
    let dynamicChildren = Mutex(DynamicChildren())
    /// Only in a directory's listing order, for a conditional node: where its current
    /// incarnation is (this vnode itself is a stand-in, inode 0, never served).
    let slot: ConditionalSlot?
    /// Only for nodes that accept `chmod`/`chown`: what was changed, for the vnode's life.
    let changedAttributes: ChangedAttributesBox?

    init(
        ino: UInt64, parentIno: UInt64, node: Node, token: EntryToken?, created: Int64, livesWithParent: Bool = true,
        slot: ConditionalSlot? = nil
    ) {
        self.ino = ino
        self.parentIno = parentIno
        self.node = node
        self.token = token
        self.livesWithParent = livesWithParent
        self.created = created
        self.slot = slot
        changedAttributes = node.changeableAttributes.isEmpty ? nil : ChangedAttributesBox()
    }

    var isLive: Bool { token?.isLive ?? true }

    var behavior: FileBehavior? {
        if case .file(let behavior) = node.kind { return behavior }
        return nil
    }
}

/// Permission bits and owner set by `chmod`/`chown` on a node that accepts them.
struct ChangedAttributes: Sendable {
    var permissions: UInt16?
    var owner: Owner?
}

final class ChangedAttributesBox: Sendable {
    let state = Mutex(ChangedAttributes())
}

/// The declared children of a served directory: fixed once built.
final class DeclaredChildren: Sendable {
    /// In declaration order (conditional nodes by their stand-ins).
    let list: [Vnode]
    /// The unconditional ones by name.
    let byName: [String: Vnode]
    /// The conditional ones by name.
    let conditional: [String: ConditionalSlot]
    /// The directory's `ForEach`, if any.
    let dynamic: (any DynamicSource)?
    /// What each of the `ForEach`'s entries is, for listings.
    let dynamicType: EntryType

    init(list: [Vnode], conditional: [String: ConditionalSlot] = [:], dynamic: (any DynamicSource)?) {
        self.list = list
        byName = Dictionary(
            list.filter { $0.slot == nil }.map { ($0.node.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.conditional = conditional
        self.dynamic = dynamic
        dynamicType = dynamic.map { EntryType(of: $0.exampleNode()) } ?? .directory
    }
}

/// The entries of a directory's `ForEach` looked up so far; each is removed when it dies.
struct DynamicChildren {
    var byName: [String: Vnode] = [:]
    /// Their inode numbers by entry serial, for `readdir` (a cheap key, no retains).
    var inoBySerial: [UInt64: UInt64] = [:]
}
