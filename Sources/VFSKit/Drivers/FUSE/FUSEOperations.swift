import CFUSE
import CVFSKitIO
import Glibc
import SystemPackage

// The libfuse low-level callbacks: each turns one kernel request into one
// Dispatcher call and answers it. They are global functions because libfuse
// calls them from its own threads through C function pointers.

/// The operations table handed to `fuse_session_new`.
func fuseOperations() -> fuse_lowlevel_ops {
    var ops = fuse_lowlevel_ops()
    // Without atomic O_TRUNC the kernel sends SETATTR(size 0) and takes the reply's size
    // (4096); with it, the kernel sets its cached size to 0 itself, and the next write
    // at offset 0 is "past EOF": it takes the inode lock exclusively, and while it is
    // parked every other writer of the file waits in the kernel (no parallel writes).
    ops.`init` = fuseInit
    ops.lookup = fuseLookup
    ops.forget = fuseForget
    ops.forget_multi = fuseForgetMulti
    ops.getattr = fuseGetattr
    ops.readlink = fuseReadlink
    ops.setattr = fuseSetattr
    ops.open = fuseOpen
    ops.read = fuseRead
    ops.write = fuseWrite
    ops.flush = fuseFlush
    ops.release = fuseRelease
    ops.opendir = fuseOpendir
    ops.readdir = fuseReaddir
    ops.releasedir = fuseReleasedir
    ops.poll = fusePoll
    ops.statfs = fuseStatfs
    ops.mknod = { req, parent, name, _, _ in
        refuse(req) { .create(in: parent, name: String(cString: name!)) }
    }
    ops.mkdir = { req, parent, name, _ in
        refuse(req) { .makeDirectory(in: parent, name: String(cString: name!)) }
    }
    ops.unlink = { req, parent, name in
        refuse(req) { .remove(from: parent, name: String(cString: name!)) }
    }
    ops.rmdir = { req, parent, name in
        refuse(req) { .removeDirectory(from: parent, name: String(cString: name!)) }
    }
    ops.symlink = { req, target, parent, name in
        refuse(req) { .symlink(in: parent, name: String(cString: name!), target: String(cString: target!)) }
    }
    ops.rename = { req, parent, name, newParent, newName, _ in
        refuse(req) { .rename(from: parent, name: String(cString: name!), to: newParent, newName: String(cString: newName!)) }
    }
    ops.link = { req, ino, newParent, newName in
        refuse(req) { .link(ino, into: newParent, name: String(cString: newName!)) }
    }
    ops.create = { req, parent, name, _, _ in
        refuse(req) { .create(in: parent, name: String(cString: name!)) }
    }
    ops.setxattr = { req, _, _, _, _, _ in FUSERequest(req).fail(.notPermitted) }
    ops.removexattr = { req, _, _ in FUSERequest(req).fail(.notPermitted) }
    return ops
}

/// Connection setup (also when a restarted server replays it): see `fuseOperations` for
/// why atomic O_TRUNC is off.
func fuseInit(_ userdata: UnsafeMutableRawPointer?, _ conn: UnsafeMutablePointer<fuse_conn_info>?) {
    guard let conn, let userdata else { return }
    conn.pointee.want &= ~UInt32(FUSE_CAP_ATOMIC_O_TRUNC)
    Unmanaged<FUSEConnection>.fromOpaque(userdata).takeUnretainedValue().initialized()
}

/// A namespace change, refused by the dispatcher (`EPERM`, or `ESTALE` under a removed entry).
private func refuse(_ req: fuse_req_t?, _ change: () -> NamespaceChange) {
    let request = FUSERequest(req)
    let errno = request.connection.dispatcher.refuse(change())
    request.fail(errno)
}

/// The open file behind a kernel file handle (see `FUSEConnection.file`).
private func openFile(_ connection: FUSEConnection, _ ino: fuse_ino_t, _ fi: UnsafeMutablePointer<fuse_file_info>?) throws(Errno)
    -> OpenFile
{
    try connection.file(fi!.pointee.fh, ino: ino, flags: fi!.pointee.flags)
}

private func fuseLookup(_ req: fuse_req_t?, _ parent: fuse_ino_t, _ name: UnsafePointer<CChar>?) {
    let request = FUSERequest(req)
    let dispatcher = request.connection.dispatcher
    request.answer({ () throws(Errno) in try dispatcher.lookup(parent: parent, name: String(cString: name!)) }) { $0.entry($1) }
}

