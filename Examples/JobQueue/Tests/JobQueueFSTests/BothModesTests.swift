import JobQueueFS
import SystemPackage
import Testing
import VFSKit

/// One body, two modes: the queue's life as a shell sees it, on the in-process driver
/// and through a real kernel mount.
@Suite(.timeLimit(.minutes(2)))
struct BothModesTests {
    @Test func aJobsLifeThroughTheFilesInProcess() async throws {
        try await aJobsLifeThroughTheFiles(.inProcess)
    }

    @Test(.enabled(if: MountedQueue.isAvailable, "needs /dev/fuse"))
    func aJobsLifeThroughTheFilesMounted() async throws {
        try await aJobsLifeThroughTheFiles(.mounted)
    }

    /// One body, run in each mode.
    private func aJobsLifeThroughTheFiles(_ mode: Mode) async throws {
        let runner = ScriptedRunner()
        let queue = JobQueue(runner: runner)
        let client = try #require(try makeClient(mode, for: queue), "mode \(mode.rawValue) can run here")
        defer { #expect(client.close(), "the mount did not go away cleanly") }

        #expect(await client.write("/submit", "backup /srv\n") == .success(12))
        #expect(await client.write("/submit", "rotate logs\n") == .success(12))
        #expect(await client.read("/submit") == .success("2\n"))
        #expect(await client.list("/jobs") == ["1", "2"])
        #expect(await client.list("/jobs/2") == ["command", "state", "wait", "cancel", "output"])
        #expect(await client.read("/jobs/1/state") == .success("running\n"))
        #expect(await client.read("/jobs/2/state") == .success("queued\n"))
        #expect(await client.read("/jobs/2/command") == .success("rotate logs\n"))
        #expect(await client.read("/jobs/3/state") == .failure(.noSuchFileOrDirectory))
        #expect(await client.read("/jobs/01/state") == .failure(.noSuchFileOrDirectory))

        // The blocking write returns when the job's command exits.
        async let waited = client.write("/jobs/1/wait", "\n")
        #expect(await eventually { runner.isRunning("backup /srv") })
        try await Task.sleep(for: .milliseconds(100))
        runner.emit("backup /srv", "42 files\n")
        runner.finish("backup /srv", code: 2)
        #expect(await waited == .success(1))
        #expect(await client.read("/jobs/1/wait") == .success("2\n"))
        #expect(await client.read("/jobs/1/output") == .success("42 files\n"))
        #expect(await client.read("/jobs/1/state") == .success("done\n"))

        // The next job started in the freed slot; cancelling it stops it.
        #expect(await eventually { runner.isRunning("rotate logs") })
        #expect(await client.write("/jobs/2/cancel", "\n") == .success(1))
        #expect(await client.write("/jobs/2/wait", "\n") == .success(1))
        #expect(await client.read("/jobs/2/state") == .success("cancelled\n"))
        #expect(await client.read("/jobs/2/wait") == .success("143\n"))

        // Forgetting removes the directory; bad input is EINVAL, live jobs are EBUSY.
        #expect(await client.write("/submit", "sleep 1\n") == .success(8))
        #expect(await client.write("/forget", "3\n") == .failure(.resourceBusy))
        #expect(await client.write("/forget", "1\n") == .success(2))
        #expect(await client.write("/forget", "1\n") == .failure(.noSuchFileOrDirectory))
        #expect(await client.list("/jobs") == ["2", "3"])
        #expect(await client.read("/jobs/1/state") == .failure(.noSuchFileOrDirectory))
        #expect(await client.write("/forget", "one\n") == .failure(.invalidArgument))
        #expect(await client.write("/slots", "0\n") == .failure(.invalidArgument))
        #expect(await client.write("/submit", " \n") == .failure(.invalidArgument))
        #expect(await client.write("/slots", "2\n") == .success(2))
        #expect(await client.read("/slots") == .success("2\n"))
        #expect(await eventually { runner.isRunning("sleep 1") })
        runner.finish("sleep 1")
    }
}
