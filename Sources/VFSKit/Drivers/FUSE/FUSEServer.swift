import CFUSE
import Glibc
import Synchronization

/// Serves a dispatcher's tree on a kernel FUSE mount through libfuse's
/// low-level API: `mount()`, then `serve()` (blocks on libfuse's
/// multi-threaded loop), and `stop()` from any thread to unmount.
///
/// Worker threads never wait for a handler: a handler that suspends is parked
/// (see `FUSEConnection`) and answered from whichever thread finishes it, so
/// any number of callers can block in the tree while libfuse keeps its
/// default ten workers answering everyone else.
public final class FUSEServer: Sendable {
    public let mountpoint: String
    public let options: FUSEMountOptions
    private let connection: FUSEConnection
    private let phase = Mutex(Phase.idle)
    private let stopper: LoopStopper

    private enum Phase {
        case idle, mounted(SessionHandle), serving, finished
    }

    public init(dispatcher: Dispatcher, mountpoint: String, options: FUSEMountOptions = FUSEMountOptions()) {
        self.mountpoint = mountpoint
        self.options = options
        let connection = FUSEConnection(dispatcher: dispatcher)
        self.connection = connection
        self.stopper = LoopStopper(mountpoint: mountpoint)
        dispatcher.onEntryRemoved { [weak connection] parent, name in
            connection?.invalidateEntry(parent: parent, name: name)
        }
    }

    deinit {
        if case .mounted(let session) = phase.withLock({ $0 }) {
            connection.close(answering: .ioError)
            unmount(session)
        }
    }

    /// Mounts the tree (not yet answering: call `serve()`). Clears a stale
    /// mount ("Transport endpoint is not connected") at the mount point first.
    public func mount() throws(FUSEServerError) {
        try phase.withLock { phase throws(FUSEServerError) in
            guard case .idle = phase else { throw .alreadyMounted(mountpoint) }
            try FUSEEnvironment.check(mountpoint: mountpoint, type: "fuse." + options.subtype)
            let session = try openSession()
            connection.attach(session)
            phase = .mounted(session)
        }
    }

    /// Answers requests until `stop()` or an external unmount, then answers
    /// every still-blocked request with `EIO` and unmounts.
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
        unmount(session, joining: poker)
        phase.withLock { $0 = .finished }
    }

    /// Ends `serve()`, which then unmounts. Safe from any thread and from a
    /// signal handler (it only sets a flag and posts a semaphore).
    public func stop() {
        stopper.requestStop()
    }

    /// How many requests are blocked in handlers right now.
    public var blockedRequests: Int { connection.parkedCount }

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

    private func openSession() throws(FUSEServerError) -> SessionHandle {
        var ops = fuseOperations()
        let arguments: [String] = ["vfskit", "-o", options.optionString]
        let strings = arguments.map { strdup($0) }
        defer { strings.forEach { free($0) } }
        var argv = strings
        let session = argv.withUnsafeMutableBufferPointer { argv -> OpaquePointer? in
            var args = fuse_args(argc: Int32(argv.count), argv: argv.baseAddress, allocated: 0)
            defer { fuse_opt_free_args(&args) }
            let userdata = Unmanaged.passUnretained(connection).toOpaque()
            return fuse_session_new(&args, &ops, MemoryLayout<fuse_lowlevel_ops>.size, userdata)
        }
        guard let session else { throw .sessionCreationFailed }
        guard fuse_session_mount(session, mountpoint) == 0 else {
            fuse_session_destroy(session)
            throw .mountFailed(mountpoint)
        }
        return SessionHandle(raw: session)
    }

    private func unmount(_ session: SessionHandle, joining poker: DedicatedThread? = nil) {
        fuse_session_unmount(session.raw) // closes the device: a pending poke returns
        poker?.join()
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
final class LoopStopper: @unchecked Sendable {
    private let semaphore = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
    private let stopRequested = Atomic(false)
    private let ended = Atomic(false)
    private let mountpoint: String

    init(mountpoint: String) {
        self.mountpoint = mountpoint
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
            let root = ukp_open_path(mountpoint)
            defer { if root >= 0 { close(root) } }
            while sem_wait(semaphore) != 0 && errno == EINTR {}
            guard !ended.load(ordering: .sequentiallyConsistent) else { return }
            fuse_session_exit(session.raw)
            var info = statvfs()
            _ = root >= 0 ? fstatvfs(root, &info) : statvfs(mountpoint, &info)
        }
    }
}

func errnoDescription(_ code: Int32) -> String { String(cString: strerror(code)) }

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
