import Subprocess
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Runs one child hook as a process: in a process group of its own, stdin from nothing,
/// stdout and stderr to the daemon's stderr (its log), no other descriptor. Waiting
/// suspends the task and blocks no thread; past the timeout the whole group gets `SIGKILL`.
enum HookProcess {
    static func run(_ path: String, environment: [String: String], timeout: Duration) async -> HookResult {
        let options = {
            var options = PlatformOptions()
            options.processGroupID = 0
            options.teardownSequence = [.send(signal: .kill, toProcessGroup: true, allowedDurationToNextStep: .seconds(1))]
            return options
        }()
        let environment = Environment.inherit.updating(
            Dictionary(uniqueKeysWithValues: environment.map { (Environment.Key(rawValue: $0.key)!, $0.value) }))
        let log = FileDescriptor.standardError
        return await withTaskGroup(of: HookResult?.self) { group in
            group.addTask {
                do {
                    let outcome = try await Subprocess.run(
                        .path(FilePath(path)), arguments: [], environment: environment,
                        platformOptions: options, input: .none,
                        output: .fileDescriptor(log, closeAfterSpawningProcess: false),
                        error: .fileDescriptor(log, closeAfterSpawningProcess: false))
                    switch outcome.terminationStatus {
                    case .exited(let status): return .exited(Int32(status))
                    case .signaled(let signal): return .signalled(Int32(signal))
                    }
                } catch is CancellationError {
                    return nil
                } catch {
                    return .failedToStart(Self.errno(of: error))
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return Task.isCancelled ? nil : .timedOut(timeout)
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            // After a timeout, the hook's task ends once its group is killed and reaped.
            for await _ in group {}
            return first ?? .timedOut(timeout)
        }
    }

    private static func errno(of error: any Error) -> Errno {
        if let error = error as? SubprocessError, let underlying = error.underlyingError { return underlying }
        return .ioError
    }
}
