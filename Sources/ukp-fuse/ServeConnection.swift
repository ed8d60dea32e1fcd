import ArgumentParser
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// `ukp-fuse serve-connection`: the server process the supervisor starts on the mounts it
/// owns (fds 3, 4, …). Not for people: `ukp-fuse` starts it.
struct ServeConnection: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve-connection",
        abstract: "Serve the connections a ukp-fuse supervisor mounted (started by ukp-fuse).",
        shouldDisplay: false)

    @Option(help: "How many servers served these connections before this one.")
    var restarts = 0

    @Option(help: "A descriptor that reaches end of file when the supervisor dies.")
    var lifeline: Int32?

    @OptionGroup var options: ServeOptions

    func run() async throws {
        ServerEnvironment.restoreInherited()
        let logger = Logging.start(options.logLevel, label: restarts == 0 ? "ukp-fuse" : "ukp-fuse[\(restarts)]")
        do {
            try await Server(settings: options, restarts: restarts, logger: logger, lifeline: lifeline).run()
        } catch {
            // The first server's configuration error ends the supervisor too (status 78).
            StandardError.write("ukp-fuse: \(error)\n")
            Glibc.exit(Supervisor.configurationError)
        }
    }
}

/// `ukp-fuse upgrade`: replaces the running server with the binary now on disk, without
/// unmounting (SIGHUP to the supervisor of that mount point).
struct Upgrade: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replace the server of a running ukp-fuse with the binary now on disk (zero downtime).")

    /// The daemon's options (`--mountpoint`, `--state-dir`) name the daemon to upgrade.
    @OptionGroup var options: ServeOptions

    func run() throws {
        let mountpoint = options.mountpoint
        let state = StateDirectory(path: options.stateDir ?? StateDirectory.defaultPath(for: mountpoint))
        let text = readText(state.supervisorPIDFile) ?? ""
        guard let pid = pid_t(text.filter { !$0.isWhitespace }), pid > 0 else {
            throw ValidationError("no ukp-fuse runs for \(mountpoint): \(state.supervisorPIDFile) is missing")
        }
        guard kill(pid, SIGHUP) == 0 else {
            throw ValidationError("cannot signal ukp-fuse \(pid): \(String(cString: strerror(errno)))")
        }
        print("ukp-fuse: upgrading the server of \(mountpoint) (supervisor \(pid))")
    }

    private func readText(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = read(fd, &buffer, buffer.count)
        return count > 0 ? String(decoding: buffer[..<count], as: UTF8.self) : nil
    }
}

/// Logs to stderr at the chosen level.
enum Logging {
    static func start(_ level: ServeOptions.LogLevel, label: String = "ukp-fuse") -> Logger {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level.level
            return handler
        }
        return Logger(label: label)
    }
}
