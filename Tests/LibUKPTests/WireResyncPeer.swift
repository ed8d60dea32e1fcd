import Foundation
import SystemPackage
import Testing

@testable import LibUKP

/// The platform's side of the resync, played by a test on a `WirePeerConnection`.
extension WirePeerConnection {
    /// The next message that is not a `Hello`; each `Hello` is answered (a `Renewal`, clock only).
    func next(timeout: Duration = .seconds(60)) async throws -> WireMessage {
        while true {
            let message = try await receive(timeout: timeout)
            guard case .hello = message.payload else { return message }
            try send(WireMessage(correlationID: message.correlationID, .renewal(WireRenewal(hostRealtime: 1))))
        }
    }

    /// Answers the next `ForkRequest` (not `other`) with a new child, returned.
    func answerFork(other: UInt32? = nil) async throws -> UUID {
        let request = try await next()
        #expect(request.payload == .forkRequest && request.correlationID != other)
        let child = UUID()
        try send(WireResyncTests.forkCreated(request.correlationID, child))
        return child
    }

    /// Waits for the guest's `Resync` and answers it: `ResyncStart`, `answers` (the fork's
    /// answer sent again), a `Child` for each of `children`, `ResyncEnd` with `outcome`
    /// (by default: answered if there are answers, else never received; none without a fork).
    /// `before` goes ahead of `ResyncStart` (what the guest must skip). Returns the `Resync`.
    @discardableResult
    func answerResync(
        _ answers: [WireMessage] = [], children: [WireChild] = [], outcome: WireForkOutcome? = nil, before: [UInt8] = []
    ) async throws -> (id: UInt32, fork: UInt32) {
        let message = try await next()
        guard case .resync(let fork) = message.payload else {
            Issue.record("expected Resync, got \(message)")
            throw TimedOut()
        }
        let id = message.correlationID
        let outcome = outcome ?? (fork == 0 ? .none : answers.isEmpty ? .neverReceived : .answered)
        var bytes = before + WireMessage(correlationID: id, .resyncStart).encoded
        for answer in answers { bytes += answer.encoded }
        for child in children { bytes += WireMessage(correlationID: id, .child(child)).encoded }
        bytes +=
            WireMessage(
                correlationID: id,
                .resyncEnd(
                    WireResyncEnd(
                        fork: fork, outcome: outcome, children: UInt32(children.count)))
            ).encoded
        try send(bytes)
        return (id, fork)
    }
}

/// One life of a server on a state directory: a wire platform and its engine restored from
/// the journal there, connected to `peer`. A server "dies" when the next life opens the
/// journal (it takes up the file as the dead server left it) and this one is then closed
/// (what it writes as it goes no longer reaches the file the next life reads).
struct ServerLife {
    let platform: WirePlatform
    let engine: ForkEngine
    let connection: WirePeerConnection
    let logs = LogLines()

    init(
        _ directory: StateJournalTests.Directory, _ peer: WirePeer, hello: Bool = true, renewer: InstanceRenewer = .disabled
    ) async throws {
        let journal = EngineJournal(try StateJournal(directory: directory.path))
        platform = WirePlatform(path: peer.path, reconnectDelay: .milliseconds(20), hello: hello, journal: journal, log: logs.log)
        engine = ForkEngine(platform: platform, renewer: renewer, journal: journal)
        try platform.start()
        connection = try await peer.accept()
    }

    /// The server is dead: nothing it does from now on counts.
    func bury() { platform.close() }
}
