import Synchronization

/// A node as served: an inode number, its declaration and, for directories, the
/// children looked up so far. Inode numbers are never reused while a tree is served.
final class Vnode: Sendable {
    let ino: UInt64
    let parentIno: UInt64
    let node: Node
    /// Liveness of the dynamic entry this node is under; nil for declared nodes.
    let token: EntryToken?
    /// Seconds since the epoch when this vnode was made (the node's times).
    let created: Int64
    /// Only for directories: the declared children, built on first use, then read
    /// without a lock (every lookup of a declared name).
    let declaredChildren = AtomicLazyReference<DeclaredChildren>()
    /// Only for directories with a `ForEach`: the entries looked up so far.
    let dynamicChildren = Mutex(DynamicChildren())

    init(ino: UInt64, parentIno: UInt64, node: Node, token: EntryToken?, created: Int64) {
        self.ino = ino
        self.parentIno = parentIno
        self.node = node
        self.token = token
        self.created = created
    }

    var isLive: Bool { token?.isLive ?? true }

    var behavior: FileBehavior? {
        if case .file(let behavior) = node.kind { return behavior }
        return nil
    }
}

/// The declared children of a served directory: fixed once built.
final class DeclaredChildren: Sendable {
    /// In declaration order.
    let list: [Vnode]
    let byName: [String: Vnode]
    /// The directory's `ForEach`, if any.
    let dynamic: (any DynamicSource)?

    init(list: [Vnode], dynamic: (any DynamicSource)?) {
        self.list = list
        byName = Dictionary(list.map { ($0.node.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.dynamic = dynamic
    }
}

/// The entries of a directory's `ForEach` looked up so far; each is removed when it dies.
struct DynamicChildren {
    var byName: [String: Vnode] = [:]
    /// Their inode numbers by entry serial, for `readdir` (a cheap key, no retains).
    var inoBySerial: [UInt64: UInt64] = [:]
}