/// Inode numbers are never reused, so the kernel's lookup counts need no bookkeeping.
private func fuseForget(_ req: fuse_req_t?, _ ino: fuse_ino_t, _ nlookup: UInt64) {
    FUSERequest(req).none()
}

private func fuseForgetMulti(_ req: fuse_req_t?, _ count: Int, _ forgets: UnsafeMutablePointer<fuse_forget_data>?) {
    FUSERequest(req).none()
}

private func fuseGetattr(_ req: fuse_req_t?, _ ino: fuse_ino_t, _ fi: UnsafeMutablePointer<fuse_file_info>?) {
    let request = FUSERequest(req)
    let dispatcher = request.connection.dispatcher
    request.answer({ () throws(Errno) in try dispatcher.getattr(ino) }) { $0.attributes($1) }
}

/// Truncation, and `chmod`/`chown` where a node declares them; a size change may come with
/// the time updates that `open(O_TRUNC)`/`truncate` imply, and a mode or owner change with
/// `ctime`. Anything else is `otherChanges`.
private func fuseSetattr(
    _ req: fuse_req_t?, _ ino: fuse_ino_t, _ attr: UnsafeMutablePointer<stat>?, _ toSet: Int32, _ fi: UnsafeMutablePointer<fuse_file_info>?
) {
    let request = FUSERequest(req)
    let changesSize = toSet & FUSE_SET_ATTR_SIZE != 0
    let ownership = FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID
    let times = FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME
    let implied = changesSize || toSet & ownership != 0
    let attr = attr!.pointee
    let change = AttributeChange(
        size: changesSize ? Int64(attr.st_size) : nil,
        permissions: toSet & FUSE_SET_ATTR_MODE != 0 ? UInt16(attr.st_mode & 0o7777) : nil,
        uid: toSet & FUSE_SET_ATTR_UID != 0 ? attr.st_uid : nil,
        gid: toSet & FUSE_SET_ATTR_GID != 0 ? attr.st_gid : nil,
        otherChanges: !implied && toSet & times != 0 || (toSet & ownership != 0 && toSet & times & ~FUSE_SET_ATTR_CTIME != 0))
    let (dispatcher, caller) = (request.connection.dispatcher, request.caller)
    request.answer({ () throws(Errno) in try dispatcher.setattr(ino, change, caller: caller) }) { $0.attributes($1) }
}

private func fuseReadlink(_ req: fuse_req_t?, _ ino: fuse_ino_t) {
    let request = FUSERequest(req)
    let dispatcher = request.connection.dispatcher
    request.answer({ () throws(Errno) in try dispatcher.readlink(ino) }) { $0.link($1) }
}

/// Files are served with direct I/O (no page cache: every read reaches the
/// handler); writable ones also allow parallel direct writes, so blocked
/// writers do not queue on the inode lock in the kernel. The file handle is
/// the retained `OpenFile`, balanced in `fuseRelease`.
private func fuseOpen(_ req: fuse_req_t?, _ ino: fuse_ino_t, _ fi: UnsafeMutablePointer<fuse_file_info>?) {
    let request = FUSERequest(req)
    let dispatcher = request.connection.dispatcher
    let file: OpenFile
    do throws(Errno) {
        file = try dispatcher.open(ino, flags: fi!.pointee.flags, caller: request.caller)
    } catch {
        return request.fail(error)
    }
    var flags = UInt32(FOPEN_DIRECT_IO) | UInt32(FOPEN_NOFLUSH)
    if file.isWritable { flags |= UInt32(FOPEN_PARALLEL_DIRECT_WRITES) }
    let connection = request.connection
    let fh = connection.handle(for: file)
    if !request.opened(fh: fh, flags: flags) { connection.release(fh) }
}

private func fuseRead(_ req: fuse_req_t?, _ ino: fuse_ino_t, _ size: Int, _ offset: off_t, _ fi: UnsafeMutablePointer<fuse_file_info>?) {
    let request = FUSERequest(req)
    let (connection, caller) = (request.connection, request.caller)
    let file: OpenFile
    do throws(Errno) { file = try openFile(connection, ino, fi) } catch { return request.fail(error) }
    connection.dispatcher.read(file, offset: Int64(offset), size: size, caller: caller, reply: request.reply(ReadAnswer.self))
}

