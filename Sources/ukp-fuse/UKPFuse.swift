import ArgumentParser
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// `ukp-fuse`: serves the ukp fork filesystem of this instance.
@main
struct UKPFuse: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ukp-fuse",
        abstract: "Serve the ukp instance-forking filesystem over FUSE.",
        discussion: """
            Write fork to fork this instance (parent and child both resume); read it for the child UUID.
            vm/<uuid>/ tracks each child: snapshot, creation_time, status, and wait (blocks until exit).
            """,
        subcommands: [Spec.self, Upgrade.self, ServeConnection.self]
    )

    @OptionGroup var options: ServeOptions

    /// Runs the supervisor, which starts the server (`serve-connection`) with these arguments.
    func run() async throws {
        let logger = Logging.start(options.logLevel)
        let arguments = Array(CommandLine.arguments.dropFirst())
        let status = try await Supervisor(settings: options, arguments: arguments, logger: logger).run()
        if status != 0 { Glibc.exit(status) }
    }

    /// Parses and runs; a parse error is one line on stderr and exit status 64.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                Glibc.exit(0)
            }
            let message = message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            StandardError.write("ukp-fuse: \(message)\n")
            Glibc.exit(code.rawValue)
        }
    }
}

/// Unbuffered writes to file descriptor 2.
enum StandardError {
    static func write(_ text: String) {
        var text = text
        text.withUTF8 { bytes in _ = Glibc.write(2, bytes.baseAddress, bytes.count) }
    }
}
