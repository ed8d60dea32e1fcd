import Foundation
import Glibc
import Synchronization
import SystemPackage
import Testing
import VFSKit

@testable import JobQueueFS

/// The queue through a real kernel mount, with ordinary system calls.
@Suite(.enabled(if: MountedQueue.isAvailable), .timeLimit(.minutes(2)))
struct KernelMountTests {
    @Test func submitWaitPollAndForgetThroughTheKernel() async throws {
        let runner = ScriptedRunner()
        let mount = try MountedQueue(JobQueue(runner: runner))
        defer { #expect(mount.close(), "the mount did not go away cleanly") }

        let id = await onThread { () -> Result<String, Errno> in
            do {
                let fd = try Posix.open(mount.file("submit"), O_RDWR)
                defer { close(fd) }
                _ = try Posix.write(fd, "nightly-backup\n").get()
                return Posix.pread(fd)
            } catch {
                return .failure(error as! Errno)
            }
        }
        #expect(id == .success("1\n"))
        #expect(Posix.list(mount.path) == ["submit", "slots", "forget", "jobs"])
        #expect(Posix.list(mount.file("jobs")) == ["1"])
        #expect(Posix.readFile(mount.file("jobs/1/command")) == .success("nightly-backup\n"))

        let state = try Posix.open(mount.file("jobs/1/state"), O_RDONLY)
        let wait = try Posix.open(mount.file("jobs/1/wait"), O_RDWR)
        defer {
            close(state)
            close(wait)
        }
        #expect(Posix.poll(state, POLLPRI, timeoutMilliseconds: 0) == 0)
        #expect(Posix.poll(wait, POLLIN, timeoutMilliseconds: 0) == 0)
        #expect(Posix.pread(wait) == .success(""), "no exit code while running")

        async let written = onThread { Posix.write(wait, "\n") }
        async let polled = onThread { Posix.poll(state, POLLPRI, timeoutMilliseconds: 20_000) }
        try await Task.sleep(for: .milliseconds(200))
        #expect(await eventually { runner.isRunning("nightly-backup") })
        runner.finish("nightly-backup", code: 7)
        #expect(await written == .success(1), "the blocked write(2) returns once the job exits")
        #expect(await polled & Int32(POLLPRI) != 0, "poll(2) on state wakes on the change")
        #expect(Posix.poll(wait, POLLIN, timeoutMilliseconds: 0) == POLLIN)
        #expect(Posix.pread(wait) == .success("7\n"))
        #expect(Posix.pread(state) == .success("done\n"))
        #expect(Posix.poll(state, POLLPRI, timeoutMilliseconds: 0) == 0, "re-armed by the read")

        #expect(Posix.writeFile(mount.file("forget"), "1\n") == .success(2))
        #expect(Posix.pread(state) == .failure(.staleNFSFileHandle))
        #expect(Posix.list(mount.file("jobs")) == [])
        #expect(Posix.readFile(mount.file("jobs/1/state")) == .failure(.noSuchFileOrDirectory))
        #expect(Posix.writeFile(mount.file("slots"), "0\n") == .failure(.invalidArgument))
        #expect(Posix.writeFile(mount.file("forget"), "1\n") == .failure(.noSuchFileOrDirectory))
    }

    @Test func aSignalInterruptsABlockedWaitWithEINTR() async throws {
        let runner = ScriptedRunner()
        let mount = try MountedQueue(JobQueue(runner: runner))
        defer { #expect(mount.close(), "the mount did not go away cleanly") }
        #expect(Posix.writeFile(mount.file("submit"), "long\n") == .success(5))

        // A handler without SA_RESTART: the signal ends the write(2) with EINTR.
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        var previous = sigaction()
        sigaction(SIGUSR1, &action, &previous)
        defer { sigaction(SIGUSR1, &previous, nil) }

        let blockedThread = Mutex<pthread_t?>(nil)
        async let written = onThread {
            // Threads started from the concurrency pool inherit libdispatch's blocked signals.
            var usr1 = sigset_t()
            sigemptyset(&usr1)
            sigaddset(&usr1, SIGUSR1)
            pthread_sigmask(SIG_UNBLOCK, &usr1, nil)
            blockedThread.withLock { $0 = pthread_self() }
            return Posix.writeFile(mount.file("jobs/1/wait"), "\n")
        }
        #expect(await eventually { blockedThread.withLock { $0 } != nil })
        try await Task.sleep(for: .milliseconds(300))
        if let thread = blockedThread.withLock({ $0 }) { pthread_kill(thread, SIGUSR1) }
        #expect(await written == .failure(.interrupted))
        #expect(Posix.readFile(mount.file("jobs/1/state")) == .success("running\n"), "the job is left alone")
        runner.finish("long")
    }

    /// The README's shell session, run by /bin/sh against a live mount.
    @Test func theReadmeShellSession() async throws {
        let queue = JobQueue(runner: ShellRunner(killGrace: .milliseconds(500)))
        let mount = try MountedQueue(queue)
        defer {
            #expect(mount.close(), "the mount did not go away cleanly")
            let stopped = DispatchSemaphore(value: 0)
            Task {
                await queue.shutdown()
                stopped.signal()
            }
            stopped.wait()
        }
        let script = """
            set -e
            cd "$1"
            echo 'echo compressing; sleep 0.2; echo done' > submit
            id=$(cat submit)
            cat jobs/$id/state
            echo > jobs/$id/wait
            echo "exit $(cat jobs/$id/wait)"
            cat jobs/$id/output
            echo 'sleep 600' > submit
            id=$(cat submit)
            echo > jobs/$id/cancel
            echo > jobs/$id/wait
            echo "$(cat jobs/$id/state) $(cat jobs/$id/wait)"
            echo 1 > forget
            ls jobs
            echo 0 > slots 2>/dev/null || echo "slots: EINVAL"
            """
        // Not Foundation's Process: its reaping raced with the other tests' children and
        // waitUntilExit hung now and then. The example's own spawner reads to EOF, then reaps.
        let result = await onThread { () -> (Int32, String) in
            guard let shell = try? ChildProcess.spawn(["/bin/sh", "-c", script, "sh", mount.path]) else {
                return (-1, "cannot spawn /bin/sh")
            }
            let output = Mutex<[UInt8]>([])
            let code = shell.collect { bytes in output.withLock { $0 += bytes } }
            return (code, String(decoding: output.withLock { $0 }, as: UTF8.self))
        }
        #expect(result.0 == 0)
        #expect(
            result.1 == """
                running
                exit 0
                compressing
                done
                cancelled 143
                2
                slots: EINVAL

                """)
    }
}
