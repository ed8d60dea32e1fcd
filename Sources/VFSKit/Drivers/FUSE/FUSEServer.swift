import CFUSE
import CVFSKitIO
import Glibc
import Synchronization
public import SystemPackage

/// Serves a dispatcher's tree on a kernel FUSE mount through libfuse's low-level API:
/// `mount()`, then `serve()` (blocks on libfuse's multi-threaded loop), and `stop()` from
/// any thread to end it.
///
/// Either the server mounts the tree itself (`init(dispatcher:mountpoint:options:)`) and
/// unmounts it when it stops, or it serves a connection that a supervisor mounted and
/// handed over (`init(dispatcher:takingOver:)`): then the mount outlives the server, and a
/// server started after another one died takes over the same connection, node ids and
/// file handles included (see `FUSEHandover`).
///
/// Worker threads never wait for a handler: a handler that suspends is parked (see
/// `FUSEConnection`) and answered from whichever thread finishes it, so any number of
/// callers can block in the tree while libfuse keeps its default ten workers answering
/// everyone else.
public final class FUSEServer: Sendable {
    public let mountpoint: String
    public let options: FUSEMountOptions
    /// The connection this server takes over, if a supervisor mounted it.
    public let handover: FUSEHandover?
    private let connection: FUSEConnection
    private let phase = Mutex(Phase.idle)
    private let stopper: LoopStopper
    /// The descriptor the session reads (the handed-over one, or its clone); -1 before.
    private let servingDescriptor = Atomic<Int32>(-1)

    private enum Phase {
        case idle
        case mounted(SessionHandle)
        case serving, finished
    }

    /// A server that mounts `dispatcher`'s tree at `mountpoint` itself.
    public init(dispatcher: Dispatcher, mountpoint: String, options: FUSEMountOptions = FUSEMountOptions()) {
        self.mountpoint = mountpoint
        self.options = options
        handover = nil
        connection = FUSEConnection(dispatcher: dispatcher, epoch: 1)
        stopper = LoopStopper(mountpoint: mountpoint, pokes: true)
        Self.invalidateRemovedEntries(of: dispatcher, through: connection)
    }

    /// A server for a connection a supervisor mounted (see `FUSEMount`) and handed over.
    /// `mount()` takes the connection over; `serve()` leaves the mount in place.
    public init(dispatcher: Dispatcher, takingOver handover: FUSEHandover, options: FUSEMountOptions = FUSEMountOptions()) {
        mountpoint = handover.mountpoint
        self.options = options
        self.handover = handover
        connection = FUSEConnection(dispatcher: dispatcher, epoch: handover.epoch)
        stopper = LoopStopper(mountpoint: handover.mountpoint, pokes: false)
        Self.invalidateRemovedEntries(of: dispatcher, through: connection)
    }

    private static func invalidateRemovedEntries(of dispatcher: Dispatcher, through connection: FUSEConnection) {
        dispatcher.onEntryRemoved { [weak connection] parent, name in
            connection?.invalidateEntry(parent: parent, name: name)
        }
        dispatcher.onNodesGone { [weak connection] inos in
            connection?.invalidateAttributes(of: inos)
        }
    }

    deinit {
        if case .mounted(let session) = phase.withLock({ $0 }) {
            connection.close(answering: .ioError)
            finish(session)
        }
    }

    /// Mounts the tree (not yet answering: call `serve()`). Clears a stale
    /// mount ("Transport endpoint is not connected") at the mount point first.
    /// With a handover, takes the handed-over connection instead.
    public func mount() throws(FUSEServerError) {
        try phase.withLock { phase throws(FUSEServerError) in
            guard case .idle = phase else { throw .alreadyMounted(mountpoint) }
            let session: SessionHandle
            if let handover {
                session = try takeOver(handover)
            } else {
                try FUSEEnvironment.check(mountpoint: mountpoint, type: "fuse." + options.subtype)
                session = try openSession(mounting: true)
                try useDeviceIO(session, descriptor: fuse_session_fd(session.raw), handover: nil)
            }
            connection.attach(session)
            phase = .mounted(session)
        }
    }

