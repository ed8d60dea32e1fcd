public import SystemPackage

extension Dispatcher {
    /// Opens a file. Writing a file without a write handler (or reading one without a
    /// read handler) is `EACCES` even for root; non-root callers are checked against the mode.
    public func open(_ ino: UInt64, flags: Int32, caller: Caller) throws(Errno) -> OpenFile {
        do throws(Errno) {
            let vnode = try tree.vnode(ino)
            guard let behavior = vnode.behavior else { throw vnode.node.isLink ? .tooManySymbolicLinkLevels : .isDirectory }
            let file = OpenFile(
                id: allocateFileID(), flags: flags, vnode: vnode, behavior: behavior, seenCount: 0,
                textRule: behavior.textRule ?? tree.profile.writtenText)
            if file.isWritable && behavior.writer == nil { throw .permissionDenied }
            if file.isReadable && behavior.reader == nil { throw .permissionDenied }
            try checkAccess(vnode, caller: caller, read: file.isReadable, write: file.isWritable)
            if let poll = behavior.poll, case .changes = poll.readiness.kind {
                let context = RequestContext(caller: caller, file: file)
                let count = try poll.readiness.signal(context).count
                file.state.withLock { $0.seenCount = count }
            }
            return file
        } catch {
            throw answer(error)
        }
    }

    /// Opens a file again for a handle that an earlier server gave out: as a fresh open with
    /// `flags`, without the access check the kernel already made.
    public func reopen(_ ino: UInt64, flags: Int32) throws(Errno) -> OpenFile {
        try open(ino, flags: flags, caller: .root)
    }

    /// Opens a directory for listing.
    public func opendir(_ ino: UInt64, caller: Caller) throws(Errno) {
        do throws(Errno) {
            let vnode = try tree.vnode(ino)
            guard vnode.node.isDirectory else { throw .notDirectory }
            try checkAccess(vnode, caller: caller, read: true, write: false)
        } catch {
            throw answer(error)
        }
    }

    /// Closes an open file: drops its poll registration.
    public func release(_ file: OpenFile) {
        let (observed, removalWatch) = file.state.withLock { state in
            defer {
                state.poll = OpenFile.PollRegistration()
                state.rendering = nil
            }
            return (state.poll.observed, state.poll.removalWatch)
        }
        if let observed { observed.signal.removeObserver(observed.id) }
        if let removalWatch { file.vnode.token?.removeDeathHandler(removalWatch) }
    }

    /// The kernel's `default_permissions` check, for drivers without a kernel.
    func checkAccess(_ vnode: Vnode, caller: Caller, read: Bool, write: Bool) throws(Errno) {
        guard caller.uid != 0 else { return }
        let attributes = tree.attributes(of: vnode)
        let shift: UInt32 = caller.uid == attributes.uid ? 6 : caller.gid == attributes.gid ? 3 : 0
        let bits = (attributes.mode >> shift) & 0o7
        if read && bits & 0o4 == 0 { throw .permissionDenied }
        if write && bits & 0o2 == 0 { throw .permissionDenied }
    }
}
