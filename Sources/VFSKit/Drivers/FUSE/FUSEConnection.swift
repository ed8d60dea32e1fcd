import CFUSE
import CVFSKitIO
import Dispatch
import Glibc
import Synchronization
import SystemPackage

/// What the libfuse callbacks reach through the session's userdata: the dispatcher, the
/// requests that wait for a later answer, and whether the session may still be written to.
///
/// A reply sent from inside a callback is always safe (the session outlives its worker
/// threads). A reply that comes later, from another thread, goes through a parked request,
/// sent only while it is registered here: after `close()` the session may be gone, so
/// late replies are dropped (`close()` answered them).
final class FUSEConnection: Sendable {
    let dispatcher: Dispatcher
    /// Tags this server's file handles (see `FUSEHandover.epoch`).
    let epoch: UInt16

    /// Parked requests by `fuse_req_t` address, in shards: answers given on several threads
    /// at once (writers released by one signal) rarely meet on one lock.
    private final class Shard: Sendable {
        let requests = Mutex<[UInt: ParkedRequest]>([:])
    }

    private static let shardCount = 16
    private let shards = (0..<FUSEConnection.shardCount).map { _ in Shard() }
    /// Later answers being sent right now, and whether `close()` began: a later answer is
    /// sent only while the session is open (`close()` waits for those under way).
    private let answering = Atomic<Int>(0)
    private let closed = Atomic(false)
    /// The session, while notifications may be written to it.
    private let notificationTarget = Mutex<SessionHandle?>(nil)
    /// Entry invalidations wait for the kernel's directory lock: never on a caller's thread.
    private let invalidations = DispatchQueue(label: "vfskit.fuse.invalidate")
    /// Open files behind handles an earlier server gave out, reopened on first use.
    private let adopted = Mutex<[UInt64: OpenFile]>([:])
    /// Where poll handles are recorded (a handed-over connection), and those recorded so far.
    private let pollRecords = Mutex<(journal: NodeJournal?, recorded: Set<UInt64>)>((nil, []))

    init(dispatcher: Dispatcher, epoch: UInt16) {
        self.dispatcher = dispatcher
        self.epoch = epoch
    }

    // MARK: - File handles

    /// The kernel's handle for `file`: the retained object's address, tagged with `epoch`.
    func handle(for file: OpenFile) -> UInt64 {
        let address = UInt64(UInt(bitPattern: Unmanaged.passRetained(file).toOpaque()))
        precondition(address >> 48 == 0, "an object address above 2^48: file handles cannot be tagged")
        return address | UInt64(epoch) << 48
    }

    /// The open file behind handle `fh` of node `ino`. A handle an earlier server gave out
    /// is reopened with the request's `flags` (its per-open state is gone, as after a fresh open).
    func file(_ fh: UInt64, ino: UInt64, flags: Int32) throws(Errno) -> OpenFile {
        if fh >> 48 == UInt64(epoch) {
            return Unmanaged<OpenFile>.fromOpaque(UnsafeRawPointer(bitPattern: UInt(fh & (1 << 48 - 1)))!).takeUnretainedValue()
        }
        if let file = adopted.withLock({ $0[fh] }), flags & 0o3 == file.flags & 0o3 { return file }
        let file = try dispatcher.reopen(ino, flags: flags)
        let replaced = adopted.withLock { $0.updateValue(file, forKey: fh) }
        if let replaced { dispatcher.release(replaced) }
        return file
    }

    /// The kernel closed handle `fh`.
    func release(_ fh: UInt64) {
        if fh >> 48 == UInt64(epoch) {
            let file = Unmanaged<OpenFile>.fromOpaque(UnsafeRawPointer(bitPattern: UInt(fh & (1 << 48 - 1)))!)
                .takeRetainedValue()
            dispatcher.release(file)
        } else if let file = adopted.withLock({ $0.removeValue(forKey: fh) }) {
            dispatcher.release(file)
        }
    }

    // MARK: - Pollers across restarts

    /// Records the kernel's poll handles in `journal` from now on.
    func record(polls journal: NodeJournal) {
        pollRecords.withLock { $0.journal = journal }
    }

    /// A poller registered under kernel handle `kh`: recorded once, so that a server taking
    /// over wakes it.
    func pollerRegistered(kh: UInt64) {
        guard kh != 0 else { return }
        let journal = pollRecords.withLock { records -> NodeJournal? in
            guard let journal = records.journal, records.recorded.insert(kh).inserted else { return nil }
            return journal
        }
        journal?.recordPoll(kh)
    }

    /// The connection is set up: after a restart, wakes every poller the dead server had
    /// registered (they poll again; `poll(2)` allows spurious wake-ups), and makes the kernel
    /// ask again for the attributes of every node the dead server had named (one that went
    /// meanwhile then answers the removed-entry errno to `fstat` too).
    func initialized() {
        guard let journal = pollRecords.withLock({ $0.journal }),
            !journal.recoveredPolls.isEmpty || !journal.recoveredInos.isEmpty,
            let session = notificationTarget.withLock({ $0 })
        else { return }
        let descriptor = fuse_session_fd(session.raw)
        invalidations.async {
            for kh in journal.recoveredPolls { _ = vfskit_notify_poll(descriptor, kh) }
            for ino in journal.recoveredInos { _ = vfskit_notify_inval_attributes(descriptor, ino) }
        }
    }

    /// The connection a request belongs to.
    static func of(_ raw: OpaquePointer) -> FUSEConnection {
        Unmanaged<FUSEConnection>.fromOpaque(fuse_req_userdata(raw)!).takeUnretainedValue()
    }

