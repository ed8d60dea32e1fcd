import Foundation
import SystemPackage
import Testing

@testable import LibUKP

/// `WirePlatform` and the wire extension: `Hello` when offered, `Renewal` taken with the
/// answer it precedes or at once in answer to `Hello`.
@Suite(.timeLimit(.minutes(1))) struct WireHelloTests {
    /// A wire platform and its peer (`WirePlatformTests.Setup`), renewing through a recording system.
    struct Setup {
        let system = RecordingSystem()
        let wire: WirePlatformTests.Setup

        init(hello: Bool) async throws {
            wire = try await WirePlatformTests.Setup(hello: hello, renewer: .recording(system, CapturedLog(), hooks: nil))
        }

        var engine: ForkEngine { wire.engine }
        var connection: WirePeerConnection { wire.connection }
        var peer: WirePeer { wire.peer }
        func close() { wire.close() }

        /// Answers the next `count` messages, which must be `Hello`s, with `renewal` (and a
        /// `Resync` that comes first on a new connection, with nothing to tell).
        func answerHellos(_ count: Int = 3, with renewal: WireRenewal = WireHelloTests.renewal) async throws {
            for _ in 0..<count {
                var hello = try await connection.receive()
                if case .resync = hello.payload {
                    try connection.send(
                        WireMessage(correlationID: hello.correlationID, .resyncStart).encoded
                            + WireMessage(
                                correlationID: hello.correlationID,
                                .resyncEnd(
                                    WireResyncEnd(
                                        fork: 0, outcome: .none, children: 0))
                            ).encoded)
                    hello = try await connection.receive()
                }
                #expect(hello.payload == .hello(version: 1))
                #expect(hello.correlationID != 0)
                try connection.send(WireMessage(correlationID: hello.correlationID, .renewal(renewal)))
            }
        }

        /// Answers the greeting `Hello`s and waits until the clock was stepped at connect.
        func connect() async throws {
            try await answerHellos()
            try await until("connected and stepped") { system.names.count == 3 }
        }

        /// Starts a fork that the peer answers with `Renewal` and `ParentId`: this instance is the child.
        func forkAsChild() async throws -> Task<UUID, any Error> {
            let engine = engine
            let fork = Task { try await engine.fork(thread: 1) }
            var request = try await connection.receive()
            while request.payload != .forkRequest { request = try await connection.receive() }
            try connection.send(
                WireMessage(correlationID: request.correlationID, .renewal(WireHelloTests.renewal)).encoded
                    + WireMessage(correlationID: request.correlationID, .parentID(UUID())).encoded)
            return fork
        }
    }

    static let renewal = WireRenewal(hostRealtime: 1_800_000_000_000_000_000, entropy: Array(repeating: 9, count: 32))

    @Test func withoutTheOfferTheGuestSaysNothingNew() async throws {
        let setup = try await Setup(hello: false)
        defer { setup.close() }
        let engine = setup.engine
        let fork = Task { try await engine.fork(thread: 1) }
        let first = try await setup.connection.receive()
        #expect(first.payload == .forkRequest, "no Hello to a platform that did not offer the extension")
        try setup.connection.send(WireMessage(correlationID: first.correlationID, .error(.noMemory)))
        #expect(await errno(of: fork) == .noMemory)
        #expect(setup.system.names.isEmpty)
    }

    @Test func helloIsAnsweredWithARenewalThatStepsTheClockAtOnce() async throws {
        let setup = try await Setup(hello: true)
        defer { setup.close() }
        try await setup.answerHellos()
        try await until("the renewal is applied") { setup.system.names.count == 3 }
        #expect(setup.system.names == ["addEntropy 32", "reseedCRNG", "setRealtime"])
        let ahead = try #require(setup.system.setTimes.first) - 1_800_000_000_000_000_000
        #expect(ahead >= 0 && ahead < 5_000_000_000)
    }

    @Test func aRenewalBeforeParentIDRenewsTheChildWhoseClockIsMeasuredAgain() async throws {
        let setup = try await Setup(hello: true)
        defer { setup.close() }
        try await setup.connect()
        let engine = setup.engine
        let before = engine.generation
        let fork = try await setup.forkAsChild()
        // Once it runs, the child measures the host's clock again: three round trips.
        let later = WireRenewal(hostRealtime: 1_900_000_000_000_000_000, entropy: Self.renewal.entropy)
        try await setup.answerHellos(with: later)
        #expect(try await fork.value == .zero)
        #expect(Array(setup.system.names.dropFirst(3)) == ["addEntropy 32", "reseedCRNG", "setRealtime"])
        let stepped = try #require(setup.system.setTimes.last) - 1_900_000_000_000_000_000
        #expect(stepped >= 0 && stepped < 5_000_000_000, "the measured clock, not the one sent with ParentId")
        #expect(engine.generation != before)
    }

    @Test func aChildWhosePlatformDoesNotAnswerHelloStepsToTheClockSentWithParentID() async throws {
        let setup = try await Setup(hello: true)
        defer { setup.close() }
        try await setup.answerHellos()
        let fork = try await setup.forkAsChild()
        #expect(try await fork.value == .zero)  // after three unanswered Hellos (250 ms each)
        let stepped = try #require(setup.system.setTimes.last) - 1_800_000_000_000_000_000
        #expect(stepped >= 0 && stepped < 5_000_000_000)
    }

    @Test func aRenewalBeforeForkCreatedStepsTheParentsClock() async throws {
        let setup = try await Setup(hello: true)
        defer { setup.close() }
        try await setup.connect()
        let engine = setup.engine
        let fork = Task { try await engine.fork(thread: 1) }
        let request = try await setup.connection.receive()
        let child = UUID()
        try setup.connection.send(
            WireMessage(
                correlationID: request.correlationID,
                .renewal(
                    WireRenewal(hostRealtime: 1_800_000_000_000_000_000))))
        try setup.connection.send(
            WireMessage(
                correlationID: request.correlationID,
                .forkCreated(
                    WireForkCreated(child: child, snapshot: UUID(), creationTime: 1))))
        // The parent measures the clock again too before its fork returns.
        try await setup.answerHellos(with: WireRenewal(hostRealtime: 1_900_000_000_000_000_000))
        #expect(try await fork.value == child)
        #expect(Array(setup.system.names.dropFirst(3)) == ["setRealtime"])
        let stepped = try #require(setup.system.setTimes.last) - 1_900_000_000_000_000_000
        #expect(stepped >= 0 && stepped < 5_000_000_000, "the measured clock")
    }

    @Test func anUnsolicitedParentIDTakesTheRenewalBeforeIt() async throws {
        let setup = try await Setup(hello: true)
        defer { setup.close() }
        try await setup.connect()
        let before = setup.engine.generation
        try setup.connection.send(WireMessage(.renewal(Self.renewal)).encoded + WireMessage(.parentID(UUID())).encoded)
        try await setup.answerHellos()
        try await until("the engine became a child") { setup.engine.generation != before }
        try await until("renewed") { setup.system.names.count == 6 }
        #expect(Array(setup.system.names.dropFirst(3)) == ["addEntropy 32", "reseedCRNG", "setRealtime"])
    }

    @Test func everyNewConnectionSaysResyncAndHelloAgain() async throws {
        let setup = try await Setup(hello: true)
        defer { setup.close() }
        #expect(try await setup.connection.receive().payload == .resync(fork: 0))
        #expect(try await setup.connection.receive().payload == .hello(version: 1))
        setup.connection.close()
        let again = try await setup.peer.accept()
        #expect(try await again.receive().payload == .resync(fork: 0))
        #expect(try await again.receive().payload == .hello(version: 1))
        // An unanswered Hello is asked again: three round trips in all.
        #expect(try await again.receive().payload == .hello(version: 1))
    }
}
