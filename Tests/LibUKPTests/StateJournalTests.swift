import Foundation
import SystemPackage
import Testing
import VFSKit

@testable import LibUKP

/// The state journal: what an instance must not forget, and a daemon restored from it.
@Suite struct StateJournalTests {
    /// A fresh state directory, removed at the end of the test.
    final class Directory: @unchecked Sendable {
        let path: String
        init() {
            path = NSTemporaryDirectory() + "ukp-state-" + UUID().uuidString
            try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }
        var log: String { path + "/state.log" }
        func append(_ text: String) throws {
            let handle = try #require(FileHandle(forWritingAtPath: log))
            handle.seekToEndOfFile()
            handle.write(Data(text.utf8))
            try handle.close()
        }
    }

    static let child = ForkedChild(id: UUID(), snapshot: UUID(), creationTime: 1_700_000_000)

    static let events: [StateEvent] = [
        .instance(generation: UUID(), createdByFork: true),
        .result(thread: 42, UUID()), .result(thread: nil, .zero),
        .childAdded(child), .childStatus(child.id, .template),
        .childStopped(child.id, exitCode: -3, stoppedAt: 1_700_000_000_123),
        .childStopped(child.id, exitCode: nil, stoppedAt: 5),
        .childRemoved(child.id), .becameChild(generation: UUID()),
        .forkSent(key: 77, thread: 9), .forkSent(key: 78, thread: nil),
        .forkAnswered(key: 77, .success(child.id)), .forkAnswered(key: 78, .failure(.signalFailed)),
        .forkAnswered(key: 79, .failure(.rejected(.noMemory))), .forkAbandoned(key: 80),
        .forkCorrelation(0xffff_fffe),
    ]

    @Test(arguments: events)
    func everyEventRoundTripsThroughItsLine(_ event: StateEvent) throws {
        for instance in [nil, UUID()] as [UUID?] {
            let line = event.line(instance: instance)
            let parsed = try #require(StateEvent.parse(Substring(line)), "\(line)")
            #expect(parsed.instance == instance)
            #expect(parsed.event == event, "\(line)")
        }
    }

    @Test(arguments: [
        SimEvent.root(UUID()), .instance(id: UUID(), parent: nil, status: .running, exitCode: nil),
        .instance(id: UUID(), parent: UUID(), status: .stopped, exitCode: 255), .instanceRemoved(UUID()),
        .settings(forkLatencyMs: 5, bootLatencyMs: 0, failNextForks: 2), .exitApplied(request: 0x7fff_ffff_ffff_ffff),
    ])
    func everySimEventRoundTripsThroughItsLine(_ event: SimEvent) {
        #expect(SimEvent.parse(Substring(event.line)) == event, "\(event.line)")
    }

    @Test(arguments: [
        "", "x", "- Q 1", "- R 1", "- C not-a-uuid", "- A 5 nonsense", "- X \(UUID()) 1", "~ I x", "~ L 1 2",
        "- W -1", "- W 4294967296", "- W 1 2",
    ])
    func malformedLinesDoNotParse(_ line: String) {
        #expect(StateEvent.parse(Substring(line)) == nil && SimEvent.parse(Substring(line)) == nil, "\(line)")
    }

    /// Compaction writes a record's events; applying them gives the same record back.
    @Test func aRecordRebuiltFromItsEventsIsTheSame() {
        var record = InstanceRecord()
        for event in Self.events.prefix(8) { record.apply(event) }
        let other = ForkedChild(id: UUID(), snapshot: UUID(), creationTime: 1)
        for event: StateEvent in [
            .childAdded(other), .childStatus(other.id, .running), .result(thread: 3, other.id),
            .forkSent(key: 1, thread: 3), .forkAnswered(key: 2, .success(other.id)),
        ] {
            record.apply(event)
        }
        let second = ForkedChild(id: UUID(), snapshot: UUID(), creationTime: 2)
        record.apply(.childAdded(second))
        var rebuilt = InstanceRecord()
        for event in record.events { rebuilt.apply(event) }
        #expect(rebuilt.events == record.events)
        #expect(rebuilt.childrenInOrder.map(\.child) == [other, second], "in creation order")
        #expect(rebuilt.results == record.results && rebuilt.lastCompleted == record.lastCompleted)
        #expect(rebuilt.forksInFlight == record.forksInFlight && rebuilt.forksAnswered == record.forksAnswered)
        record.apply(.forkCorrelation(9))
        rebuilt = InstanceRecord()
        for event in record.events { rebuilt.apply(event) }
        #expect(rebuilt.forkInFlight! == (1, 3, 9), "the fork in flight keeps its correlation id")
    }

