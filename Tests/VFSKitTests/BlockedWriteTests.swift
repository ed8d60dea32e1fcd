import Synchronization
import SystemPackage
import Testing

@testable import VFSKit

/// `write(_:_:until:signalledBy:)`: a write parked, without a task, until a condition holds.
@Suite("Blocked writes")
struct BlockedWriteTests {
    /// A level that writers wait for: `wait` blocks until `level >= written number`.
    final class Level: Sendable {
        let changed = ChangeSignal()
        private let state = Mutex<(level: Int, failure: Errno?)>((0, nil))

        func set(_ level: Int) {
            state.withLock { $0.level = level }
            changed.signal()
        }

        func fail(with error: Errno) {
            state.withLock { $0.failure = error }
            changed.signal()
        }

        func reached(_ target: Int) throws(Errno) -> Bool {
            try state.withLock { state throws(Errno) -> Bool in
                if let failure = state.failure { throw failure }
                return state.level >= target
            }
        }
    }

    let level = Level()
    let entries = DynamicEntries<String, Level>()
    let driver: InProcessDriver

    init() throws {
        let level = level
        let entries = entries
        driver = try InProcessDriver(
            Tree {
                File("wait", permissions: 0o666, "blocks until the level reaches the number written")
                    .write(
                        Int.self, "blocks until level ≥ n", until: { _, target in try level.reached(target) },
                        signalledBy: { _ in level.changed }
                    )
                    .writeLimit(8)
                ForEach(entries, "levels") { entry in
                    File("wait", permissions: 0o666, "")
                        .write(
                            Int.self, "", until: { _, target in try entry.value.reached(target) },
                            signalledBy: { _ in try entry.value.changed })
                }
            })
    }

    func startWrite(_ path: String, _ text: String) throws -> Task<Int, any Error> {
        let handle = try driver.open(path, flags: OpenFlags.writeOnly)
        return Task { [driver] in
            defer { driver.close(handle) }
            return try await driver.write(handle, bytes(text))
        }
    }

    func parked(_ count: Int, on signal: ChangeSignal) async throws {
        try await until("\(count) parked") { signal.observerCount == count }
    }

    @Test func aConditionThatHoldsAnswersAtOnce() async throws {
        level.set(5)
        #expect(try await driver.writeText("/wait", "5\n") == 2)
        #expect(try await driver.writeText("/wait", "-3") == 2)
        #expect(level.changed.observerCount == 0)
    }

    @Test func blocksUntilTheConditionHoldsWhenSignalled() async throws {
        let writer = try startWrite("/wait", "3\n")
        try await parked(1, on: level.changed)
        level.set(2)
        #expect(await stillBlocked(writer), "a signal whose condition does not hold yet")
        level.set(3)
        #expect(try await writer.value == 2)
        #expect(level.changed.observerCount == 0, "an answered write stops watching")
    }

    @Test func tenThousandParkedWritersAreReleasedByOneSignal() async throws {
        let writers = try (0..<10_000).map { n in try startWrite("/wait", "\(n % 2 + 1)") }
        try await parked(10_000, on: level.changed)
        level.set(1)
        try await until("odd ones parked") { level.changed.observerCount == 5_000 }
        for (n, writer) in writers.enumerated() where n % 2 == 0 { #expect(try await writer.value == 1) }
        level.set(2)
        for writer in writers { #expect(try await writer.value == 1) }
        #expect(level.changed.observerCount == 0)
        #expect(driver.leftovers.isEmpty, "\(driver.leftovers)")
    }

    @Test func anInterruptAnswersEINTRAndTheOthersStayParked() async throws {
        let interrupted = try startWrite("/wait", "1")
        let staying = try startWrite("/wait", "1")
        try await parked(2, on: level.changed)
        interrupted.cancel()
        #expect(await errnoOf(interrupted) == .interrupted)
        #expect(level.changed.observerCount == 1)
        #expect(await stillBlocked(staying))
        level.set(1)
        #expect(try await staying.value == 1)
        #expect(driver.leftovers.isEmpty, "\(driver.leftovers)")
    }

    @Test func aThrowingConditionIsTheAnswer() async throws {
        let writer = try startWrite("/wait", "9")
        try await parked(1, on: level.changed)
        level.fail(with: .ioError)
        #expect(await errnoOf(writer) == .ioError)
        await #expect(throws: Errno.ioError) { try await driver.writeText("/wait", "1") }
        #expect(level.changed.observerCount == 0)
        #expect(driver.leftovers.isEmpty, "\(driver.leftovers)")
    }

    @Test func removingTheEntryAnswersESTALE() async throws {
        let entryLevel = Level()
        entries.insert(entryLevel, for: "a")
        let writer = try startWrite("/a/wait", "1")
        try await parked(1, on: entryLevel.changed)
        entries.remove("a")
        #expect(await errnoOf(writer) == .staleNFSFileHandle)
        #expect(entryLevel.changed.observerCount == 0)
        #expect(driver.leftovers.isEmpty, "\(driver.leftovers)")
    }

    @Test func badInputIsRejectedBeforeParking() async throws {
        await #expect(throws: Errno.invalidArgument) { try await driver.writeText("/wait", "x") }
        await #expect(throws: Errno.invalidArgument) { try await driver.writeText("/wait", "123456789") }
        let handle = try driver.open("/wait", flags: OpenFlags.writeOnly)
        defer { driver.close(handle) }
        #expect(try await driver.write(handle, []) == 0, "an empty write is a no-op")
        #expect(level.changed.observerCount == 0)
    }

    /// The task-side twin, `ChangeSignal.wait(until:)`: the same condition, held, signalled,
    /// thrown, or given up by cancellation.
    @Test func aTaskWaitsOnTheSameTerms() async throws {
        let level = level
        let waiting = Task { try await level.changed.wait { () throws(Errno) in try level.reached(2) } }
        let cancelled = Task { try await level.changed.wait { () throws(Errno) in try level.reached(2) } }
        try await parked(2, on: level.changed)
        cancelled.cancel()
        #expect(await errnoOf(cancelled) == .interrupted)
        level.set(1)
        #expect(await stillBlocked(waiting))
        level.set(2)
        #expect(await errnoOf(waiting) == nil)
        _ = try await waiting.value
        try await level.changed.wait { () throws(Errno) in try level.reached(2) }  // holds already
        let failing = Task { try await level.changed.wait { () throws(Errno) in try level.reached(3) } }
        try await parked(1, on: level.changed)
        level.fail(with: .ioError)
        #expect(await errnoOf(failing) == .ioError)
        #expect(level.changed.observerCount == 0)
    }

    @Test func theSpecTableShowsTheWrite() throws {
        let table = Tree {
            File("wait", permissions: 0o666, "w").write(
                Ignored.self, "blocks until done", until: { _, _ in true },
                signalledBy: { _ in ChangeSignal() })
        }.specTable
        #expect(table.contains("blocks until done"))
    }
}
