import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// A tree as it is served: its vnodes by inode number, made as the kernel looks names up
/// (declared children once per directory, dynamic entries on first lookup), forgotten when
/// their entry dies, and what `stat` shows for each.
final class ServedTree: Sendable {
    /// The root directory's inode number.
    static let rootID: UInt64 = 1

    /// The owner of nodes that do not declare one.
    let uid: UInt32
    let gid: UInt32
    /// Cache timeout for the names of declared nodes (also inside dynamic entries) and for
    /// attributes (of every node but a link whose target comes from state).
    let staticTimeout: Double
    /// When serving started: the times of declared nodes.
    let startTime: Int64
    /// The choices made for every node: default modes, errnos.
    let profile: TreeProfile

    private let inodes = InodeTable()
    private let nextIno = Atomic<UInt64>(ServedTree.rootID + 1)
    /// Boxed: a closure stored directly as a `Mutex`'s value is re-abstracted on each
    /// `withLock`, which writes it back wrapped in two more thunks, so every call grew the
    /// chain (quadratic in removals, then a stack overflow). A struct field is not.
    private struct RemovalHandlers: Sendable {
        var entry: (@Sendable (_ parent: UInt64, _ name: String) -> Void)?
        var nodesGone: (@Sendable (_ inos: [UInt64]) -> Void)?
    }
    private let removalHandlers = Mutex(RemovalHandlers())
    /// Where node ids are recorded for a server that takes over the connection; set once.
    private let journal = AtomicLazyReference<NodeJournal>()

    init(root: Node, profile: TreeProfile, uid: UInt32, gid: UInt32, staticTimeout: Double) {
        self.profile = profile
        self.uid = uid
        self.gid = gid
        self.staticTimeout = staticTimeout
        startTime = Int64(time(nil))
        inodes.insert(Vnode(ino: Self.rootID, parentIno: Self.rootID, node: root, token: nil, created: startTime))
    }

    /// Called (from the thread that removed it) after a dynamic entry disappears. Must not block.
    func onEntryRemoved(_ handler: @escaping @Sendable (_ parent: UInt64, _ name: String) -> Void) {
        removalHandlers.withLock { $0.entry = handler }
    }

    /// Called (from the thread that removed them, before the removal returns) with the gone
    /// nodes, whose attributes the kernel may cache. Must not block.
    func onNodesGone(_ handler: @escaping @Sendable (_ inos: [UInt64]) -> Void) {
        removalHandlers.withLock { $0.nodesGone = handler }
    }

    /// Records node ids in `journal` from now on, and answers for the ids it recovered.
    /// Attach it before the first lookup.
    func record(in journal: NodeJournal) {
        _ = self.journal.storeIfNil(journal)
        let floor = journal.highestRecoveredIno + 1
        var current = nextIno.load(ordering: .relaxed)
        while current < floor {
            let (exchanged, original) = nextIno.compareExchange(expected: current, desired: floor, ordering: .relaxed)
            if exchanged { break }
            current = original
        }
    }

    /// The live vnode `ino`; `ESTALE` when it is unknown or its entry died. After a restart,
    /// an id the kernel got from the server before is found again through the journal.
    func vnode(_ ino: UInt64) throws(Errno) -> Vnode {
        if let vnode = inodes[ino] {
            guard vnode.isLive else { throw .staleNFSFileHandle }
            return vnode
        }
        guard let journal = journal.load(), let vnode = recover(ino, from: journal), vnode.isLive else {
            throw .staleNFSFileHandle
        }
        return vnode
    }

    /// Looks up again, by name, the entry that id `ino` named before the restart.
    private func recover(_ ino: UInt64, from journal: NodeJournal) -> Vnode? {
        guard let name = journal.recoveredName(of: ino),
            let parent = inodes[name.parent] ?? recover(name.parent, from: journal), parent.isLive,
            let vnode = try? child(of: parent, named: name.name)
        else { return nil }
        return vnode.ino == ino ? vnode : nil
    }

    /// A vnode for `node` under `parent`: the id it had before a restart, else a new one.
    func makeVnode(parent: Vnode, node: Node, token: EntryToken?) -> Vnode {
        let recovered = journal.load()?.recoveredIno(of: NodeJournal.Name(parent: parent.ino, name: node.name))
        let vnode = Vnode(
            ino: recovered ?? nextIno.wrappingAdd(1, ordering: .relaxed).oldValue, parentIno: parent.ino, node: node,
            token: token, created: token == nil ? startTime : Int64(time(nil)), livesWithParent: token === parent.token)
        inodes.insert(vnode)
        return vnode
    }

    /// The kernel may learn these ids now: record them.
    func recordNodes(_ vnodes: [Vnode]) {
        guard let journal = journal.load() else { return }
        for vnode in vnodes { journal.recordNode(vnode.ino, parent: vnode.parentIno, name: vnode.node.name) }
    }

    // MARK: - Children