    /// The correlation id belongs to the fork in flight: a new fork's `forkSent` forgets the
    /// last one's; its answer (or abandon) forgets its own.
    @Test func theCorrelationIdGoesWithTheForkInFlight() {
        var record = InstanceRecord()
        record.apply(.forkSent(key: 1, thread: 2))
        #expect(record.forkInFlight! == (1, 2, nil), "sent to the engine's platform, not yet on the wire")
        record.apply(.forkCorrelation(40))
        #expect(record.forkInFlight?.correlation == 40)
        record.apply(.forkAnswered(key: 1, .success(UUID())))
        #expect(record.forkInFlight == nil && record.forkCorrelation == nil)
        record.apply(.forkCorrelation(41))
        record.apply(.forkSent(key: 2, thread: nil))
        #expect(record.forkInFlight! == (2, nil, nil), "a keyless fork's id is not the next fork's")
        record.apply(.forkCorrelation(42))
        record.apply(.forkAbandoned(key: 2))
        #expect(record.forkCorrelation == nil)
    }

    @Test func aReopenedJournalRestoresWhatWasRecordedAndIgnoresALineCutShort() throws {
        let directory = Directory()
        let generation = UUID()
        do {
            let journal = try StateJournal(directory: directory.path)
            journal.record([.instance(generation: generation, createdByFork: false), .childAdded(Self.child)], instance: nil)
            journal.record(.result(thread: 7, Self.child.id), instance: nil)
            journal.record(.settings(forkLatencyMs: 12, bootLatencyMs: 0, failNextForks: 1))
        }
        try directory.append("- S \(Self.child.id.lowercaseText)")  // no newline: the write was cut short
        let journal = try StateJournal(directory: directory.path)
        #expect(journal.problem == nil)
        let record = try #require(journal.restored.instances[nil])
        #expect(record.generation == generation)
        #expect(record.childrenInOrder.map(\.child.id) == [Self.child.id])
        #expect(record.children[Self.child.id]?.status == .starting)
        #expect(record.results[7] == Self.child.id)
        #expect(journal.restored.sim.forkLatencyMs == 12)
    }

    @Test func aCorruptFileIsSetAsideNamedAndTheJournalStartsEmpty() throws {
        let directory = Directory()
        try Data("- G not-a-generation 0\n".utf8).write(to: URL(fileURLWithPath: directory.log))
        let journal = try StateJournal(directory: directory.path)
        let problem = try #require(journal.problem)
        #expect(problem.contains(directory.log) && problem.contains("line 1"))
        #expect(!problem.contains("\n"), "one line")
        #expect(journal.restored.instances.isEmpty)
        #expect(FileManager.default.fileExists(atPath: directory.log + ".corrupt"))
    }

    // MARK: A daemon restored

    /// A simulator on a journal in `directory`, as a restarted server builds it.
    static func sim(_ directory: Directory, scheduler: any Scheduler = TaskScheduler(), retention: Duration = .seconds(60)) throws
        -> SimPlatform
    {
        SimPlatform(
            engineConfiguration: .init(stoppedRetention: retention), scheduler: scheduler,
            journal: try StateJournal(directory: directory.path))
    }

    @Test func aRestartedSimulatorHasTheSameInstancesChildrenResultsAndGeneration() async throws {
        let directory = Directory()
        let first = try Self.sim(directory)
        first.forkLatency = .milliseconds(3)
        let one = try await first.root.engine.fork(thread: 5, request: 100)
        let two = try await first.root.engine.fork(thread: 6, request: 101)
        try await first.exit(two, code: 9)
        try first.setStatus(one, to: .template)

        let again = try Self.sim(directory)
        #expect(again.rootID == first.rootID)
        #expect(again.forkLatency == .milliseconds(3))
        let engine = again.root.engine
        #expect(engine.generation == first.root.engine.generation)
        #expect(engine.children.keys == [one, two])
        #expect(engine.children[one]?.status == .template)
        #expect(engine.children[two]?.exitCode == 9)
        #expect(engine.forkResult(thread: 5) == one && engine.forkResult(thread: 6) == two)
        #expect(engine.forkResult(thread: 99) == two, "the last fork the instance completed")
        #expect(again.instances[one]?.status == .template)
        #expect(again.instances[two]?.status == .stopped)
        #expect(again.instances[one]?.engine.forkResult(thread: 1) == .zero, "a child's own view")
    }

    /// A restarted simulator makes at once the engines that were made (their records come
    /// back: generation, children, results); the others are made on first use, as before.
    @Test func aRestartedSimulatorMakesTheEnginesThatWereMade() async throws {
        let directory = Directory()
        let first = try Self.sim(directory)
        let used = try await first.root.engine.fork(thread: 1)
        let unused = try await first.root.engine.fork(thread: 1)
        let engine = try #require(first.instances[used]).engine
        let grandchild = try await engine.fork(thread: 3)
        #expect(first.instances[unused]?.engineIfMade == nil)

        let again = try Self.sim(directory)
        let restored = try #require(again.instances[used]?.engineIfMade)
        #expect(restored.generation == engine.generation)
        #expect(restored.children.keys == [grandchild] && restored.forkResult(thread: 3) == grandchild)
        #expect(again.instances[unused]?.engineIfMade == nil)
        #expect(again.instances[unused]?.engine.forkResult(thread: 1) == .zero, "a child's own view")
    }

