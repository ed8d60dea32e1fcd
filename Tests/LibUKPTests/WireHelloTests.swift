import Foundation
@testable import LibUKP
import SystemPackage
import Testing

/// `WirePlatform` and the wire extension: `Hello` when offered, `Renewal` taken with the
/// answer it precedes or at once in answer to `Hello`.
@Suite(.timeLimit(.minutes(1))) struct WireHelloTests {
    struct Setup {
        let peer: WirePeer
        let platform: WirePlatform
        let engine: ForkEngine
        let connection: WirePeerConnection
        let system = RecordingSystem()
        let log = CapturedLog()

        init(hello: Bool) async throws {
            peer = try WirePeer()
            platform = WirePlatform(path: peer.path, reconnectDelay: .milliseconds(20), hello: hello)
            engine = ForkEngine(platform: platform, renewer: .recording(system, log, hooks: nil))
            try platform.start()
            connection = try await peer.accept()
        }

        func close() { platform.close() }
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
        let hello = try await setup.connection.receive()
        #expect(hello.payload == .hello(version: 1))
        #expect(hello.correlationID != 0)
        try setup.connection.send(WireMessage(correlationID: hello.correlationID, .renewal(Self.renewal)))
        try await until("the renewal is applied") { setup.system.names.count == 3 }
        #expect(setup.system.names == ["addEntropy 32", "reseedCRNG", "setRealtime"])
        let ahead = try #require(setup.system.setTimes.first) - 1_800_000_000_000_000_000
        #expect(ahead >= 0 && ahead < 5_000_000_000)
    }

    @Test func aRenewalBeforeParentIDRenewsTheChild() async throws {
        let setup = try await Setup(hello: true)
        defer { setup.close() }
        _ = try await setup.connection.receive()  // Hello, left unanswered: an old-style platform may be slow
        let engine = setup.engine
        let before = engine.generation
        let fork = Task { try await engine.fork(thread: 1) }
        let request = try await setup.connection.receive()
        try setup.connection.send(WireMessage(correlationID: request.correlationID, .renewal(Self.renewal)).encoded
            + WireMessage(correlationID: request.correlationID, .parentID(UUID())).encoded)
        #expect(try await fork.value == .zero)
        #expect(setup.system.names == ["addEntropy 32", "reseedCRNG", "setRealtime"])
        #expect(engine.generation != before)
    }

    @Test func aRenewalBeforeForkCreatedStepsTheParentsClock() async throws {
        let setup = try await Setup(hello: true)
        defer { setup.close() }
        _ = try await setup.connection.receive()
        let engine = setup.engine
        let fork = Task { try await engine.fork(thread: 1) }
        let request = try await setup.connection.receive()
        let child = UUID()
        try setup.connection.send(WireMessage(correlationID: request.correlationID, .renewal(
            WireRenewal(hostRealtime: 1_800_000_000_000_000_000))))
        try setup.connection.send(WireMessage(correlationID: request.correlationID, .forkCreated(
            WireForkCreated(child: child, snapshot: UUID(), creationTime: 1))))
        #expect(try await fork.value == child)
        #expect(setup.system.names == ["setRealtime"])
    }

    @Test func anUnsolicitedParentIDTakesTheRenewalBeforeIt() async throws {
        let setup = try await Setup(hello: true)
        defer { setup.close() }
        _ = try await setup.connection.receive()
        let before = setup.engine.generation
        try setup.connection.send(WireMessage(.renewal(Self.renewal)).encoded + WireMessage(.parentID(UUID())).encoded)
        try await until("the engine became a child") { setup.engine.generation != before }
        try await until("renewed") { setup.system.names.count == 3 }
        #expect(setup.system.names == ["addEntropy 32", "reseedCRNG", "setRealtime"])
    }

    @Test func everyNewConnectionSaysHelloAgain() async throws {
        let setup = try await Setup(hello: true)
        defer { setup.close() }
        #expect(try await setup.connection.receive().payload == .hello(version: 1))
        setup.connection.close()
        let again = try await setup.peer.accept()
        #expect(try await again.receive().payload == .hello(version: 1))
    }
}