    /// Answers requests until `stop()` or an external unmount, then answers every
    /// still-blocked request with `EIO` and, unless a supervisor owns the mount, unmounts.
    public func serve() {
        let session: SessionHandle? = phase.withLock { phase in
            guard case .mounted(let session) = phase else { return nil }
            phase = .serving
            return session
        }
        guard let session else { return }
        var poker: DedicatedThread?
        if !stopper.isStopRequested {
            poker = stopper.startWatching(session)
            _ = ukp_session_loop_mt(session.raw, UInt32(clamping: options.maxThreads), 0)
        }
        stopper.loopEnded()
        connection.close(answering: .ioError)
        finish(session, joining: poker)
        phase.withLock { $0 = .finished }
    }

    /// Ends `serve()`. Safe from any thread and from a signal handler (it only sets a
    /// flag and posts a semaphore).
    public func stop() {
        stopper.requestStop()
    }

    /// How many requests are blocked in handlers right now.
    public var blockedRequests: Int { connection.parkedCount }

    /// After taking over a connection: whether the kernel resent the requests the
    /// previous server had read (`FUSE_NOTIFY_RESEND`, Linux 6.9+); nil before the
    /// connection's setup was replayed, for the first server of a connection, and when held
    /// requests fail with their server (`FUSEHandover.HeldRequests.failed`).
    public var resendOutcome: Result<Void, Errno>? {
        guard let handover, handover.restarts > 0, handover.heldRequests == .resent else { return nil }
        let result = vfskit_io_resend_result(servingDescriptor.load(ordering: .relaxed))
        if result == 0 { return nil }
        return result > 0 ? .success(()) : .failure(Errno(rawValue: -result))
    }

    /// A warning when the kernel's FUSE request timeout (Linux 6.14+) is set:
    /// a request parked past it aborts the whole mount.
    public static func requestTimeoutWarning() -> String? {
        for name in ["default_request_timeout", "max_request_timeout"] {
            let path = "/proc/sys/fs/fuse/\(name)"
            if let text = readSmallFile(path), let value = Int(text.filter { !$0.isWhitespace }), value != 0 {
                return "\(path) is \(value): a request blocked longer than \(value) s aborts the whole FUSE mount"
            }
        }
        return nil
    }

    private func openSession(mounting: Bool) throws(FUSEServerError) -> SessionHandle {
        var ops = fuseOperations()
        let arguments: [String] = mounting ? ["vfskit", "-o", options.optionString] : ["vfskit"]
        let strings = arguments.map { strdup($0) }
        defer { for string in strings { free(string) } }
        var argv = strings
        let session = argv.withUnsafeMutableBufferPointer { argv -> OpaquePointer? in
            var args = fuse_args(argc: Int32(argv.count), argv: argv.baseAddress, allocated: 0)
            defer { fuse_opt_free_args(&args) }
            let userdata = Unmanaged.passUnretained(connection).toOpaque()
            return fuse_session_new(&args, &ops, MemoryLayout<fuse_lowlevel_ops>.size, userdata)
        }
        guard let session else { throw .sessionCreationFailed }
        guard !mounting || fuse_session_mount(session, mountpoint) == 0 else {
            fuse_session_destroy(session)
            throw .mountFailed(mountpoint)
        }
        return SessionHandle(raw: session)
    }

    /// A session on the handed-over descriptor: on a restart, the connection's recorded
    /// FUSE_INIT is replayed to libfuse and the recorded node ids are answered for again.
    private func takeOver(_ handover: FUSEHandover) throws(FUSEServerError) -> SessionHandle {
        let journal: NodeJournal
        do throws(Errno) {
            journal = try NodeJournal(path: handover.recordsPath + "/nodes", restore: handover.restarts > 0)
        } catch {
            throw .recordsUnusable(handover.recordsPath, errno: error.rawValue)
        }
        connection.dispatcher.tree.record(in: journal)
        connection.record(polls: journal)
        var descriptor = handover.descriptor
        if handover.heldRequests == .failed {
            descriptor = vfskit_io_clone(handover.descriptor)
            guard descriptor >= 0 else { throw .deviceCloneFailed(errno: -descriptor) }
        }
        let session = try openSession(mounting: false)
        do throws(FUSEServerError) {
            try useDeviceIO(session, descriptor: descriptor, handover: handover)
        } catch {
            fuse_session_destroy(session.raw)
            if descriptor != handover.descriptor { close(descriptor) }
            throw error
        }
        servingDescriptor.store(descriptor, ordering: .relaxed)
        return session
    }

