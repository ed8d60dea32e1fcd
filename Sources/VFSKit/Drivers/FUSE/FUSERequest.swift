import CFUSE
import Glibc
import SystemPackage

/// One kernel request, answered exactly once: every reply consumes it, and one dropped
/// unanswered answers `EIO` (and logs). libfuse takes exactly one reply per request, from
/// any thread.
struct FUSERequest: ~Copyable {
    let raw: OpaquePointer

    init(_ raw: fuse_req_t?) { self.raw = raw! }

    /// The state reached through `fuse_session_new`'s userdata.
    var connection: FUSEConnection { FUSEConnection.of(raw) }

    /// Who sent it: the kernel reports the calling thread's id as `pid`.
    var caller: Caller {
        let context = fuse_req_ctx(raw)!.pointee
        return Caller(uid: context.uid, gid: context.gid, threadID: context.pid)
    }

    /// The request, for a reply that libfuse sends in another form.
    private consuming func take() -> OpaquePointer {
        let raw = self.raw
        discard self
        return raw
    }

    deinit {
        VFSKitLog.unanswered("a FUSE request was dropped unanswered")
        _ = fuse_reply_err(raw, EIO)
    }

    // MARK: Replies

    consuming func fail(_ error: Errno) { _ = fuse_reply_err(take(), error.rawValue) }

    consuming func succeed() { _ = fuse_reply_err(take(), 0) }

    consuming func none() { fuse_reply_none(take()) }

    /// Answers with `body`'s value through `send`, or with the errno it throws.
    consuming func answer<Value>(
        _ body: () throws(Errno) -> Value, _ send: (consuming FUSERequest, Value) -> Void
    ) {
        let value: Value
        do throws(Errno) {
            value = try body()
        } catch {
            return fail(error)
        }
        send(self, value)
    }

    consuming func entry(_ attributes: Attributes) {
        var entry = fuse_entry_param()
        entry.ino = attributes.ino
        entry.generation = 0  // inode numbers are never reused
        entry.attr = attributes.stat
        entry.attr_timeout = attributes.attributeTimeout
        entry.entry_timeout = attributes.timeout
        _ = fuse_reply_entry(take(), &entry)
    }

    consuming func attributes(_ attributes: Attributes) {
        var st = attributes.stat
        _ = fuse_reply_attr(take(), &st, attributes.attributeTimeout)
    }

    /// Answers with the first `count` bytes at `buffer`.
    consuming func buffer(_ buffer: UnsafePointer<CChar>, count: Int) {
        _ = fuse_reply_buf(take(), buffer, count)
    }

    /// Answers an open with raw kernel flags; false when the request is gone
    /// (the kernel never saw `fh`, so the caller must release it).
    consuming func opened(fh: UInt64, flags: UInt32) -> Bool { ukp_reply_open(take(), fh, flags) == 0 }

    consuming func link(_ target: String) { _ = fuse_reply_readlink(take(), target) }

    consuming func poll(_ events: PollEvents) { _ = fuse_reply_poll(take(), events.rawValue) }

    consuming func statfs() {
        var info = statvfs()
        info.f_bsize = 4096
        info.f_frsize = 4096
        info.f_namemax = 255
        _ = fuse_reply_statfs(take(), &info)
    }

    /// The request as the `Reply` of a read or a write, for the dispatcher.
    consuming func reply<Answer: FUSEAnswer>(_ answer: Answer.Type) -> FUSEReply<Answer> {
        FUSEReply(take())
    }
}

/// How a successful read or write is answered.
protocol FUSEAnswer: SendableMetatype {
    associatedtype Value: Sendable
    static func send(_ value: Value, to raw: OpaquePointer)
}

/// A read answers its bytes.
enum ReadAnswer: FUSEAnswer {
    static func send(_ value: ArraySlice<UInt8>, to raw: OpaquePointer) {
        _ = value.withUnsafeBytes { fuse_reply_buf(raw, $0.baseAddress?.assumingMemoryBound(to: CChar.self), $0.count) }
    }
}

/// A write answers how many bytes it took.
enum WriteAnswer: FUSEAnswer {
    static func send(_ value: Int, to raw: OpaquePointer) { _ = fuse_reply_write(raw, value) }
}

/// A read or write request as the dispatcher answers it: now, on the receiving thread, or
/// later through a `LaterReply` that the connection keeps until it is answered.
struct FUSEReply<Answer: FUSEAnswer>: Reply, ~Copyable {
    private let raw: OpaquePointer

    fileprivate init(_ raw: OpaquePointer) { self.raw = raw }

    consuming func send(_ result: Result<Answer.Value, Errno>) {
        let raw = self.raw
        discard self
        Self.send(result, to: raw)
    }

    consuming func answerLater(onInterrupt: @escaping @Sendable () -> Void) -> LaterReply<Answer.Value> {
        let raw = self.raw
        discard self
        return FUSEConnection.of(raw).park(raw, onInterrupt: onInterrupt) { raw, result in Self.send(result, to: raw) }
    }

    private static func send(_ result: Result<Answer.Value, Errno>, to raw: OpaquePointer) {
        switch result {
        case .success(let value): Answer.send(value, to: raw)
        case .failure(let error): _ = fuse_reply_err(raw, error.rawValue)
        }
    }

    deinit {
        VFSKitLog.unanswered("a FUSE read or write was dropped unanswered")
        _ = fuse_reply_err(raw, EIO)
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