    /// The declared children of a directory vnode, built on first use; no lock afterwards.
    func declaredChildren(of directory: Vnode) throws(Errno) -> DeclaredChildren {
        if let built = directory.declaredChildren.load() { return built }
        guard case .directory(let content) = directory.node.kind else { throw .notDirectory }
        var declared: [Vnode] = []
        var conditional: [String: ConditionalSlot] = [:]
        var dynamic: (any DynamicSource)?
        for node in content.children {
            if case .dynamic(let source) = node.kind {
                dynamic = source
            } else if node.presence != nil {
                // A stand-in for the listing order; each incarnation gets a vnode of its own.
                let slot = ConditionalSlot(node: node)
                conditional[node.name] = slot
                declared.append(Vnode(ino: 0, parentIno: directory.ino, node: node, token: nil, created: startTime, slot: slot))
            } else {
                declared.append(makeVnode(parent: directory, node: node, token: directory.token))
            }
        }
        let built = DeclaredChildren(list: declared, conditional: conditional, dynamic: dynamic)
        let winner = directory.declaredChildren.storeIfNil(built)
        if winner !== built {
            // Another thread built them meanwhile: keep its vnodes, drop ours.
            inodes.remove(declared.map(\.ino).filter { $0 != 0 })
        } else {
            recordNodes(declared.filter { $0.ino != 0 })
            for slot in conditional.values { watch(slot, in: directory) }
        }
        return winner
    }

    /// The live child `name` of `directory`, creating the vnode of a dynamic entry on first lookup.
    func child(of directory: Vnode, named name: String) throws(Errno) -> Vnode {
        let children = try declaredChildren(of: directory)
        if let declared = children.byName[name] { return declared }
        if !children.conditional.isEmpty, let slot = children.conditional[name] {
            return try present(slot, in: directory)
        }
        guard let source = children.dynamic else { throw .noSuchFileOrDirectory }
        if let cached = directory.dynamicChildren.withLock({ $0.byName[name] }), cached.isLive { return cached }
        guard FileName.isValid(name), let entry = source.resolve(name) else {
            throw .noSuchFileOrDirectory
        }
        return adopt(entry, named: name, from: source, in: directory)
    }

    private func adopt(_ entry: ResolvedEntry, named name: String, from source: any DynamicSource, in directory: Vnode) -> Vnode {
        let node = entry.node()
        let token = Self.liveness(of: entry.token, under: directory.token)
        let vnode = makeVnode(parent: directory, node: node, token: token)
        let winner = directory.dynamicChildren.withLock { children -> Vnode in
            // A live vnode under this name stands for the entry now live under it.
            if let existing = children.byName[name], existing.isLive {
                return existing
            }
            children.byName[name] = vnode
            children.inoBySerial[entry.serial] = vnode.ino
            return vnode
        }
        if winner !== vnode {
            inodes.remove([vnode.ino])
            return winner
        }
        recordNodes([vnode])
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
        directory.dynamicChildren.withLock { children in
            if children.byName[name] === vnode { children.byName[name] = nil }
            if children.inoBySerial[serial] == vnode.ino { children.inoBySerial[serial] = nil }
            children.byName.shrinkIfSparse()
            children.inoBySerial.shrinkIfSparse()
        }
        bury(Self.subtree(of: vnode))
        // Inside an entry that died too, the kernel forgets the whole directory anyway.
        if directory.isLive { notifyRemoved(directory.ino, name) }
    }

    /// `vnode` and every vnode made under it so far.
    static func subtree(of vnode: Vnode) -> [Vnode] {
        var found: [Vnode] = []
        var stack = [vnode]
        while let next = stack.popLast() {
            found.append(next)
            if let declared = next.declaredChildren.load() {
                stack.append(contentsOf: declared.list.filter { $0.slot == nil })
                stack.append(contentsOf: declared.conditional.values.compactMap { $0.current.withLock { $0 } })
            }
            stack.append(contentsOf: next.dynamicChildren.withLock { Array($0.byName.values) })
        }
        return found
    }

    /// Forgets vnodes that are gone (their inode numbers then answer the profile's errno),
    /// and tells the driver which of them a lookup gave the kernel, whose attributes it may
    /// hold: `fstat` of a handle under a removed entry then asks again (and gets the errno).
    func bury(_ vnodes: [Vnode]) {
        let inos = vnodes.map(\.ino)
        inodes.remove(inos)
        journal.load()?.recordDeaths(inos)
        let known = vnodes.filter { $0.lookedUp.load(ordering: .relaxed) }.map(\.ino)
        if !known.isEmpty, let handler = removalHandlers.withLock({ $0.nodesGone }) { handler(known) }
    }

    /// Tells the driver that `name` left directory `parent` (the kernel drops its dentry).
    func notifyRemoved(_ parent: UInt64, _ name: String) {
        removalHandlers.withLock { $0.entry }?(parent, name)
    }

    // MARK: - Attributes

    func attributes(of vnode: Vnode) -> Attributes {
        var owner = vnode.node.owner
        var permissions = vnode.node.effectivePermissions(in: profile)
        if let changes = vnode.changedAttributes {
            let changed = changes.state.withLock { $0 }
            permissions = changed.permissions ?? permissions
            owner = changed.owner ?? owner
        }
        let type: UInt32
        var size: Int64 = 4096
        var attributeTimeout = staticTimeout
        switch vnode.node.kind {
        case .directory, .dynamic:
            type = 0o040000
            size = 0
        case .file:
            type = 0o100000
        case .link(let target):
            type = 0o120000
            size = Int64((try? target.resolve())?.utf8.count ?? 0)
            if target.fixed == nil { attributeTimeout = 0 }  // its size follows a target from state
        }
        return Attributes(
            ino: vnode.ino,
            mode: type | UInt32(permissions),
            nlink: type == 0o040000 ? 2 : 1,
            uid: owner?.uid ?? uid,
            gid: owner?.gid ?? gid,
            size: size,
            seconds: vnode.created,
            timeout: vnode.livesWithParent ? staticTimeout : 0,
            attributeTimeout: attributeTimeout)
    }
}