    /// Reads and writes the device through VFSKit's hooks (`vfskit_io_*`).
    private func useDeviceIO(_ session: SessionHandle, descriptor: Int32, handover: FUSEHandover?) throws(FUSEServerError) {
        let initPath = handover.map { $0.recordsPath + "/init" }
        let replay = handover.flatMap { $0.restarts > 0 ? readSmallFile(bytesOf: $0.recordsPath + "/init") : nil }
        let attached = (replay ?? []).withUnsafeBytes { bytes in
            vfskit_io_attach(descriptor, replay == nil ? nil : bytes.baseAddress, bytes.count, initPath)
        }
        var io = fuse_custom_io()
        io.read = vfskit_io_read
        io.writev = vfskit_io_writev
        guard attached == 0, fuse_session_custom_io(session.raw, &io, descriptor) == 0 else {
            throw .sessionCreationFailed
        }
    }

    /// After the loop: unmounts a tree this server mounted, and releases the session.
    private func finish(_ session: SessionHandle, joining poker: DedicatedThread? = nil) {
        let descriptor = fuse_session_fd(session.raw)
        if handover == nil { fuse_session_unmount(session.raw) }  // closes the device: a pending poke returns
        poker?.join()
        vfskit_io_detach(descriptor)
        fuse_session_destroy(session.raw)
    }
}

/// A libfuse session pointer; libfuse's session calls are thread-safe.
struct SessionHandle: @unchecked Sendable {
    let raw: OpaquePointer
}

/// Ends the session loop on request. `fuse_session_exit` only sets a flag the
/// workers check after their next request, so a helper thread also sends one
/// (an `fstatfs` of the mount's root, held open from the start so that a mount
/// stacked on top later cannot take the request). Requests come through a
/// semaphore, so `stop()` stays async-signal-safe and never touches a session
/// being destroyed.
///
/// A server that took over a supervisor's connection does not poke: a request it sends
/// to its own mount while exiting is read and dropped by its last worker, and then its
/// thread waits for an answer forever (and the process cannot end). Its supervisor sends
/// the request instead (`FUSEMount.wakeServer()`).
final class LoopStopper: @unchecked Sendable {
    private let semaphore = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
    private let stopRequested = Atomic(false)
    private let ended = Atomic(false)
    private let mountpoint: String
    private let pokes: Bool

    init(mountpoint: String, pokes: Bool) {
        self.mountpoint = mountpoint
        self.pokes = pokes
        sem_init(semaphore, 0, 0)
    }

    deinit {
        sem_destroy(semaphore)
        semaphore.deallocate()
    }

    var isStopRequested: Bool { stopRequested.load(ordering: .sequentiallyConsistent) }

    func requestStop() {
        stopRequested.store(true, ordering: .sequentiallyConsistent)
        sem_post(semaphore)
    }

    func loopEnded() {
        ended.store(true, ordering: .sequentiallyConsistent)
        sem_post(semaphore)
    }

    /// Starts the thread that waits for `requestStop()`; joined after unmount.
    func startWatching(_ session: SessionHandle) -> DedicatedThread? {
        DedicatedThread.start { [self] in
            let root = pokes ? ukp_open_path(mountpoint) : -1
            defer { if root >= 0 { close(root) } }
            while sem_wait(semaphore) != 0 && errno == EINTR {}
            guard !ended.load(ordering: .sequentiallyConsistent) else { return }
            fuse_session_exit(session.raw)
            guard pokes else { return }
            var info = statvfs()
            _ = root >= 0 ? fstatvfs(root, &info) : statvfs(mountpoint, &info)
        }
    }
}

func errnoDescription(_ code: Int32) -> String { String(cString: strerror(code)) }

/// A small file's bytes (a recorded request), or nil.
func readSmallFile(bytesOf path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 4096)
    let count = read(fd, &buffer, buffer.count)
    guard count > 0 else { return nil }
    return Array(buffer[..<count])
}

/// The first bytes of a small file (a /proc setting), or nil.
func readSmallFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 256)
    let count = read(fd, &buffer, buffer.count)
    guard count >= 0 else { return nil }
    return String(decoding: buffer[..<count], as: UTF8.self)
}
