import Synchronization
public import SystemPackage

/// The one request path of a served tree: lookup, attributes, open, read, write, poll,
/// readdir and release, from the kernel (FUSE driver) or a test (in-process driver)
/// to the declared handlers and back.
///
/// Lookups and attribute reads are answered synchronously in O(1); reads and writes run
/// their handler on the calling thread, so a handler that does not suspend answers
/// through its `Reply` without a thread hop. The served vnodes live in `ServedTree`.
public final class Dispatcher: Sendable {
    /// The root directory's inode number.
    public static let rootID: UInt64 = ServedTree.rootID

    let tree: ServedTree
    private let nextFileID = Atomic<UInt64>(1)

    /// Validates `tree` and prepares to serve it.
    /// - Parameters:
    ///   - tree: the declarations; rejected with a one-line error when they cannot be served.
    ///   - uid: the owner of nodes that do not declare one.
    ///   - gid: the group of nodes that do not declare one.
    ///   - staticTimeout: how long the kernel may cache the names of declared nodes (those that
    ///     exist as long as their directory, also inside a dynamic entry) and attributes. The
    ///     names of dynamic entries and conditional nodes are not cached: their removal is seen
    ///     at once (see ``Attributes/timeout`` and ``Attributes/attributeTimeout``).
    public init(tree: Tree, uid: UInt32 = 0, gid: UInt32 = 0, staticTimeout: Double = 3600) throws(TreeValidationError) {
        try TreeValidator.validate(tree)
        self.tree = ServedTree(root: tree.root, profile: tree.profile, uid: uid, gid: gid, staticTimeout: staticTimeout)
    }

    /// The choices the served tree makes for every file.
    public var profile: TreeProfile { tree.profile }

    /// The errno answered for `error`: a node that is gone answers the profile's
    /// ``TreeProfile/removedEntryErrno`` (`ESTALE` inside VFSKit; sysfs `ENODEV`).
    func answer(_ error: Errno) -> Errno {
        error == .staleNFSFileHandle ? tree.profile.removedEntryErrno : error
    }

    /// `result` with a gone node's errno as the profile names it.
    func answer<Value>(_ result: Result<Value, Errno>) -> Result<Value, Errno> {
        guard case .failure(let error) = result, error == .staleNFSFileHandle else { return result }
        return .failure(tree.profile.removedEntryErrno)
    }

    /// Called (from the thread that removed it) after a dynamic entry disappears, so a
    /// driver can drop the kernel's cached dentry. Must not block.
    public func onEntryRemoved(_ handler: @escaping @Sendable (_ parent: UInt64, _ name: String) -> Void) {
        tree.onEntryRemoved(handler)
    }

    /// Called with the inode numbers of removed nodes that a lookup had answered with (whose
    /// attributes the kernel may have cached: see ``Attributes/attributeTimeout``), from the
    /// thread that removed them before
    /// the removal returns, so a driver can make the kernel ask again (and get the
    /// removed-entry errno). Must not block.
    public func onNodesGone(_ handler: @escaping @Sendable (_ inos: [UInt64]) -> Void) {
        tree.onNodesGone(handler)
    }

    func allocateFileID() -> UInt64 {
        nextFileID.wrappingAdd(1, ordering: .relaxed).oldValue
    }

    // MARK: - Names and attributes

    /// Resolves `name` in directory `parent`.
    public func lookup(parent: UInt64, name: String) throws(Errno) -> Attributes {
        do throws(Errno) {
            let directory = try tree.vnode(parent)
            if name == "." { return tree.attributes(of: directory) }
            if name == ".." { return tree.attributes(of: try tree.vnode(directory.parentIno)) }
            let child = try tree.child(of: directory, named: name)
            if !child.lookedUp.load(ordering: .relaxed) { child.lookedUp.store(true, ordering: .relaxed) }
            return tree.attributes(of: child)
        } catch {
            throw answer(error)
        }
    }

    public func getattr(_ ino: UInt64) throws(Errno) -> Attributes {
        do throws(Errno) { return tree.attributes(of: try tree.vnode(ino)) } catch { throw answer(error) }
    }

    /// A symbolic link's target.
    public func readlink(_ ino: UInt64) throws(Errno) -> String {
        do throws(Errno) {
            guard case .link(let target) = try tree.vnode(ino).node.kind else { throw .invalidArgument }
            return try target.resolve()
        } catch {
            throw answer(error)
        }
    }

    /// Only truncation to size 0 of a writable file is accepted (and does nothing);
    /// chmod, chown, utimes and other sizes are `EPERM`.
    public func setattr(_ ino: UInt64, size: Int64?, otherChanges: Bool) throws(Errno) -> Attributes {
        try setattr(ino, AttributeChange(size: size, otherChanges: otherChanges), caller: .root)
    }

    /// The errno that answers a change to a directory's entries: creating, removing,
    /// renaming and linking are refused everywhere (`EPERM`) — under a removed entry, the
    /// profile's ``TreeProfile/removedEntryErrno`` (`ESTALE`).
    public func refuse(_ change: NamespaceChange) -> Errno {
        var directories = [change.directory]
        if case .rename(_, _, let target, _) = change { directories.append(target) }
        for ino in directories {
            do throws(Errno) { _ = try tree.vnode(ino) } catch { return answer(error) }
        }
        return .notPermitted
    }
}

/// A change to a directory's entries: what the kernel asks for on `creat`, `mkdir`,
/// `mknod`, `unlink`, `rmdir`, `rename`, `link` and `symlink`.
public enum NamespaceChange: Sendable, Hashable {
    case create(in: UInt64, name: String)
    case makeDirectory(in: UInt64, name: String)
    case remove(from: UInt64, name: String)
    case removeDirectory(from: UInt64, name: String)
    case rename(from: UInt64, name: String, to: UInt64, newName: String)
    case link(UInt64, into: UInt64, name: String)
    case symlink(in: UInt64, name: String, target: String)

    /// The directory whose entries would change (for `rename`, the source).
    public var directory: UInt64 {
        switch self {
        case .create(let directory, _), .makeDirectory(let directory, _), .remove(let directory, _),
            .removeDirectory(let directory, _), .rename(let directory, _, _, _), .link(_, let directory, _),
            .symlink(let directory, _, _):
            directory
        }
    }
}
