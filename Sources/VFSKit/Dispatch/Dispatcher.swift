public import SystemPackage
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The one request path of a served tree: lookup, attributes, open, read, write, poll,
/// readdir and release, from the kernel (FUSE driver) or a test (in-process driver)
/// to the declared handlers and back.
///
/// Lookups and attribute reads are answered synchronously in O(1); reads and writes run
/// their handler in `Task.immediate` on the calling thread, so a handler that does not
/// suspend answers without a thread hop.
public final class Dispatcher: Sendable {
    /// The root directory's inode number.
    public static let rootID: UInt64 = 1

    /// The owner of nodes that do not declare one.
    public let uid: UInt32
    public let gid: UInt32
    /// Entry and attribute cache timeout for declared (never changing) nodes.
    public let staticTimeout: Double

    let inodes: Mutex<[UInt64: Vnode]>
    private let nextIno = Atomic<UInt64>(Dispatcher.rootID + 1)
    private let nextFileID = Atomic<UInt64>(1)
    /// Boxed: a closure stored directly as a `Mutex`'s value is re-abstracted on each
    /// `withLock`, which writes it back wrapped in two more thunks, so every call grew the
    /// chain (quadratic in removals, then a stack overflow). A struct field is not.
    private struct RemovalHandler: Sendable {
        let call: @Sendable (_ parent: UInt64, _ name: String) -> Void
    }
    private let removalHandler = Mutex<RemovalHandler?>(nil)
    let startTime: Int64

    /// Validates `tree` and prepares to serve it.
    public init(tree: Tree, uid: UInt32 = 0, gid: UInt32 = 0, staticTimeout: Double = 3600) throws(TreeValidationError) {
        try TreeValidator.validate(tree.content, at: "/")
        self.uid = uid
        self.gid = gid
        self.staticTimeout = staticTimeout
        startTime = Int64(time(nil))
        let root = Vnode(ino: Dispatcher.rootID, parentIno: Dispatcher.rootID, node: tree.root, token: nil, created: startTime)
        inodes = Mutex([Dispatcher.rootID: root])
    }

    /// Called (from the thread that removed it) after a dynamic entry disappears, so a
    /// driver can drop the kernel's cached dentry. Must not block.
    public func onEntryRemoved(_ handler: @escaping @Sendable (_ parent: UInt64, _ name: String) -> Void) {
        removalHandler.withLock { $0 = RemovalHandler(call: handler) }
    }

    // MARK: - Nodes

    func vnode(_ ino: UInt64) throws(Errno) -> Vnode {
        guard let vnode = inodes.withLock({ $0[ino] }), vnode.isLive else { throw .staleNFSFileHandle }
        return vnode
    }

    private func allocateIno() -> UInt64 {
        nextIno.wrappingAdd(1, ordering: .relaxed).oldValue
    }

    func allocateFileID() -> UInt64 {
        nextFileID.wrappingAdd(1, ordering: .relaxed).oldValue
    }

    private func makeVnode(parent: Vnode, node: Node, token: EntryToken?) -> Vnode {
        let vnode = Vnode(
            ino: allocateIno(), parentIno: parent.ino, node: node, token: token,
            created: token == nil ? startTime : Int64(time(nil)))
        inodes.withLock { $0[vnode.ino] = vnode }
        return vnode
    }

    /// The children of a directory vnode, built on first use. One lock on the hot path.
    func withChildren<R: Sendable>(of directory: Vnode, _ body: (inout DirectoryChildren) throws(Errno) -> R) throws(Errno) -> R {
        let built = try directory.children.withLock { children throws(Errno) -> R? in
            guard children != nil else { return nil }
            return try body(&children!)
        }
        if let built { return built }
        guard case .directory(let content) = directory.node.kind else { throw .notDirectory }
        var declared: [Vnode] = []
        var dynamic: (any DynamicSource)?
        for node in content.children {
            if case .dynamic(let source) = node.kind {
                dynamic = source
            } else {
                declared.append(makeVnode(parent: directory, node: node, token: directory.token))
            }
        }
        let children = DirectoryChildren(
            declared: declared,
            declaredByName: Dictionary(declared.map { ($0.node.name, $0) }, uniquingKeysWith: { first, _ in first }),
            dynamic: dynamic)
        let (result, orphans) = try directory.children.withLock { current throws(Errno) -> (R, [Vnode]) in
            // Another thread may have built them meanwhile: keep its vnodes, drop ours.
            let orphans = current == nil ? [] : declared
            if current == nil { current = children }
            return (try body(&current!), orphans)
        }
        if !orphans.isEmpty { inodes.withLock { table in for v in orphans { table[v.ino] = nil } } }
        return result
    }

