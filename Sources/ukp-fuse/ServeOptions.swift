import ArgumentParser
import LibUKP
import Logging
import VFSKit

#if canImport(Glibc)
import Glibc
#endif

/// The daemon's options: mount the ukp tree (and optionally the simulator's control tree)
/// and serve until SIGINT or SIGTERM.
struct ServeOptions: ParsableArguments {

    enum PlatformName: String, ExpressibleByArgument, CaseIterable {
        case sim, wire
    }

    @Option(help: ArgumentHelp("Where to mount the ukp tree (created if missing).", valueName: "path"))
    var mountpoint = "/uk/libukp"

    @Option(help: "The platform to fork on: sim (embedded simulator) or wire (the platform's wire protocol).")
    var platform = PlatformName.sim

    @Option(help: ArgumentHelp("Also mount the simulator's control tree here (--platform sim).", valueName: "path"))
    var simControl: String?

    /// Where `--platform wire` reaches the platform when `--wire-path` is not given.
    static let defaultWirePath = "/dev/virtio-ports/ukp"

    @Option(
        help: ArgumentHelp(
            "With --platform wire: the platform's stream, a Unix socket or a character device (default \(defaultWirePath)).",
            valueName: "path"))
    var wirePath: String?

    @Option(
        help: ArgumentHelp(
            "What must survive a restart of the server (default: one directory per mount point under /run/ukp/).",
            valueName: "path"))
    var stateDir: String?

    @Flag(
        help: """
            With --platform wire: the platform offers this project's wire extension (say Hello; \
            take its entropy and clock). ukp-host offers it with ukp.wire=hello on the kernel command line.
            """)
    var wireHello = false

    @Option(
        help: ArgumentHelp(
            "Executables run in a new child, in name order, after the reseed and before its fork returns.",
            valueName: "dir"))
    var childHooks: String?

    @Option(help: ArgumentHelp("Seconds each child hook may run before it is killed.", valueName: "secs"))
    var childHookTimeout = 5.0

    @Flag(help: "Do not reseed the kernel CRNG when this instance becomes a child.")
    var noChildReseed = false

    @Flag(help: "Do not step CLOCK_REALTIME to the platform's clock (child, parent, boot).")
    var noClockStep = false

    @Option(help: ArgumentHelp("Fork requests that may wait behind the running one before EBUSY.", valueName: "n"))
    var forkQueueDepth = 32

    @Option(help: ArgumentHelp("Seconds a stopped child stays visible before it disappears.", valueName: "secs"))
    var stoppedRetention = 60.0

    @Flag(help: "Let other users use the tree (still subject to the file modes).")
    var allowOther = false

    @Option(help: ArgumentHelp("Owner uid of the files (default: the mounting user).", valueName: "n"))
    var uid: UInt32?

    @Option(help: ArgumentHelp("Owner gid of the files (default: the mounting user's group).", valueName: "n"))
    var gid: UInt32?

    enum HeldRequestsChoice: String, ExpressibleByArgument, CaseIterable {
        case auto, resend, fail
    }

    @Option(
        help: ArgumentHelp(
            """
            What becomes of the requests a dying server was answering: resend (the next server has \
            the kernel resend them: no caller notices; Linux 6.9+), fail (their callers get \
            ECONNABORTED), auto (resend where the kernel can, fail before 6.9).
            """, valueName: "auto|resend|fail"))
    var heldRequests = HeldRequestsChoice.auto

    /// `--held-requests` on this kernel.
    var heldRequestsOnServerDeath: FUSEHandover.HeldRequests {
        switch heldRequests {
        case .auto: KernelFeatures.hasResend ? .resent : .failed
        case .resend: .resent
        case .fail: .failed
        }
    }

    enum LogLevel: String, ExpressibleByArgument, CaseIterable {
        case trace, debug, info, notice, warning, error
        var level: Logger.Level { Logger.Level(rawValue: rawValue) ?? .info }
    }

    @Option(help: "Log level (to stderr).")
    var logLevel = LogLevel.info

    func validate() throws {
        guard (0...1_000_000).contains(forkQueueDepth) else {
            throw ValidationError("--fork-queue-depth must be between 0 and 1000000, got \(forkQueueDepth)")
        }
        guard stoppedRetention >= 0, stoppedRetention.isFinite else {
            throw ValidationError("--stopped-retention must be a non-negative number of seconds")
        }
        if platform == .wire, simControl != nil {
            throw ValidationError("--sim-control needs --platform sim: the wire platform has no simulator to control")
        }
        if platform == .sim, wirePath != nil {
            throw ValidationError("--wire-path needs --platform wire")
        }
        if platform == .sim, wireHello {
            throw ValidationError("--wire-hello needs --platform wire")
        }
        guard childHookTimeout > 0, childHookTimeout <= 86_400 else {
            throw ValidationError("--child-hook-timeout must be more than 0 and at most 86400 seconds")
        }
        if let childHooks {
            var info = stat()
            guard stat(childHooks, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
                throw ValidationError("--child-hooks \(childHooks) is not a directory")
            }
        }
        if heldRequests == .resend, !KernelFeatures.hasResend {
            throw ValidationError(
                "--held-requests resend needs FUSE_NOTIFY_RESEND (Linux 6.9+); this kernel is \(KernelFeatures.release)")
        }
        if let simControl, simControl == mountpoint {
            throw ValidationError("--sim-control must differ from --mountpoint")
        }
    }

}
