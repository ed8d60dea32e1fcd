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
    /// Only for directories: children by name; dynamic ones are added on lookup.
    let children: Mutex<DirectoryChildren?>

    init(ino: UInt64, parentIno: UInt64, node: Node, token: EntryToken?, created: Int64) {
        self.ino = ino
        self.parentIno = parentIno
        self.node = node
        self.token = token
        self.created = created
        children = Mutex(nil)
    }

    var isLive: Bool { token?.isLive ?? true }

    var behavior: FileBehavior? {
        if case .file(let behavior) = node.kind { return behavior }
        return nil
    }

    var permissions: UInt16 {
        if let permissions = node.permissions { return permissions }
        switch node.kind {
        case .file(let behavior): return behavior.defaultPermissions
        case .directory: return 0o555
        case .dynamic(let source): return source.permissions
        }
    }
}

/// The children of a served directory.
struct DirectoryChildren {
    /// Declared children in declaration order.
    var declared: [Vnode]
    var declaredByName: [String: Vnode]
    /// The directory's `ForEach`, if any.
    var dynamic: (any DynamicSource)?
    /// Dynamic entries looked up so far, by name; removed when the entry dies.
    var dynamicByName: [String: Vnode] = [:]
    /// Their inode numbers by entry serial, for `readdir` (a cheap key, no retains).
    var dynamicInoBySerial: [UInt64: UInt64] = [:]
}