    /// The live child `name` of `directory`, creating the vnode of a dynamic entry on first lookup.
    func child(of directory: Vnode, named name: String) throws(Errno) -> Vnode {
        let found = try withChildren(of: directory) { children throws(Errno) -> (Vnode?, (any DynamicSource)?) in
            if let declared = children.declaredByName[name] { return (declared, nil) }
            if let cached = children.dynamicByName[name], cached.isLive { return (cached, nil) }
            return (nil, children.dynamic)
        }
        if let vnode = found.0 { return vnode }
        guard let source = found.1, TreeValidator.isValidName(name), let entry = source.resolve(name) else {
            throw .noSuchFileOrDirectory
        }
        return adopt(entry, named: name, from: source, in: directory)
    }

    private func adopt(_ entry: ResolvedEntry, named name: String, from source: any DynamicSource, in directory: Vnode) -> Vnode {
        let node = Node(
            name: name, kind: .directory(DirectoryContent(deferred: entry.content)),
            summary: source.entrySummary, permissions: source.permissions, owner: nil)
        let token = Self.liveness(of: entry.token, under: directory.token)
        let vnode = makeVnode(parent: directory, node: node, token: token)
        let winner = directory.children.withLock { children -> Vnode in
            // A live vnode under this name stands for the entry now live under it.
            if let existing = children?.dynamicByName[name], existing.isLive {
                return existing
            }
            children?.dynamicByName[name] = vnode
            children?.dynamicInoBySerial[entry.serial] = vnode.ino
            return vnode
        }
        if winner !== vnode {
            inodes.withLock { $0[vnode.ino] = nil }
            return winner
        }
        token.onDeath { [weak self, weak directory] in
            guard let self, let directory else { return }
            self.entryDied(vnode, name: name, serial: entry.serial, in: directory)
        }
        return vnode
    }

    /// The liveness of an entry inside another dynamic entry: it dies with either.
    private static func liveness(of entry: EntryToken, under enclosing: EntryToken?) -> EntryToken {
        guard let enclosing else { return entry }
        let token = EntryToken(parent: enclosing)
        entry.onDeath { [weak token] in token?.kill() }
        enclosing.onDeath { [weak token] in token?.kill() }
        return token
    }

    /// Forgets a removed entry's vnodes (their inode numbers then answer `ESTALE`).
    private func entryDied(_ vnode: Vnode, name: String, serial: UInt64, in directory: Vnode) {
        directory.children.withLock { children in
            if children?.dynamicByName[name] === vnode { children?.dynamicByName[name] = nil }
            if children?.dynamicInoBySerial[serial] == vnode.ino { children?.dynamicInoBySerial[serial] = nil }
        }
        var doomed: [UInt64] = []
        var stack = [vnode]
        while let next = stack.popLast() {
            doomed.append(next.ino)
            if let children = next.children.withLock({ $0 }) {
                stack.append(contentsOf: children.declared)
                stack.append(contentsOf: children.dynamicByName.values)
            }
        }
        inodes.withLock { table in for ino in doomed { table[ino] = nil } }
        // Inside an entry that died too, the kernel forgets the whole directory anyway.
        if directory.isLive { removalHandler.withLock { $0 }?.call(directory.ino, name) }
    }

    // MARK: - Attributes

    func attributes(of vnode: Vnode) -> Attributes {
        let owner = vnode.node.owner
        let isDirectory = vnode.node.isDirectory
        return Attributes(
            ino: vnode.ino,
            mode: (isDirectory ? 0o040000 : 0o100000) | UInt32(vnode.permissions),
            nlink: isDirectory ? 2 : 1,
            uid: owner?.uid ?? uid,
            gid: owner?.gid ?? gid,
            size: isDirectory ? 0 : 4096,
            seconds: vnode.created,
            timeout: vnode.token == nil ? staticTimeout : 0)
    }

    /// Resolves `name` in directory `parent`.
    public func lookup(parent: UInt64, name: String) throws(Errno) -> Attributes {
        let directory = try vnode(parent)
        if name == "." { return attributes(of: directory) }
        if name == ".." { return attributes(of: try vnode(directory.parentIno)) }
        return attributes(of: try child(of: directory, named: name))
    }

    public func getattr(_ ino: UInt64) throws(Errno) -> Attributes {
        attributes(of: try vnode(ino))
    }

    /// Only truncation to size 0 of a writable file is accepted (and does nothing);
    /// chmod, chown, utimes and other sizes are `EPERM`.
    public func setattr(_ ino: UInt64, size: Int64?, otherChanges: Bool) throws(Errno) -> Attributes {
        let node = try vnode(ino)
        guard !otherChanges else { throw .notPermitted }
        if let size {
            guard size == 0, node.behavior?.writer != nil else { throw .notPermitted }
        }
        return attributes(of: node)
    }

    /// Creating, removing, renaming and linking are refused everywhere.
    public func modifyNamespace() throws(Errno) -> Never {
        throw .notPermitted
    }
}