private func fuseWrite(
    _ req: fuse_req_t?, _ ino: fuse_ino_t, _ buffer: UnsafePointer<CChar>?, _ size: Int, _ offset: off_t,
    _ fi: UnsafeMutablePointer<fuse_file_info>?
) {
    let request = FUSERequest(req)
    let (connection, caller) = (request.connection, request.caller)
    let file: OpenFile
    do throws(Errno) { file = try openFile(connection, ino, fi) } catch { return request.fail(error) }
    let bytes = Array(UnsafeRawBufferPointer(start: buffer, count: size))
    let unique = vfskit_current_unique() & ~(1 << 63)  // bit 63: resent by the kernel (the same request)
    connection.dispatcher.write(
        file, offset: Int64(offset), bytes: bytes, caller: caller, requestID: unique, reply: request.reply(WriteAnswer.self))
}

private func fuseFlush(_ req: fuse_req_t?, _ ino: fuse_ino_t, _ fi: UnsafeMutablePointer<fuse_file_info>?) {
    FUSERequest(req).succeed()
}

private func fuseRelease(_ req: fuse_req_t?, _ ino: fuse_ino_t, _ fi: UnsafeMutablePointer<fuse_file_info>?) {
    let request = FUSERequest(req)
    request.connection.release(fi!.pointee.fh)
    request.succeed()
}

private func fuseOpendir(_ req: fuse_req_t?, _ ino: fuse_ino_t, _ fi: UnsafeMutablePointer<fuse_file_info>?) {
    let request = FUSERequest(req)
    do throws(Errno) {
        try request.connection.dispatcher.opendir(ino, caller: request.caller)
    } catch {
        return request.fail(error)
    }
    _ = request.opened(fh: 0, flags: 0)
}

/// Fills the kernel's buffer (the getdents size, up to 1 MiB) with as many
/// entries as fit; the offset is the cookie of the last entry returned.
/// Entries are fetched in batches sized for typical names (64 bytes each, a
/// UUID's), so a full buffer costs about one batch and little is fetched in vain.
private func fuseReaddir(_ req: fuse_req_t?, _ ino: fuse_ino_t, _ size: Int, _ offset: off_t, _ fi: UnsafeMutablePointer<fuse_file_info>?) {
    let request = FUSERequest(req)
    let dispatcher = request.connection.dispatcher
    let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: max(size, 1))
    defer { buffer.deallocate() }
    var used = 0
    var cookie = Int64(offset)
    var st = stat()
    filling: while true {
        let entries: [DirectoryEntry]
        do throws(Errno) {
            entries = try dispatcher.readdir(ino, after: cookie, limit: max(1, (size - used) / 64))
        } catch {
            if used == 0 { return request.fail(error) }
            break
        }
        if entries.isEmpty { break }
        for entry in entries {
            st.st_ino = UInt(entry.ino)
            switch entry.type {
            case .directory: st.st_mode = S_IFDIR
            case .file: st.st_mode = S_IFREG
            case .symlink: st.st_mode = S_IFLNK
            }
            let needed = entry.name.withCString {
                fuse_add_direntry(request.raw, buffer + used, size - used, $0, &st, off_t(entry.cookie))
            }
            if needed > size - used { break filling }
            used += needed
            cookie = entry.cookie
        }
    }
    request.buffer(buffer, count: used)
}

private func fuseReleasedir(_ req: fuse_req_t?, _ ino: fuse_ino_t, _ fi: UnsafeMutablePointer<fuse_file_info>?) {
    FUSERequest(req).succeed()
}

/// `handle` is present when the kernel wants a notification on readiness.
private func fusePoll(_ req: fuse_req_t?, _ ino: fuse_ino_t, _ fi: UnsafeMutablePointer<fuse_file_info>?, _ handle: OpaquePointer?) {
    let request = FUSERequest(req)
    let connection = request.connection
    let waker = handle.map { FUSEPollWaker($0, connection: connection) }
    if waker != nil { connection.pollerRegistered(kh: vfskit_current_poll_kh()) }
    let caller = request.caller
    request.answer({ () throws(Errno) in
        try connection.dispatcher.poll(openFile(connection, ino, fi), caller: caller, waker: waker)
    }) { $0.poll($1) }
}

private func fuseStatfs(_ req: fuse_req_t?, _ ino: fuse_ino_t) {
    FUSERequest(req).statfs()
}
