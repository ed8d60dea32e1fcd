public import SystemPackage

/// What a `setattr` asks to change.
public struct AttributeChange: Sendable, Equatable {
    /// A new size (`truncate`, `O_TRUNC`).
    public var size: Int64?
    /// New permission bits (`chmod`).
    public var permissions: UInt16?
    /// A new owner or group (`chown`, `chgrp`).
    public var uid: UInt32?
    public var gid: UInt32?
    /// Anything else: times (`utimes`), or attributes the driver does not name.
    public var otherChanges: Bool

    public init(size: Int64? = nil, permissions: UInt16? = nil, uid: UInt32? = nil, gid: UInt32? = nil, otherChanges: Bool = false) {
        self.size = size
        self.permissions = permissions
        self.uid = uid
        self.gid = gid
        self.otherChanges = otherChanges
    }
}

extension Dispatcher {
    /// Truncation to size 0 of a writable file is accepted (and does nothing); `chmod` and
    /// `chown` where the node declares them (``NodeConvertible/allowing(_:)``), kept for the
    /// node's life; everything else (times, other sizes, undeclared changes) is `EPERM`.
    /// Non-root callers may `chmod` only what they own and never `chown` (the kernel's rule,
    /// checked here for drivers without a kernel).
    public func setattr(_ ino: UInt64, _ change: AttributeChange, caller: Caller) throws(Errno) -> Attributes {
        do throws(Errno) {
            let vnode = try tree.vnode(ino)
            guard !change.otherChanges else { throw .notPermitted }
            if let size = change.size {
                guard size == 0, vnode.behavior?.writer != nil else { throw .notPermitted }
            }
            let wantsMode = change.permissions != nil
            let wantsOwner = change.uid != nil || change.gid != nil
            if wantsMode || wantsOwner {
                let allowed = vnode.node.changeableAttributes
                guard let changed = vnode.changedAttributes, !wantsMode || allowed.contains(.mode),
                    !wantsOwner || allowed.contains(.owner)
                else { throw .notPermitted }
                let current = tree.attributes(of: vnode)
                if caller.uid != 0 && (wantsOwner || caller.uid != current.uid) { throw .notPermitted }
                changed.state.withLock { changed in
                    if let permissions = change.permissions { changed.permissions = permissions & 0o7777 }
                    if wantsOwner {
                        changed.owner = Owner(uid: change.uid ?? current.uid, gid: change.gid ?? current.gid)
                    }
                }
            }
            return tree.attributes(of: vnode)
        } catch {
            throw answer(error)
        }
    }
}
