import Foundation
import SystemPackage
import Testing

@testable import LibUKP

/// A server that dies with a fork in flight, or while its children exit, and the next one
/// resynchronizing with the platform (the wire extension's `Resync`): in process, a real
/// wire platform and engine on a real state journal, the platform played over a Unix socket.
@Suite(.timeLimit(.minutes(1))) struct WireResyncTests {
    static let created = 1_700_000_000 as UInt64

    static func forkCreated(_ id: UInt32, _ child: UUID) -> WireMessage {
        WireMessage(correlationID: id, .forkCreated(WireForkCreated(child: child, snapshot: UUID(), creationTime: created)))
    }

    /// A first server that sent the fork of kernel request 300 (thread 2) and died before its
    /// answer; the second server, its resync not answered yet, and the fork's correlation id.
    static func deathMidFork(
        hello: Bool = true, renewer: InstanceRenewer = .disabled
    ) async throws -> (ServerLife, UInt32, WirePeer, StateJournalTests.Directory) {
        let directory = StateJournalTests.Directory()
        let peer = try WirePeer()
        let first = try await ServerLife(directory, peer, hello: hello)
        if hello { try await first.connection.answerResync() }
        let engine = first.engine
        let fork = Task { try await engine.fork(thread: 2, request: 300) }
        let request = try await first.connection.next()
        #expect(request.payload == .forkRequest)
        let second = try await ServerLife(directory, peer, hello: hello, renewer: renewer)
        first.bury()
        _ = await errno(of: fork)
        return (second, request.correlationID, peer, directory)
    }

    @Test func aForkThePlatformDidIsAnsweredWithItsChildOnceNeverForkedTwice() async throws {
        let (server, id, _, _) = try await Self.deathMidFork()
        defer { server.bury() }
        let child = UUID()
        let resync = try await server.connection.answerResync(
            [Self.forkCreated(id, child)],
            children: [
                WireChild(child: child, snapshot: UUID(), creationTime: Self.created, state: .running)
            ])
        #expect(resync.fork == id, "the Resync asks about the fork in flight")
        #expect(try await server.engine.fork(thread: 2, request: 300) == child)
        #expect(try await server.engine.fork(thread: 2, request: 300) == child, "resent again: the same answer")
        #expect(server.engine.children.keys == [child])
        #expect(server.engine.children[child]?.status == .running, "its state as the platform reports it")
        #expect(server.engine.forkResult(thread: 2) == child)
        // The next fork is a new one.
        let engine = server.engine
        let next = Task { try await engine.fork(thread: 2, request: 301) }
        let other = try await server.connection.answerFork(other: id)
        #expect(try await next.value == other)
        #expect(server.engine.children.count == 2)
    }

    @Test func aResentRequestWaitsForTheResync() async throws {
        let (server, id, _, _) = try await Self.deathMidFork()
        defer { server.bury() }
        let engine = server.engine
        let resent = Task { try await engine.fork(thread: 2, request: 300) }
        let resync = try await server.connection.next()
        #expect(resync.payload == .resync(fork: id))
        try await Task.sleep(for: .milliseconds(50))
        let child = UUID()
        var bytes = WireMessage(correlationID: resync.correlationID, .resyncStart).encoded + Self.forkCreated(id, child).encoded
        bytes +=
            WireMessage(correlationID: resync.correlationID, .resyncEnd(WireResyncEnd(fork: id, outcome: .answered, children: 0))).encoded
        try server.connection.send(bytes)
        #expect(try await resent.value == child)
        #expect(server.engine.children.keys == [child])
    }

    @Test func aForkThePlatformNeverReceivedIsDoneOnceWhenItsRequestComesBack() async throws {
        let (server, id, _, _) = try await Self.deathMidFork()
        defer { server.bury() }
        try await server.connection.answerResync(outcome: .neverReceived)
        try await until("settled") { await !server.engine.isForking }
        #expect(server.engine.children.count == 0)
        let engine = server.engine
        let resent = Task { try await engine.fork(thread: 2, request: 300) }
        let child = try await server.connection.answerFork(other: id)
        #expect(try await resent.value == child)
        #expect(try await server.engine.fork(thread: 2, request: 300) == child, "and once only")
        #expect(server.engine.children.keys == [child])
    }

    @Test func aResentRequestWaitingForAForkNeverReceivedForksAnew() async throws {
        let (server, _, _, _) = try await Self.deathMidFork()
        defer { server.bury() }
        let engine = server.engine
        let resent = Task { try await engine.fork(thread: 2, request: 300) }
        try await until("the resent request waits") { await engine.isForking }
        try await Task.sleep(for: .milliseconds(20))
        try await server.connection.answerResync(outcome: .neverReceived)
        let child = try await server.connection.answerFork()
        #expect(try await resent.value == child)
    }

    @Test func aRejectedForkIsAnsweredWithTheRejection() async throws {
        let (server, id, _, _) = try await Self.deathMidFork()
        defer { server.bury() }
        try await server.connection.answerResync([WireMessage(correlationID: id, .error(.noMemory))])
        await #expect(throws: Errno.noMemory) { try await server.engine.fork(thread: 2, request: 300) }
        #expect(server.engine.children.count == 0)
    }

    @Test func theChildOfTheForkBecomesTheChild() async throws {
        let (server, id, _, _) = try await Self.deathMidFork()
        defer { server.bury() }
        let before = server.engine.generation
        try await server.connection.answerResync([
            WireMessage(correlationID: id, .renewal(WireRenewal(hostRealtime: 1, entropy: Array(repeating: 7, count: 32)))),
            WireMessage(correlationID: id, .parentID(UUID())),
        ])
        #expect(try await server.engine.fork(thread: 2, request: 300) == .zero)
        #expect(server.engine.generation != before)
        #expect(server.engine.forkResult(thread: 9) == .zero)
    }

    /// Becoming the child takes time (the renewal, the hooks): a request resent meanwhile is
    /// still the fork in flight, answered with the zero UUID, not a new fork.
    @Test func aRequestResentWhileTheChildIsRenewedIsTheForkInFlight() async throws {
        let system = RecordingSystem()
        system.hold("10-first")
        let (server, id, _, _) = try await Self.deathMidFork(
            renewer: .recording(system, CapturedLog(), stepClock: false))
        defer { server.bury() }
        let engine = server.engine
        let before = engine.generation
        try await server.connection.answerResync([WireMessage(correlationID: id, .parentID(UUID()))])
        try await until("the child's hooks run") { engine.generation != before }
        let resent = Task { try await engine.fork(thread: 2, request: 300) }
        try await Task.sleep(for: .milliseconds(50))
        system.release("10-first")
        try await until("the fork is done", timeout: .seconds(5)) { await !engine.isForking }
        #expect(try await resent.value == .zero)
    }

    @Test func withoutTheExtensionAForkThatWasSentCannotBeToldAndFailsWithEIO() async throws {
        let (server, _, _, _) = try await Self.deathMidFork(hello: false)
        defer { server.bury() }
        await #expect(throws: Errno.ioError) { try await server.engine.fork(thread: 2, request: 300) }
        #expect(server.engine.children.count == 0)
        let engine = server.engine
        let next = Task { try await engine.fork(thread: 2, request: 301) }
        let first = try await server.connection.receive()
        #expect(first.payload == .forkRequest, "no Resync to a platform that did not offer the extension")
        try server.connection.send(Self.forkCreated(first.correlationID, UUID()))
        _ = try await next.value
    }

    /// The journal says the fork was handed to the platform's code, not that its
    /// `ForkRequest` was written: the server died in between. Without the extension too.
    @Test(arguments: [true, false])
    func aForkThatWasNeverSentForksAnewWhenResent(hello: Bool) async throws {
        let directory = StateJournalTests.Directory()
        let peer = try WirePeer()
        do {
            let journal = try StateJournal(directory: directory.path)
            journal.record([.instance(generation: UUID(), createdByFork: false), .forkSent(key: 300, thread: 2)], instance: nil)
        }
        let server = try await ServerLife(directory, peer, hello: hello)
        defer { server.bury() }
        let engine = server.engine
        let resent = Task { try await engine.fork(thread: 2, request: 300) }
        if hello {
            let resync = try await server.connection.answerResync()
            #expect(resync.fork == 0, "nothing to ask about")
        }
        let child = try await server.connection.answerFork()
        #expect(try await resent.value == child)
    }

    @Test func exitsAndStatesOfWhileNoServerReadAreReportedAndLostChildrenAppear() async throws {
        let directory = StateJournalTests.Directory()
        let peer = try WirePeer()
        let first = try await ServerLife(directory, peer)
        try await first.connection.answerResync()
        var children: [UUID] = []
        for request in [400, 401, 402] as [UInt64] {
            let engine = first.engine
            let fork = Task { try await engine.fork(thread: 1, request: request) }
            let message = try await first.connection.next()
            let child = UUID()
            try first.connection.send(Self.forkCreated(message.correlationID, child))
            #expect(try await fork.value == child)
            children.append(child)
        }
        let second = try await ServerLife(directory, peer)
        first.bury()
        defer { second.bury() }
        let waited = try #require(second.engine.children[children[0]])
        let waiter = Task { try await waited.waitUntilStopped() }
        let lost = UUID()
        let gone = UUID()
        func child(_ id: UUID, _ state: InstanceState, _ code: UInt32 = 0) -> WireChild {
            WireChild(child: id, snapshot: UUID(), creationTime: Self.created, state: state, exitCode: code)
        }
        try await second.connection.answerResync(children: [
            child(children[0], .stopped, 7), child(children[1], .template), child(children[2], .starting),
            child(lost, .running), child(gone, .stopped, 1),
        ])
        try await waiter.value
        #expect(waited.exitCode == 7)
        try await until("the report applied") { second.engine.children[lost] != nil }
        #expect(second.engine.children[children[1]]?.status == .template)
        #expect(second.engine.children[children[2]]?.status == .starting)
        #expect(second.engine.children.keys == children + [lost], "a child whose answer was lost appears")
        #expect(second.engine.children[lost]?.status == .running)
        #expect(second.engine.children[gone] == nil, "an unknown stopped child is not one to show")
        // What the second server learnt survives it too.
        let third = try await ServerLife(directory, peer)
        second.bury()
        defer { third.bury() }
        #expect(third.engine.children.keys == children + [lost])
        #expect(third.engine.children[children[0]]?.exitCode == 7)
    }

    @Test func bytesBeforeResyncStartAreSkipped() async throws {
        let (server, id, _, _) = try await Self.deathMidFork()
        defer { server.bury() }
        let stale = UUID()
        let child = UUID()
        // What the dead server left unread: an answer to it, and half a message.
        let before = Self.forkCreated(id, stale).encoded + Array(WireMessage(.exitStatus(child: child, code: 1)).encoded[..<20])
        try await server.connection.answerResync([Self.forkCreated(id, child)], before: before)
        #expect(try await server.engine.fork(thread: 2, request: 300) == child)
        #expect(server.engine.children.keys == [child])
        try await until("logged") { !server.logs.matching("skipped \(before.count) bytes before ResyncStart", atLeast: .info).isEmpty }
    }

    // MARK: A lost stream, the server alive

    /// A server whose stream is lost with a fork in flight, the fork, its correlation id, and
    /// the next connection (its resync not answered yet).
    static func streamLostMidFork() async throws -> (ServerLife, Task<UUID, any Error>, UInt32, WirePeerConnection) {
        let peer = try WirePeer()
        let server = try await ServerLife(StateJournalTests.Directory(), peer)
        try await server.connection.answerResync()
        let engine = server.engine
        let fork = Task { try await engine.fork(thread: 1, request: 500) }
        let request = try await server.connection.next()
        server.connection.close()
        return (server, fork, request.correlationID, try await peer.accept())
    }

    @Test func aForkInFlightOnALostStreamIsAnsweredByTheNextConnectionsResync() async throws {
        let (server, fork, id, again) = try await Self.streamLostMidFork()
        defer { server.bury() }
        let child = UUID()
        let resync = try await again.answerResync([Self.forkCreated(id, child)])
        #expect(resync.fork == id)
        #expect(try await fork.value == child)
        #expect(server.engine.children.keys == [child])
    }

    @Test func aForkOnALostStreamThatThePlatformNeverReceivedIsSentAgain() async throws {
        let (server, fork, id, again) = try await Self.streamLostMidFork()
        defer { server.bury() }
        try await again.answerResync(outcome: .neverReceived)
        let child = try await again.answerFork(other: id)
        #expect(try await fork.value == child)
    }

    /// A platform that offered the extension and does not answer `Resync` (5 s): the guest
    /// reads on without it; the fork in flight fails with `EIO`.
    @Test func aPlatformThatDoesNotAnswerResyncIsReadOnWithout() async throws {
        let (server, id, _, _) = try await Self.deathMidFork()
        defer { server.bury() }
        let resync = try await server.connection.next()
        #expect(resync.payload == .resync(fork: id))
        await #expect(throws: Errno.ioError) { try await server.engine.fork(thread: 2, request: 300) }
        #expect(!server.logs.matching("did not answer Resync").isEmpty)
        let engine = server.engine
        let next = Task { try await engine.fork(thread: 2, request: 301) }
        let other = try await server.connection.answerFork()
        #expect(try await next.value == other)
    }
}
