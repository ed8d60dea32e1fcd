import JobQueueFS
import SystemPackage
import Testing
import VFSKit

/// The tree on the in-process driver, with a scripted runner: the test decides when
/// each command ends.
@Suite struct JobQueueTreeTests {
    @Test func submittingCreatesOneDirectoryPerJobInOrder() async throws {
        let fixture = try QueueFixture()
        #expect(try fixture.driver.list("/") == ["submit", "slots", "forget", "jobs"])
        #expect(try fixture.driver.list("/jobs") == [])
        #expect(try await fixture.submit("make backup") == "1")
        #expect(try await fixture.submit("rsync -a /srv /mnt") == "2")
        #expect(try fixture.driver.list("/jobs") == ["1", "2"])
        #expect(try fixture.driver.list("/jobs/1") == ["command", "state", "wait", "cancel", "output"])
        #expect(try await fixture.text("/jobs/2/command") == "rsync -a /srv /mnt\n")
        #expect(try await fixture.text("/jobs/1/state") == "running\n")
        #expect(try await fixture.text("/jobs/2/state") == "queued\n")
        #expect(await eventually { fixture.runner.started == ["make backup"] })
    }

    @Test(arguments: ["0", "01", "+1", "3", "abc", "1 "])
    func namesThatAreNotLiveJobsAreENOENT(_ name: String) async throws {
        let fixture = try QueueFixture()
        try await fixture.submit("a")
        try await fixture.submit("b")
        #expect(throws: Errno.noSuchFileOrDirectory) { try fixture.driver.stat("/jobs/" + name) }
    }

    @Test func submitReadsBackTheJobOfThisOpenFileElseOfTheCaller() async throws {
        let fixture = try QueueFixture(slots: 4)
        let alice = Caller(uid: 1000, gid: 1000, threadID: 7)
        let handle = try fixture.driver.open("/submit", flags: OpenFlags.readWrite)
        defer { fixture.driver.close(handle) }
        try await fixture.driver.write(handle, Array("first\n".utf8))
        #expect(try await fixture.submit("alice's", as: alice) == "2")
        try await fixture.driver.writeText("/submit", "third")
        #expect(try await fixture.driver.read(handle) == Array("1\n".utf8), "this open file submitted job 1")
        #expect(try await fixture.text("/submit") == "3\n", "root submitted job 3 last")
        #expect(try await fixture.driver.readText("/submit", as: alice) == "2\n")
        #expect(try await fixture.driver.readText("/submit", as: Caller(uid: 1001, gid: 1001, threadID: 8)) == "")
    }

    @Test func waitBlocksUntilTheJobEnds() async throws {
        let fixture = try QueueFixture()
        try await fixture.submit("long")
        let waiter = try fixture.startWaiting(for: "1")
        try await Task.sleep(for: .milliseconds(50))
        #expect(try await fixture.text("/jobs/1/state") == "running\n")
        #expect(try await fixture.text("/jobs/1/wait") == "", "no exit code while running")

        #expect(await eventually { fixture.runner.isRunning("long") })
        fixture.runner.finish("long", code: 3)
        #expect(try await waiter.value == 1)
        #expect(try await fixture.text("/jobs/1/state") == "done\n")
        #expect(try await fixture.text("/jobs/1/wait") == "3\n")
        #expect(try await fixture.driver.writeText("/jobs/1/wait", "\n") == 1, "finished: returns at once")
        try await fixture.driver.writeText("/jobs/1/wait", "x")
    }

