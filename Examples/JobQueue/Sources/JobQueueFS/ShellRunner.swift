import CJobQueue
import Glibc
import Synchronization

/// Runs a command with `/bin/sh -c` in a process group of its own: stdin from `/dev/null`,
/// stdout and stderr into the job's output, no other descriptor. Cancelling stops the
/// group with `SIGTERM`, then `SIGKILL` after `killGrace`. The job ends when the shell
/// exited and its output closed (so a background child holding stdout keeps it running).
public struct ShellRunner: JobRunner {
    public var shell: String
    public var killGrace: Duration

    public init(shell: String = "/bin/sh", killGrace: Duration = .seconds(5)) {
        self.shell = shell
        self.killGrace = killGrace
    }

    public func run(_ command: String, output: @escaping @Sendable ([UInt8]) -> Void) async -> Int32 {
        let process: ChildProcess
        do {
            process = try ChildProcess.spawn([shell, "-c", command])
        } catch {
            output(Array("jobqueue: cannot run \(shell): \(String(cString: strerror(error.code)))\n".utf8))
            return 127
        }
        let grace = killGrace
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                detachThread { continuation.resume(returning: process.collect(output)) }
            }
        } onCancel: {
            process.signal(SIGTERM)
            Task {
                try? await Task.sleep(for: grace)
                process.signal(SIGKILL)
            }
        }
    }
}

struct SpawnError: Error {
    let code: Int32
}

/// A spawned process group: read its output to the end, then reap it.
final class ChildProcess: Sendable {
    let pid: pid_t
    private let outputFD: Int32
    /// Set when reaped, under the lock `signal` takes.
    private let reaped = Mutex(false)

    private init(pid: pid_t, outputFD: Int32) {
        self.pid = pid
        self.outputFD = outputFD
    }

    /// Spawns `arguments` (the first is the program's path) as the leader of a new process
    /// group, with default signal dispositions and an empty signal mask.
    static func spawn(_ arguments: [String]) throws(SpawnError) -> ChildProcess {
        var pipeFDs: [Int32] = [-1, -1]
        guard cjobqueue_cloexec_pipe(&pipeFDs) == 0 else { throw SpawnError(code: errno) }
        defer { close(pipeFDs[1]) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 1)
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 2)
        cjobqueue_spawn_closefrom(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // A daemon often ignores or blocks SIGINT/SIGTERM to handle them itself; its jobs must not inherit that.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for number in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD] { sigaddset(&defaults, number) }
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = arguments.map { strdup($0) } + [nil]
        defer { for string in argv { free(string) } }
        var pid = pid_t()
        let result = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, environ)
        guard result == 0 else {
            close(pipeFDs[0])
            throw SpawnError(code: result)
        }
        return ChildProcess(pid: pid, outputFD: pipeFDs[0])
    }

    /// Blocks (on a thread of its own, never a task's) until the output closes and the
    /// process exits; answers its exit code, or 128+N when signal N killed it.
    func collect(_ output: @Sendable ([UInt8]) -> Void) -> Int32 {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(outputFD, &buffer, buffer.count)
            if count > 0 {
                output(Array(buffer[..<count]))
            } else if count == 0 || errno != EINTR {
                break
            }
        }
        close(outputFD)
        // Wait without reaping, then reap under the lock: `signal` never hits a reused pid.
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR {}
        let status = reaped.withLock { reaped -> Int32 in
            var status: Int32 = 0
            _ = waitpid(pid, &status, 0)
            reaped = true
            return status
        }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// Sends `number` to the whole process group, unless the leader was reaped.
    func signal(_ number: Int32) {
        reaped.withLock { reaped in
            if !reaped { _ = kill(-pid, number) }
        }
    }
}

private final class ThreadBody {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}

/// Runs `body` on a new detached thread: blocking reads and `waitpid` must not hold one
/// of the few threads of Swift's concurrency pool.
func detachThread(_ body: @escaping @Sendable () -> Void) {
    let context = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    defer { pthread_attr_destroy(&attributes) }
    pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
    var thread = pthread_t()
    let result = pthread_create(
        &thread, &attributes,
        { context in
            Unmanaged<ThreadBody>.fromOpaque(context!).takeRetainedValue().run()
            return nil
        }, context)
    if result != 0 {
        Unmanaged<ThreadBody>.fromOpaque(context).takeRetainedValue().run()
    }
}
