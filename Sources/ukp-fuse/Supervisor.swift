import CDaemon
import Dispatch
import Logging
import Synchronization
import VFSKit

#if canImport(Glibc)
import Glibc
#endif

/// `ukp-fuse` itself: owns the mounts and their `/dev/fuse` descriptors and runs the
/// server that answers them as a child process (`ukp-fuse serve-connection`), holding no
/// FUSE logic itself.
///
/// - The server dies (a crash, SIGKILL): a new one starts on the same connections at once
///   (after a backoff when it keeps dying), so the mounts never go away.
/// - SIGHUP, or `ukp-fuse upgrade`: the server is replaced by the binary now on disk, the
///   same way.
/// - SIGTERM/SIGINT: the server answers every blocked caller with `EIO` and exits; then
///   the mounts go, the state directory is emptied, and the supervisor exits 0.
/// - The first server fails to start (a configuration it cannot serve): its one-line error
///   stands, the mounts go, and the supervisor exits with its status.
final class Supervisor: @unchecked Sendable {
    /// A server exit status that means "do not start me again": the configuration is unusable.
    static let configurationError: Int32 = 78

    private let settings: ServeOptions
    private let arguments: [String]
    private let executable: String
    private let state: StateDirectory
    private let logger: Logger
    private let queue = DispatchQueue(label: "ukp-fuse.supervisor")

    // Touched on `queue` only.
    private var mounts: [(tree: String, mount: FUSEMount)] = []
    private var server: pid_t?
    private var restarts = 0
    private var startedAt = timespec()
    private var quickDeaths = 0
    private var stopping = false
    private var upgrading = false
    private var sources: [any DispatchSourceProtocol] = []
    /// Set once the stopping server has exited (ends `FUSEMount.wakeServer`).
    private var serverExit: ServerGone?

    private final class ServerGone: Sendable {
        let value = Atomic(false)
    }
    /// The read end goes to each server; the write end stays here (see `Server.exitWhenClosed`).
    private var lifeline: (read: Int32, write: Int32) = (-1, -1)
    private var finished: CheckedContinuation<Int32, Never>?

    init(settings: ServeOptions, arguments: [String], logger: Logger) {
        self.settings = settings
        self.arguments = arguments
        self.logger = logger
        executable = Self.ownExecutable()
        state = StateDirectory(path: settings.stateDir ?? StateDirectory.defaultPath(for: settings.mountpoint))
    }

    /// Mounts, serves until stopped, unmounts; returns the exit status.
    func run() async throws -> Int32 {
        try state.create()
        try mount()
        writePIDFile()
        if settings.heldRequestsOnServerDeath == .failed {
            let why =
                KernelFeatures.hasResend
                ? "--held-requests fail" : "this kernel (\(KernelFeatures.release)) has no FUSE_NOTIFY_RESEND (Linux 6.9+)"
            logger.warning("\(why): if the server dies, the requests it was answering fail with ECONNABORTED")
        }
        return await withCheckedContinuation { continuation in
            queue.async { [self] in
                finished = continuation
                watchSignals()
                startServer()
                announceWhenServing()
            }
        }
    }

    // MARK: Mounting

    private func mount() throws {
        let options = FUSEMountOptions(allowOther: settings.allowOther, fsname: "ukp", subtype: "ukp")
        var paths = [("ukp", settings.mountpoint)]
        if let control = settings.simControl { paths.append(("control", control)) }
        do {
            for (tree, path) in paths {
                try MountPoint.create(path)
                try state.clearRecords(of: tree)
                mounts.append((tree, try FUSEMount(at: path, options: options)))
            }
        } catch {
            for (_, mount) in mounts { mount.unmount() }
            mounts = []
            throw error
        }
    }

    private func unmountAll() {
        for (_, mount) in mounts { mount.unmount() }
        mounts = []
    }

    // MARK: The server

    /// Starts a server on the mounts' descriptors (fds 3, 4, … in the child).
    private func startServer() {
        if lifeline.read < 0 {
            var ends: [Int32] = [-1, -1]
            if pipe(&ends) == 0 {
                for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
                lifeline = (ends[0], ends[1])
            }
        }
        let descriptors = mounts.map(\.mount.descriptor) + (lifeline.read >= 0 ? [lifeline.read] : [])
        var command = [executable, "serve-connection", "--restarts", String(restarts)]
        if lifeline.read >= 0 { command += ["--lifeline", String(3 + mounts.count)] }
        command += arguments
        let environment = ServerEnvironment.forServer(ServerEnvironment.current)
        switch ProcessSpawner.spawn(command, descriptors: descriptors, environment: environment) {
        case .success(let pid):
            server = pid
            clock_gettime(CLOCK_MONOTONIC, &startedAt)
            if restarts > 0 { logger.notice("server \(pid) started (restart \(restarts))") }
        case .failure(let error):
            logger.error("cannot start the server \(executable): \(error); retrying in 1 s")
            queue.asyncAfter(deadline: .now() + 1) { [self] in if !stopping { startServer() } }
        }
    }

