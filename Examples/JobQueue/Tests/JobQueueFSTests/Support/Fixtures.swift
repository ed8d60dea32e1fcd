import JobQueueFS
import Testing
import VFSKit

/// A queue on a scripted runner, served by the in-process driver.
struct QueueFixture {
    let runner = ScriptedRunner()
    let queue: JobQueue
    let driver: InProcessDriver

    init(slots: Int = 1) throws {
        queue = JobQueue(slots: slots, runner: runner)
        driver = try InProcessDriver(queue.tree)
    }

    /// A write to `jobs/<id>/wait` through its own open file, started in a task (it blocks
    /// until the job ends); the file closes when the write returns.
    func startWaiting(for id: String) throws -> Task<Int, any Error> {
        let wait = try driver.open("/jobs/\(id)/wait", flags: OpenFlags.writeOnly)
        return Task { [driver] in
            defer { driver.close(wait) }
            return try await driver.write(wait, Array("\n".utf8))
        }
    }

    /// Submits through `submit` and answers the new job's id.
    @discardableResult
    func submit(_ command: String, as caller: Caller = .root) async throws -> String {
        let handle = try driver.open("/submit", flags: OpenFlags.readWrite, as: caller)
        defer { driver.close(handle) }
        try await driver.write(handle, Array((command + "\n").utf8))
        return String(decoding: try await driver.read(handle), as: UTF8.self)
            .trimmingSuffix("\n")
    }

    func text(_ path: String) async throws -> String {
        try await driver.readText(path)
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}

/// Waits (up to `seconds`) until `condition` holds, yielding in between.
func eventually(within seconds: Double = 10, _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return condition()
}