    /// Keeps a request that will be answered later: hooks up the kernel's interrupt (which
    /// reaches `onInterrupt` off libfuse's thread) and returns the reply that answers it
    /// once, through `send`, unless `close()` answered it first.
    func park<Value: Sendable>(
        _ raw: OpaquePointer, onInterrupt: @escaping @Sendable () -> Void,
        send: @escaping @Sendable (OpaquePointer, Result<Value, Errno>) -> Void
    ) -> LaterReply<Value> {
        let key = Self.key(raw)
        shard(key).requests.withLock { $0[key] = ParkedRequest(raw: raw, onInterrupt: onInterrupt) }
        fuse_req_interrupt_func(raw, fuseInterrupted, Unmanaged.passUnretained(self).toOpaque())
        return LaterReply { [self] result in
            answer(key) { send($0, result) }
        }
    }

    /// Answers a parked request with `send`, unless `close()` already did. No lock is held
    /// while sending: an interrupt racing with the answer finds the request gone (libfuse
    /// keeps the request's memory while its interrupt callback runs, so its address is
    /// not reused meanwhile).
    private func answer(_ key: UInt, _ send: (OpaquePointer) -> Void) {
        answering.add(1, ordering: .sequentiallyConsistent)
        defer { answering.subtract(1, ordering: .sequentiallyConsistent) }
        guard !closed.load(ordering: .sequentiallyConsistent),
            let request = shard(key).requests.withLock({ $0.removeValue(forKey: key) })
        else { return }
        send(request.raw)
    }

    /// The kernel interrupted the parked request `raw`: stop its handler, from another thread.
    func interrupted(_ raw: OpaquePointer) {
        let key = Self.key(raw)
        guard let request = shard(key).requests.withLock({ $0[key] }) else { return }
        DispatchQueue.global().async { request.onInterrupt() }
    }

    private static func key(_ raw: OpaquePointer) -> UInt { UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(raw))) }

    private func shard(_ key: UInt) -> Shard { shards[Int((key >> 4) % UInt(Self.shardCount))] }

    /// Lets notifications reach the kernel once the session is mounted.
    func attach(_ session: SessionHandle) {
        notificationTarget.withLock { $0 = session }
    }

    /// Wakes kernel pollers through a poll handle, unless the session is closed.
    func notifyPoll(_ handle: OpaquePointer) {
        notificationTarget.withLock { session in
            if session != nil { _ = fuse_lowlevel_notify_poll(handle) }
        }
        fuse_pollhandle_destroy(handle)
    }

    /// Drops the kernel's cached dentry for a removed entry (asynchronously:
    /// the kernel takes the directory's lock, which a caller may hold).
    func invalidateEntry(parent: UInt64, name: String) {
        invalidations.async { [self] in
            notificationTarget.withLock { session in
                guard let session else { return }
                _ = name.withCString { fuse_lowlevel_notify_inval_entry(session.raw, parent, $0, strlen($0)) }
            }
        }
    }

    /// Makes the kernel drop the cached attributes of gone nodes, at once: their next `stat`
    /// asks (and gets the removed-entry errno). Attributes only (no page-cache range), which
    /// takes no inode lock, so it is safe from any thread; an id the kernel does not hold is
    /// skipped by the kernel (`ENOENT`).
    func invalidateAttributes(of inos: [UInt64]) {
        notificationTarget.withLock { session in
            guard let session else { return }
            let descriptor = fuse_session_fd(session.raw)
            for ino in inos { _ = vfskit_notify_inval_attributes(descriptor, ino) }
        }
    }

    /// Once the session loop has ended: answers every parked request with `error`, stops
    /// its handler, and stops all further writes to the session.
    func close(answering error: Errno = .ioError) {
        closed.store(true, ordering: .sequentiallyConsistent)
        while answering.load(ordering: .sequentiallyConsistent) > 0 { sched_yield() }
        var abandoned: [ParkedRequest] = []
        for shard in shards {
            abandoned += shard.requests.withLock { requests in
                defer { requests = [:] }
                return Array(requests.values)
            }
        }
        for request in abandoned {
            fuse_req_interrupt_func(request.raw, nil, nil)
            _ = fuse_reply_err(request.raw, error.rawValue)
        }
        notificationTarget.withLock { $0 = nil }
        for request in abandoned { request.onInterrupt() }
    }

    /// How many requests wait for a later answer right now.
    var parkedCount: Int { shards.reduce(0) { $0 + $1.requests.withLock { $0.count } } }
}

/// A request answered later: the kernel request and what stops its handler.
final class ParkedRequest: @unchecked Sendable {
    /// libfuse takes one reply per request from any thread; `FUSEConnection` guards it.
    let raw: OpaquePointer
    let onInterrupt: @Sendable () -> Void

    init(raw: OpaquePointer, onInterrupt: @escaping @Sendable () -> Void) {
        self.raw = raw
        self.onInterrupt = onInterrupt
    }
}

/// The kernel interrupted a parked request (the caller got a signal). libfuse calls this
/// on its worker with the request's lock held: the handler is stopped from another thread
/// (its answer may come at once), never from here.
func fuseInterrupted(_ req: fuse_req_t?, _ data: UnsafeMutableRawPointer?) {
    guard let req, let data else { return }
    Unmanaged<FUSEConnection>.fromOpaque(data).takeUnretainedValue().interrupted(req)
}