    /// Prints `ukp-fuse: serving PATH` once the first server answers.
    private func announceWhenServing() {
        let path = settings.mountpoint
        DedicatedThread.detach { [logger] in
            guard MountPoint.waitUntilAnswering(path, timeout: 3600) else { return }
            print("ukp-fuse: serving \(path)")
            fflush(nil)
            logger.debug("serving")
        }
    }

    /// The server exited: start another, unless stopping; give up on a first server that
    /// refused its configuration.
    private func serverExited(_ status: Int32) {
        server = nil
        serverExit?.value.store(true, ordering: .releasing)
        let code = status & 0x7f == 0 ? (status >> 8) & 0xff : -1
        let signal = status & 0x7f
        if stopping {
            finish(code == 0 || signal != 0 ? 0 : code)
            return
        }
        if restarts == 0 && code == Self.configurationError {
            finish(1, quietly: true)  // the server's one-line error says it all
            return
        }
        let how = signal != 0 ? "was killed by signal \(signal)" : "exited with status \(code)"
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let lived = Double(now.tv_sec - startedAt.tv_sec) + Double(now.tv_nsec - startedAt.tv_nsec) / 1e9
        // A crash loop (a server that fails by itself as it starts, again and again) backs off;
        // a server killed from outside (SIGKILL: an operator, a test, an upgrade) comes back at once.
        quickDeaths = lived < 1 && signal != SIGKILL && !upgrading ? quickDeaths + 1 : 0
        restarts += 1
        let delay = quickDeaths < 3 ? 0 : min(5.0, 0.1 * Double(1 << min(quickDeaths - 3, 6)))
        if upgrading {
            logger.notice("server \(how); starting the binary now on disk (\(executable))")
        } else if delay > 0 {
            logger.error("server \(how) \(quickDeaths) times in a row as it started; restarting in \(Int(delay * 1000)) ms")
        } else {
            logger.error("server \(how); restarting it on the same mount")
        }
        upgrading = false
        if delay > 0 {
            queue.asyncAfter(deadline: .now() + delay) { [self] in if !stopping { startServer() } }
        } else {
            startServer()
        }
    }

    private func finish(_ status: Int32, quietly: Bool = false) {
        unmountAll()
        state.clear()
        for source in sources { source.cancel() }
        if !quietly { logger.info("unmounted; exiting") }
        finished?.resume(returning: status)
        finished = nil
    }

    // MARK: Signals

    private func watchSignals() {
        for number in [SIGTERM, SIGINT, SIGHUP, SIGCHLD] {
            // Ignored until the source's handler takes over; SIGCHLD never (ignoring it reaps children).
            if number != SIGCHLD { signal(number, SIG_IGN) }
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { [self] in handle(number) }
            source.resume()
            sources.append(source)
        }
    }

    private func handle(_ number: Int32) {
        switch number {
        case SIGCHLD:
            var status: Int32 = 0
            while true {
                let pid = waitpid(-1, &status, WNOHANG)
                guard pid > 0 else { break }
                if pid == server { serverExited(status) }
            }
        case SIGHUP:
            guard let server, !stopping else { return }
            logger.notice("SIGHUP: replacing server \(server) with \(executable)")
            upgrading = true
            kill(server, SIGKILL)
        default:
            guard !stopping else { return }
            stopping = true
            logger.info("shutting down: the server answers blocked callers with EIO")
            guard let server else { return finish(0) }
            kill(server, SIGTERM)
            // Its loop notices the stop on its next request: send some until it has gone.
            let serverGone = ServerGone()
            serverExit = serverGone
            for (_, mount) in mounts { mount.wakeServer { serverGone.value.load(ordering: .acquiring) } }
        }
    }

    // MARK: Helpers

    private func writePIDFile() {
        let text = "\(getpid())\n"
        let fd = open(state.supervisorPIDFile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        _ = text.withCString { write(fd, $0, strlen($0)) }
        close(fd)
    }

    /// This binary's path, resolved now: a binary replaced on disk later starts the next server.
    private static func ownExecutable() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return CommandLine.arguments[0] }
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