    @Test func aResentForkIsAnsweredOnceNeverForkedTwice() async throws {
        let directory = Directory()
        let first = try Self.sim(directory)
        let child = try await first.root.engine.fork(thread: 5, request: 100)
        let again = try Self.sim(directory)
        #expect(try await again.root.engine.fork(thread: 5, request: 100) == child)
        #expect(again.root.engine.children.count == 1, "no second fork")
        let other = try await again.root.engine.fork(thread: 5, request: 101)
        #expect(other != child && again.root.engine.children.count == 2)
    }

    /// An `exit` write applied before the server died, resent to the next server
    /// (`FUSE_NOTIFY_RESEND`): answered again, not taken for the exit of a stopped instance.
    @Test func aResentExitIsAnsweredOnceNeverAppliedTwice() async throws {
        let directory = Directory()
        let first = try Self.sim(directory)
        let child = try await first.root.engine.fork(thread: 5, request: 100)
        try await first.exit(child, code: 7, request: 300)
        let again = try Self.sim(directory)
        try await again.exit(child, code: 7, request: 300)
        #expect(again.instances[child]?.exitCode == 7)
        await #expect(throws: Errno.invalidArgument, "another exit of the stopped instance") {
            try await again.exit(child, code: 7, request: 301)
        }
        for request in 1...UInt64(SimRecord.exitsAppliedLimit) {
            let other = try await again.root.engine.fork(thread: 5, request: 1000 + request)
            try await again.exit(other, code: 0, request: 2000 + request)
        }
        #expect(again.instances.count == 2 + SimRecord.exitsAppliedLimit)
        #expect(try Self.sim(directory).instances[child] != nil)
        await #expect(throws: Errno.invalidArgument, "remembered for the last \(SimRecord.exitsAppliedLimit) exits only") {
            try await Self.sim(directory).exit(child, code: 7, request: 300)
        }
    }

    /// The server died while the simulator was forking: before the child existed (the
    /// resent request forks anew), or after (it is answered with that child).
    @Test func aForkInFlightIsSettledByWhatTheSimulatorRecorded() async throws {
        let directory = Directory()
        let first = try Self.sim(directory)
        let root = first.rootID.lowercaseText
        let orphan = UUID()
        // F 200 created `orphan` (the simulator recorded it) and the server died before the answer.
        try directory.append("\(root) F 200 4\n~ I \(orphan.lowercaseText) \(root) 1 -\n")
        let again = try Self.sim(directory)
        #expect(try await again.root.engine.fork(thread: 4, request: 200) == orphan, "answered with the child it made")
        #expect(again.root.engine.children.keys == [orphan])
        // F 201 was sent, and the server died before the simulator made anything.
        try directory.append("\(root) F 201 4\n")
        let third = try Self.sim(directory)
        let fresh = try await third.root.engine.fork(thread: 4, request: 201)
        #expect(fresh != orphan, "a fork that never reached the simulator is done now, once")
        #expect(third.root.engine.children.keys == [orphan, fresh])
        #expect(try await third.root.engine.fork(thread: 4, request: 201) == fresh)
    }

    @Test func aStoppedChildsRetentionRunsOnFromWhenItStopped() async throws {
        let directory = Directory()
        let scheduler = ManualScheduler()
        let first = try Self.sim(directory, scheduler: scheduler)
        let child = try await first.root.engine.fork(thread: 1)
        let stoppedAt = Int64.nowMilliseconds - 50_000
        try directory.append("\(first.rootID.lowercaseText) X \(child.lowercaseText) 4 \(stoppedAt)\n")
        let again = try Self.sim(directory, scheduler: scheduler)
        #expect(again.root.engine.children[child]?.exitCode == 4)
        scheduler.advance(by: .seconds(9))
        #expect(again.root.engine.children[child] != nil, "10 s of the 60 s retention are left")
        scheduler.advance(by: .seconds(2))
        #expect(again.root.engine.children[child] == nil)
    }

    @Test func aForkInFlightOnAPlatformThatCannotTellFailsItsResendWithEIO() async throws {
        let directory = Directory()
        let journal = try StateJournal(directory: directory.path)
        journal.record([.instance(generation: UUID(), createdByFork: false), .forkSent(key: 300, thread: 2)], instance: nil)
        let engine = ForkEngine(platform: ScriptedPlatform(), journal: EngineJournal(try StateJournal(directory: directory.path)))
        await #expect(throws: Errno.ioError) { try await engine.fork(thread: 2, request: 300) }
    }
}
