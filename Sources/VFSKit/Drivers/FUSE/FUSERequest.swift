import CFUSE
import Glibc
import SystemPackage

/// One kernel request. libfuse takes exactly one reply per request, from any
/// thread, which is what makes sending the pointer across threads sound.
struct FUSERequest: @unchecked Sendable {
    let raw: OpaquePointer

    init(_ raw: fuse_req_t?) { self.raw = raw! }

    /// The state reached through `fuse_session_new`'s userdata.
    var connection: FUSEConnection {
        Unmanaged<FUSEConnection>.fromOpaque(fuse_req_userdata(raw)!).takeUnretainedValue()
    }

    /// Who sent it: the kernel reports the calling thread's id as `pid`.
    var caller: Caller {
        let context = fuse_req_ctx(raw)!.pointee
        return Caller(uid: context.uid, gid: context.gid, threadID: context.pid)
    }

    var key: UInt { UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(raw))) }

    // MARK: Replies (each consumes the request)

    func fail(_ error: Errno) { _ = fuse_reply_err(raw, error.rawValue) }

    func succeed() { _ = fuse_reply_err(raw, 0) }

    func none() { fuse_reply_none(raw) }

    func entry(_ attributes: Attributes) {
        var entry = fuse_entry_param()
        entry.ino = attributes.ino
        entry.generation = 0 // inode numbers are never reused
        entry.attr = attributes.stat
        entry.attr_timeout = attributes.timeout
        entry.entry_timeout = attributes.timeout
        _ = fuse_reply_entry(raw, &entry)
    }

    func attributes(_ attributes: Attributes) {
        var st = attributes.stat
        _ = fuse_reply_attr(raw, &st, attributes.timeout)
    }

    func bytes(_ bytes: ArraySlice<UInt8>) {
        _ = bytes.withUnsafeBytes { fuse_reply_buf(raw, $0.baseAddress?.assumingMemoryBound(to: CChar.self), $0.count) }
    }

    func written(_ count: Int) { _ = fuse_reply_write(raw, count) }

    /// Answers an open with raw kernel flags; false when the request is gone
    /// (the kernel never saw `fh`, so the caller must release it).
    func opened(fh: UInt64, flags: UInt32) -> Bool { ukp_reply_open(raw, fh, flags) == 0 }

    func poll(_ events: PollEvents) { _ = fuse_reply_poll(raw, events.rawValue) }

    func statfs() {
        var info = statvfs()
        info.f_bsize = 4096
        info.f_frsize = 4096
        info.f_namemax = 255
        _ = fuse_reply_statfs(raw, &info)
    }
}

extension Attributes {
    var stat: Glibc.stat {
        var st = Glibc.stat()
        st.st_ino = UInt(ino)
        st.st_mode = mode
        st.st_nlink = UInt(nlink)
        st.st_uid = uid
        st.st_gid = gid
        st.st_size = Int(size)
        st.st_blksize = 4096
        let time = timespec(tv_sec: Int(seconds), tv_nsec: 0)
        st.st_atim = time
        st.st_mtim = time
        st.st_ctim = time
        return st
    }
}
