import Glibc
import JobQueueFS
import Testing
import VFSKit

/// Real commands through `/bin/sh`, on the in-process driver.
@Suite struct ShellRunnerTests {
    let queue: JobQueue
    let driver: InProcessDriver

    init() throws {
        queue = JobQueue(slots: 4, runner: ShellRunner(killGrace: .milliseconds(300)))
        driver = try InProcessDriver(queue.tree)
    }

    func output(of id: Int) -> String? { queue.jobs[JobID(id)!]?.output.text }

    /// Submits, waits through `wait`, and answers the exit code and output.
    func run(_ command: String) async throws -> (code: String, output: String) {
        let submit = try driver.open("/submit", flags: 0o2)
        defer { driver.close(submit) }
        try await driver.write(submit, Array((command + "\n").utf8))
        let id = String(decoding: try await driver.read(submit), as: UTF8.self).trimmingSuffix("\n")
        try await driver.writeText("/jobs/\(id)/wait", "\n")
        let output = try driver.open("/jobs/\(id)/output")
        defer { driver.close(output) }
        let bytes = try await driver.read(output, size: 1 << 20)
        return (try await driver.readText("/jobs/\(id)/wait"), String(decoding: bytes, as: UTF8.self))
    }

    @Test func exitCodeAndInterleavedOutput() async throws {
        let (code, output) = try await run("echo out; echo err >&2; echo more; exit 3")
        #expect(code == "3\n")
        #expect(output == "out\nerr\nmore\n")
        #expect(try await driver.readText("/jobs/1/state") == "done\n")
    }

    @Test func stdinIsDevNull() async throws {
        #expect(try await run("cat; echo read-all") == ("0\n", "read-all\n"))
    }

    @Test func aJobGetsNoDescriptorBeyondStderr() async throws {
        #expect(try await run("ls /proc/self/fd") == ("0\n", "0\n1\n2\n3\n"), "3 is ls's own directory")
    }

    @Test func aCommandKilledBySignalNShows128PlusN() async throws {
        #expect(try await run("kill -KILL $$").code == "137\n")
    }

    @Test func anUnknownCommandIsTheShells127() async throws {
        let (code, output) = try await run("no-such-command-jobqueue")
        #expect(code == "127\n")
        #expect(output.contains("not found"))
    }

    @Test func onlyTheLast64KiBOfOutputAreKept() async throws {
        let (code, output) = try await run("i=0; while [ $i -lt 2000 ]; do echo line-$i-................................; i=$((i+1)); done")
        #expect(code == "0\n")
        #expect(output.utf8.count == Job.outputLimit)
        #expect(output.hasSuffix("line-1999-................................\n"))
    }

    @Test func cancelStopsTheWholeProcessGroupWithSIGTERM() async throws {
        try await driver.writeText("/submit", "sleep 30 & sleep 30; wait")
        try await Task.sleep(for: .milliseconds(200))
        try await driver.writeText("/jobs/1/cancel", "\n")
        try await driver.writeText("/jobs/1/wait", "\n")
        // 143 = killed by SIGTERM (SIGKILL after the grace would be 137): no timing needed.
        #expect(try await driver.readText("/jobs/1/state") == "cancelled\n")
        #expect(try await driver.readText("/jobs/1/wait") == "143\n")
    }

    @Test func aCommandThatIgnoresSIGTERMGetsSIGKILLAfterTheGrace() async throws {
        try await driver.writeText("/submit", "trap '' TERM; echo armed; while :; do sleep 0.05; done")
        #expect(await eventually { output(of: 1) == "armed\n" })
        try await driver.writeText("/jobs/1/cancel", "\n")
        try await driver.writeText("/jobs/1/wait", "\n")
        #expect(try await driver.readText("/jobs/1/wait") == "137\n")
    }

    /// A daemon that ignores SIGTERM (to handle it itself) must not pass that on to its jobs.
    @Test func jobsGetDefaultSignalDispositions() async throws {
        let previous = signal(SIGTERM, SIG_IGN)
        defer { signal(SIGTERM, previous) }
        try await driver.writeText("/submit", "echo started; sleep 30")
        #expect(await eventually { output(of: 1) == "started\n" })
        try await driver.writeText("/jobs/1/cancel", "\n")
        try await driver.writeText("/jobs/1/wait", "\n")
        #expect(try await driver.readText("/jobs/1/wait") == "143\n")
    }

    @Test func slotsBoundHowManyRunAtOnce() async throws {
        try await driver.writeText("/slots", "2")
        for _ in 0..<4 { try await driver.writeText("/submit", "sleep 0.3") }
        #expect(try await driver.readText("/jobs/3/state") == "queued\n")
        for id in 1...4 {
            try await driver.writeText("/jobs/\(id)/wait", "\n")
            #expect(try await driver.readText("/jobs/\(id)/wait") == "0\n")
        }
    }
}