    @Test func manyWaitersAreAllReleasedByOneExit() async throws {
        let fixture = try QueueFixture()
        try await fixture.submit("long")
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<50 {
                group.addTask { try await fixture.driver.writeText("/jobs/1/wait", "1") }
            }
            #expect(await eventually { fixture.runner.isRunning("long") })
            try await Task.sleep(for: .milliseconds(20))
            fixture.runner.finish("long")
            var released = 0
            for try await bytes in group { released += bytes }
            #expect(released == 50)
        }
    }

    @Test func aSignalToTheWaiterIsEINTRAndLeavesTheJobAlone() async throws {
        let fixture = try QueueFixture()
        try await fixture.submit("long")
        let waiter = try fixture.startWaiting(for: "1")
        try await Task.sleep(for: .milliseconds(50))
        waiter.cancel()
        await #expect(throws: Errno.interrupted) { try await waiter.value }
        #expect(try await fixture.text("/jobs/1/state") == "running\n")
        #expect(await eventually { fixture.runner.isRunning("long") })
        fixture.runner.finish("long", code: 0)
        #expect(await eventually { (try? fixture.queue.jobs[JobID(1)!].map { try fixture.queue.state(of: $0) }) == .done })
    }

    @Test func nonBlockingWaitReadIsEAGAINUntilTheJobEnds() async throws {
        let fixture = try QueueFixture()
        try await fixture.submit("long")
        let wait = try fixture.driver.open("/jobs/1/wait", flags: OpenFlags.nonBlocking)
        defer { fixture.driver.close(wait) }
        await #expect(throws: Errno.resourceTemporarilyUnavailable) { try await fixture.driver.read(wait) }
        #expect(await eventually { fixture.runner.isRunning("long") })
        fixture.runner.finish("long", code: 9)
        #expect(await eventually { (try? fixture.driver.poll(wait)) == [.in] })
        #expect(try await fixture.driver.read(wait) == Array("9\n".utf8))
    }

    @Test func stateIsReadyOnEveryChangeAndWaitOnceFinished() async throws {
        let fixture = try QueueFixture()
        try await fixture.submit("first")
        try await fixture.submit("second")
        let state = try fixture.driver.open("/jobs/2/state")
        let wait = try fixture.driver.open("/jobs/2/wait")
        defer {
            fixture.driver.close(state)
            fixture.driver.close(wait)
        }
        #expect(try fixture.driver.poll(state) == [], "not ready before a change, as sysfs")
        #expect(try fixture.driver.poll(wait) == [])

        let stateReady = Task { try await fixture.driver.waitUntilReady(state) }
        let waitReady = Task { try await fixture.driver.waitUntilReady(wait, for: [.in]) }
        #expect(await eventually { fixture.runner.isRunning("first") })
        fixture.runner.finish("first")
        #expect(try await stateReady.value == [.in, .pri], "queued → running")
        #expect(try await fixture.driver.read(state) == Array("running\n".utf8))
        #expect(try fixture.driver.poll(state) == [], "re-armed by the read")
        #expect(try fixture.driver.poll(wait) == [])

        #expect(await eventually { fixture.runner.isRunning("second") })
        fixture.runner.finish("second", code: 1)
        #expect(try await waitReady.value == [.in])
        #expect(try fixture.driver.poll(state) == [.in, .pri])
        #expect(try await fixture.driver.read(state) == Array("done\n".utf8))
    }

    @Test func outputIsReadyWhenMoreArrives() async throws {
        let fixture = try QueueFixture()
        try await fixture.submit("chatty")
        let output = try fixture.driver.open("/jobs/1/output")
        defer { fixture.driver.close(output) }
        #expect(try await fixture.driver.read(output) == [])
        #expect(await eventually { fixture.runner.isRunning("chatty") })
        let ready = Task { try await fixture.driver.waitUntilReady(output) }
        fixture.runner.emit("chatty", "line 1\n")
        #expect(try await ready.value == [.in, .pri])
        fixture.runner.emit("chatty", "line 2\n")
        #expect(try await fixture.driver.read(output) == Array("line 1\nline 2\n".utf8))
        #expect(try fixture.driver.poll(output) == [])
        fixture.runner.finish("chatty")
    }

    @Test func cancellingAQueuedJobMeansItNeverRuns() async throws {
        let fixture = try QueueFixture()
        try await fixture.submit("first")
        try await fixture.submit("second")
        let waiter = Task { try await fixture.driver.writeText("/jobs/2/wait", "\n") }
        try await fixture.driver.writeText("/jobs/2/cancel", "1")
        #expect(try await waiter.value == 1, "a cancelled job is finished")
        #expect(try await fixture.text("/jobs/2/state") == "cancelled\n")
        #expect(try await fixture.text("/jobs/2/wait") == "", "it never ran: no exit code")
        #expect(await eventually { fixture.runner.isRunning("first") })
        fixture.runner.finish("first")
        try await Task.sleep(for: .milliseconds(20))
        #expect(fixture.runner.started == ["first"])
    }

    @Test func cancellingARunningJobStopsItAndStartsTheNext() async throws {
        let fixture = try QueueFixture()
        try await fixture.submit("first")
        try await fixture.submit("second")
        #expect(await eventually { fixture.runner.isRunning("first") })
        try await fixture.driver.writeText("/jobs/1/cancel", "\n")
        try await fixture.driver.writeText("/jobs/1/wait", "\n")
        #expect(fixture.runner.cancelled == ["first"])
        #expect(try await fixture.text("/jobs/1/state") == "cancelled\n")
        #expect(try await fixture.text("/jobs/1/wait") == "143\n")
        #expect(await eventually { fixture.runner.isRunning("second") })
        try await fixture.driver.writeText("/jobs/1/cancel", "\n")  // finished: nothing happens
        fixture.runner.finish("second")
    }

    @Test func raisingSlotsStartsQueuedJobsAtOnce() async throws {
        let fixture = try QueueFixture()
        for name in ["a", "b", "c"] { try await fixture.submit(name) }
        #expect(try await fixture.text("/slots") == "1\n")
        try await fixture.driver.writeText("/slots", "3")
        #expect(try await fixture.text("/jobs/3/state") == "running\n")
        #expect(await eventually { Set(fixture.runner.started) == ["a", "b", "c"] })
        for name in ["a", "b", "c"] { fixture.runner.finish(name) }
    }

    @Test func aForgottenJobIsGoneAndItsOpenFilesAreESTALE() async throws {
        let fixture = try QueueFixture()
        try await fixture.submit("short")
        #expect(await eventually { fixture.runner.isRunning("short") })
        await #expect(throws: Errno.resourceBusy) { try await fixture.driver.writeText("/forget", "1") }
        fixture.runner.finish("short")
        try await fixture.driver.writeText("/jobs/1/wait", "\n")

        let state = try fixture.driver.open("/jobs/1/state")
        let wait = try fixture.driver.open("/jobs/1/wait", flags: OpenFlags.readWrite)
        defer {
            fixture.driver.close(state)
            fixture.driver.close(wait)
        }
        try await fixture.driver.writeText("/forget", "1")
        #expect(try fixture.driver.list("/jobs") == [])
        #expect(throws: Errno.noSuchFileOrDirectory) { try fixture.driver.stat("/jobs/1") }
        await #expect(throws: Errno.staleNFSFileHandle) { try await fixture.driver.read(state) }
        await #expect(throws: Errno.staleNFSFileHandle) { try await fixture.driver.write(wait, [0x31]) }
        #expect(throws: Errno.staleNFSFileHandle) { try fixture.driver.poll(state) }
        await #expect(throws: Errno.noSuchFileOrDirectory) { try await fixture.driver.writeText("/forget", "1") }
        #expect(try await fixture.submit("next") == "2", "ids are never reused")
        #expect(try await fixture.text("/submit") == "2\n")
    }

    @Test(arguments: [
        ("/slots", "0"), ("/slots", "65"), ("/slots", "two"), ("/slots", ""),
        ("/forget", "x"), ("/forget", "-1"), ("/forget", "01"), ("/forget", "1 2"),
        ("/submit", "   "), ("/submit", "echo a\necho b"), ("/submit", "echo caf\u{e9}"), ("/submit", "a\u{0}b"),
    ])
    func badInputIsEINVAL(_ path: String, _ text: String) async throws {
        let fixture = try QueueFixture()
        await #expect(throws: Errno.invalidArgument) { try await fixture.driver.writeText(path, text + "\n") }
        #expect(try fixture.driver.list("/jobs") == [])
        #expect(try await fixture.text("/slots") == "1\n")
    }

    @Test func aCommandLongerThanTheWriteLimitIsEINVAL() async throws {
        let fixture = try QueueFixture()
        let long = String(repeating: "x", count: 4097)
        await #expect(throws: Errno.invalidArgument) { try await fixture.driver.writeText("/submit", long) }
    }

    @Test func shutdownCancelsEverythingAndRefusesNewJobs() async throws {
        let fixture = try QueueFixture()
        try await fixture.submit("first")
        try await fixture.submit("second")
        #expect(await eventually { fixture.runner.isRunning("first") })
        await fixture.queue.shutdown()
        #expect(try await fixture.text("/jobs/1/state") == "cancelled\n")
        #expect(try await fixture.text("/jobs/2/state") == "cancelled\n")
        #expect(fixture.runner.started == ["first"])
        await #expect(throws: Errno.ioError) { try await fixture.driver.writeText("/submit", "third") }
    }
}
