import Foundation
import LibUKP
import SystemPackage
import Testing

/// `WirePlatform` against a test peer that plays the platform over a real Unix socket.
@Suite(.timeLimit(.minutes(1))) struct WirePlatformTests {
    /// A started platform, its engine, and the peer's end of the connection.
    struct Setup {
        let peer: WirePeer
        let platform: WirePlatform
        let engine: ForkEngine
        let connection: WirePeerConnection
        let logs: LogLines

        init(createdByFork: Bool = false, hello: Bool = false, renewer: InstanceRenewer = .disabled) async throws {
            peer = try WirePeer()
            logs = LogLines()
            platform = WirePlatform(path: peer.path, reconnectDelay: .milliseconds(20), hello: hello, log: logs.log)
            engine = ForkEngine(platform: platform, createdByFork: createdByFork, renewer: renewer)
            try platform.start()
            connection = try await peer.accept()
        }

        /// Starts a fork and returns it with the `ForkRequest` the peer received.
        func startFork(thread: Int32 = 1) async throws -> (Task<UUID, any Error>, UInt32) {
            let engine = engine
            let task = Task { try await engine.fork(thread: thread) }
            let request = try await connection.receive()
            #expect(request.payload == .forkRequest)
            #expect(request.correlationID != 0)
            return (task, request.correlationID)
        }

        /// A fork the peer answers with a new child.
        func forkChild(thread: Int32 = 1, creationTime: UInt64 = 1_700_000_000) async throws -> UUID {
            let (task, id) = try await startFork(thread: thread)
            let child = UUID()
            try connection.send(
                WireMessage(
                    correlationID: id,
                    .forkCreated(
                        WireForkCreated(
                            child: child, snapshot: UUID(), creationTime: creationTime, fqdn: "child.example"))))
            #expect(try await task.value == child)
            return child
        }

        func close() { platform.close() }
    }

    @Test func aForkIsAForkRequestAndForkCreatedMakesTheChild() async throws {
        let setup = try await Setup()
        defer { setup.close() }
        let (task, id) = try await setup.startFork(thread: 7)
        let child = UUID()
        let snapshot = UUID()
        try setup.connection.send(
            WireMessage(
                correlationID: id,
                .forkCreated(
                    WireForkCreated(
                        child: child, snapshot: snapshot, creationTime: 1_234, fqdn: "c.example"))))
        #expect(try await task.value == child)
        let entry = try #require(setup.engine.children[child])
        #expect(entry.snapshot == snapshot)
        #expect(entry.creationTime == 1_234)
        #expect(entry.status == .starting)
        #expect(setup.engine.forkResult(thread: 7) == child)
        #expect(setup.platform.pendingForks == 0)
    }

    @Test func everyForkHasAFreshCorrelationID() async throws {
        let setup = try await Setup()
        defer { setup.close() }
        var ids: Set<UInt32> = []
        for _ in 0..<5 {
            let (task, id) = try await setup.startFork()
            ids.insert(id)
            try setup.connection.send(
                WireMessage(
                    correlationID: id,
                    .forkCreated(
                        WireForkCreated(
                            child: UUID(), snapshot: UUID(), creationTime: 1))))
            _ = try await task.value
        }
        #expect(ids.count == 5)
        #expect(setup.engine.children.count == 5)
    }

    @Test(arguments: [Errno.noMemory, .resourceBusy, .ioError])
    func anErrorReplyFailsTheForkWithThePlatformsErrno(_ errno: Errno) async throws {
        let setup = try await Setup()
        defer { setup.close() }
        let (task, id) = try await setup.startFork()
        try setup.connection.send(WireMessage(correlationID: id, .error(errno)))
        #expect(await LibUKPTests.errno(of: task) == errno)
        #expect(setup.engine.children.count == 0)
        #expect(setup.engine.forkResult(thread: 1) == nil)
    }

    @Test func statusChangesAndTheExitReachTheEngine() async throws {
        let setup = try await Setup()
        defer { setup.close() }
        let id = try await setup.forkChild()
        let child = try #require(setup.engine.children[id])
        try setup.connection.send(WireMessage(.status(child: id, state: .running)))
        try await until("Running") { child.status == .running }
        try setup.connection.send(WireMessage(.status(child: id, state: .template)))
        try await until("Template") { child.status == .template }
        // `Status` `Stopped` alone does not stop the child: `ExitStatus` brings the code.
        try setup.connection.send(
            WireMessage(.status(child: id, state: .stopped))
                .encoded + WireMessage(.exitStatus(child: id, code: 42)).encoded)
        try await until("stopped") { child.hasStopped }
        #expect(child.exitCode == 42)
        try await child.waitUntilStopped()
    }

    @Test func aNegativeExitCodeKeepsItsBits() async throws {
        let setup = try await Setup()
        defer { setup.close() }
        let id = try await setup.forkChild()
        let child = try #require(setup.engine.children[id])
        try setup.connection.send(WireMessage(.exitStatus(child: id, code: 0xffff_ffff)))
        try await until("stopped") { child.hasStopped }
        #expect(child.exitCode == -1)
    }

    @Test func messagesSplitAcrossWritesAndPackedInOneAreDecoded() async throws {
        let setup = try await Setup()
        defer { setup.close() }
        let (task, id) = try await setup.startFork()
        let child = UUID()
        let bytes =
            WireMessage(
                correlationID: id,
                .forkCreated(
                    WireForkCreated(
                        child: child, snapshot: UUID(), creationTime: 9, fqdn: "split"))
            ).encoded
            + WireMessage(.status(child: child, state: .running)).encoded
        for byte in bytes {
            try setup.connection.send([byte])
            try await Task.sleep(for: .microseconds(200))
        }
        #expect(try await task.value == child)
        try await until("Running") { setup.engine.children[child]?.status == .running }
    }

    // MARK: Becoming a child

    @Test func parentIDAnswersTheForkInFlightAsTheChild() async throws {
        let setup = try await Setup()
        defer { setup.close() }
        let earlier = try await setup.forkChild(thread: 2)
        let (task, id) = try await setup.startFork(thread: 3)
        let parent = UUID()
        try setup.connection.send(WireMessage(correlationID: id, .parentID(parent)))
        #expect(try await task.value == .zero)
        #expect(setup.platform.parent == parent)
        #expect(setup.engine.children[earlier] == nil)
        #expect(setup.engine.forkResult(thread: 2) == .zero)
        #expect(setup.engine.forkResult(thread: 3) == .zero)
    }

    @Test func anUnsolicitedParentIDMakesTheEngineAChild() async throws {
        let setup = try await Setup()
        defer { setup.close() }
        let earlier = try await setup.forkChild(thread: 2)
        #expect(setup.engine.forkResult(thread: 2) == earlier)
        let parent = UUID()
        try setup.connection.send(WireMessage(.parentID(parent)))
        try await until("became a child") { setup.engine.children.count == 0 }
        #expect(setup.engine.forkResult(thread: 2) == .zero)
        #expect(setup.platform.parent == parent)
        // It goes on forking as the child.
        let own = try await setup.forkChild(thread: 2)
        #expect(setup.engine.children.keys == [own])
    }

    // MARK: Bad input and lost streams

    @Test func aMalformedMessageIsLoggedAndTheConnectionSurvives() async throws {
        let setup = try await Setup()
        defer { setup.close() }
        let id = try await setup.forkChild()
        var bad = WireMessage(.status(child: id, state: .running)).encoded
        bad[24] = 9
        try setup.connection.send(bad)
        try await until("log line") { !setup.logs.matching("malformed Status message").isEmpty }
        #expect(setup.logs.matching("malformed Status message").first?.contains("unknown state code 9") == true)
        _ = try await setup.forkChild()
        #expect(setup.platform.isConnected)
    }

    @Test func answersToForksNotInFlightAreLoggedAndIgnored() async throws {
        let setup = try await Setup()
        defer { setup.close() }
        try setup.connection.send(
            WireMessage(
                correlationID: 99,
                .forkCreated(
                    WireForkCreated(
                        child: UUID(), snapshot: UUID(), creationTime: 1))))
        try setup.connection.send(WireMessage(correlationID: 98, .error(.noMemory)))
        try await until("log lines") { setup.logs.matching("not in flight").count == 2 }
        #expect(setup.engine.children.count == 0)
        _ = try await setup.forkChild()
    }

    @Test func losingTheStreamFailsTheForkInFlightWithEIOAndReconnects() async throws {
        let setup = try await Setup()
        defer { setup.close() }
        let (task, _) = try await setup.startFork()
        setup.connection.close()
        #expect(await LibUKPTests.errno(of: task) == .ioError)
        #expect(setup.engine.children.count == 0)
        let again = try await setup.peer.accept()
        try await until("connected again") { setup.platform.isConnected }
        let engine = setup.engine
        let next = Task { try await engine.fork(thread: 1) }
        let request = try await again.receive()
        let child = UUID()
        try again.send(
            WireMessage(
                correlationID: request.correlationID,
                .forkCreated(
                    WireForkCreated(
                        child: child, snapshot: UUID(), creationTime: 1))))
        #expect(try await next.value == child)
    }

    @Test func anUnknownMessageTypeDropsTheConnectionAndReconnects() async throws {
        let setup = try await Setup()
        defer { setup.close() }
        let (task, _) = try await setup.startFork()
        try setup.connection.send([0x77, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3])
        #expect(await LibUKPTests.errno(of: task) == .ioError)
        #expect(setup.logs.matching("unknown message type 0x77", atLeast: .error).count == 1)
        try await setup.connection.waitForEnd()
        _ = try await setup.peer.accept()
    }

    @Test func aForkWhileDisconnectedFailsWithEIO() async throws {
        let setup = try await Setup()
        defer { setup.close() }
        setup.peer.stopListening()
        setup.connection.close()
        try await until("disconnected") { !setup.platform.isConnected }
        await #expect(throws: Errno.ioError) { try await setup.engine.fork(thread: 1) }
        #expect(!setup.logs.matching("not connected").isEmpty)
    }

    @Test func closingFailsTheForkInFlightAndEndsTheStream() async throws {
        let setup = try await Setup()
        let (task, _) = try await setup.startFork()
        setup.platform.close()
        #expect(await LibUKPTests.errno(of: task) == .ioError)
        try await setup.connection.waitForEnd()
        #expect(!setup.platform.isConnected || setup.platform.pendingForks == 0)
    }

    @Test func aForkAfterClosingFailsWithEIO() async throws {
        let setup = try await Setup()
        setup.platform.close()
        await #expect(throws: Errno.ioError) { try await setup.engine.fork(thread: 1) }
        #expect(setup.platform.pendingForks == 0)
    }

    @Test func startingOnAMissingPathFails() {
        let platform = WirePlatform(path: "/tmp/ukp-wire-missing-\(UUID().uuidString).sock")
        #expect(throws: Errno.noSuchFileOrDirectory) { try platform.start() }
    }

    @Test func aStreamEndingInsideAMessageIsLogged() async throws {
        let setup = try await Setup()
        defer { setup.close() }
        try setup.connection.send(Array(WireMessage(.status(child: UUID(), state: .running)).encoded[..<20]))
        try await Task.sleep(for: .milliseconds(20))
        setup.connection.close()
        try await until("log line") { !setup.logs.matching("stream ended inside a Status message").isEmpty }
        _ = try await setup.peer.accept()
    }
}
