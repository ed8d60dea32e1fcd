import Foundation
import LibUKP
import SystemPackage
import Testing

/// The wire extension's resync messages: `Resync`, `ResyncStart`, `Child`, `ResyncEnd`. Their
/// bytes (`table`) are also in `WireCodecTests.table`, so every codec test there (byte for
/// byte, in chunks, every prefix) covers them; and skipping to `ResyncStart`.
@Suite struct WireResyncCodecTests {
    static let child = WireCodecTests.child
    static let snapshot = WireCodecTests.snapshot

    static let table: [(WireMessage, [UInt8])] = [
        (
            WireMessage(correlationID: 0x11, .resync(fork: 0x0102_0304)),
            [0x03, 0, 0, 0x80, 0x11, 0, 0, 0, 0x04, 0x03, 0x02, 0x01]
        ),
        (
            WireMessage(correlationID: 0x12, .resync(fork: 0)),
            [0x03, 0, 0, 0x80, 0x12, 0, 0, 0, 0, 0, 0, 0]
        ),
        (
            WireMessage(correlationID: 0x11, .resyncStart),
            [0x04, 0, 0, 0x80, 0x11, 0, 0, 0]
        ),
        (
            WireMessage(
                correlationID: 0x11,
                .child(
                    WireChild(
                        child: child, snapshot: snapshot, creationTime: 0x6553_f100, state: .stopped, exitCode: 0xffff_fffe))),
            [0x05, 0, 0, 0x80, 0x11, 0, 0, 0] + WireCodecTests.childBytes + WireCodecTests.snapshotBytes
                + [0x00, 0xf1, 0x53, 0x65, 0, 0, 0, 0] + [0, 0, 0, 0] + [0xfe, 0xff, 0xff, 0xff]
        ),
        (
            WireMessage(
                correlationID: 0x11,
                .child(
                    WireChild(
                        child: child, snapshot: snapshot, creationTime: 1, state: .template))),
            [0x05, 0, 0, 0x80, 0x11, 0, 0, 0] + WireCodecTests.childBytes + WireCodecTests.snapshotBytes
                + [1, 0, 0, 0, 0, 0, 0, 0] + [5, 0, 0, 0] + [0, 0, 0, 0]
        ),
        (
            WireMessage(correlationID: 0x11, .resyncEnd(WireResyncEnd(fork: 0x0102_0304, outcome: .answered, children: 2))),
            [0x06, 0, 0, 0x80, 0x11, 0, 0, 0, 0x04, 0x03, 0x02, 0x01, 1, 0, 0, 0, 2, 0, 0, 0]
        ),
        (
            WireMessage(correlationID: 0x11, .resyncEnd(WireResyncEnd(fork: 7, outcome: .neverReceived, children: 0))),
            [0x06, 0, 0, 0x80, 0x11, 0, 0, 0, 7, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]
        ),
        (
            WireMessage(correlationID: 0x12, .resyncEnd(WireResyncEnd(fork: 0, outcome: .none, children: 0))),
            [0x06, 0, 0, 0x80, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        ),
    ]

    @Test func aStreamEndingInsideAResyncMessageIsTruncated() {
        let cases: [([UInt8], WireDecodingError)] = [
            (Array(Self.table[0].1[..<10]), .truncated(type: .resync, received: 10, expected: 12)),
            (Array(Self.table[2].1[..<7]), .truncated(type: .resyncStart, received: 7, expected: nil)),
            (Array(Self.table[3].1[..<55]), .truncated(type: .child, received: 55, expected: 56)),
            (Array(Self.table[5].1[..<8]), .truncated(type: .resyncEnd, received: 8, expected: 20)),
        ]
        WireCodecTests.expectTruncated(cases)
    }

    static let malformed: [([UInt8], WireDecodingError)] = [
        (
            [0x05, 0, 0, 0x80, 0x09, 0, 0, 0] + WireCodecTests.childBytes + WireCodecTests.snapshotBytes
                + [1, 0, 0, 0, 0, 0, 0, 0] + [6, 0, 0, 0] + [0, 0, 0, 0],
            .malformed(.child, correlationID: 9, .unknownState(6))
        ),
        (
            [0x06, 0, 0, 0x80, 0x09, 0, 0, 0, 7, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0],
            .malformed(.resyncEnd, correlationID: 9, .unknownForkOutcome(3))
        ),
        (
            [0x06, 0, 0, 0x80, 0x09, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0],
            .malformed(.resyncEnd, correlationID: 9, .forkOutcome(.answered, fork: 0))
        ),
        (
            [0x06, 0, 0, 0x80, 0x09, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            .malformed(.resyncEnd, correlationID: 9, .forkOutcome(.none, fork: 7))
        ),
    ]

    @Test(arguments: malformed)
    func aMalformedResyncMessageIsSkipped(_ bytes: [UInt8], _ error: WireDecodingError) throws {
        let next = WireMessage(correlationID: 9, .resyncStart)
        var decoder = WireDecoder()
        decoder.append(bytes + next.encoded)
        #expect(throws: error) { try decoder.next() }
        #expect(decoder.isInStep)
        #expect(try decoder.next() == next)
    }

    @Test func malformedResyncMessagesSayWhatIsWrong() {
        #expect(
            Self.malformed[1].1.description
                == "malformed ResyncEnd message (correlation id 9): unknown fork outcome 3; skipped")
        #expect(
            Self.malformed[2].1.description
                == "malformed ResyncEnd message (correlation id 9): fork outcome 1 for fork 0; skipped")
    }

    @Test func aChildTakesItsExitCodeOnlyOnceStopped() {
        let running = WireChild(child: Self.child, snapshot: Self.snapshot, creationTime: 5, state: .running, exitCode: 3)
        #expect(
            running.reported
                == ReportedChild(
                    ForkedChild(id: Self.child, snapshot: Self.snapshot, creationTime: 5), state: .running))
        let stopped = WireChild(child: Self.child, snapshot: Self.snapshot, creationTime: 5, state: .stopped, exitCode: 0xffff_ffff)
        #expect(stopped.reported.exitCode == -1)
    }

    // MARK: Skipping to ResyncStart

    /// What a stream may hold before the platform's answer to `Resync` 0x11: the tail of a
    /// message cut by a server that died reading it, and an answer sent to a dead server.
    static let stale: [UInt8] =
        Array(WireMessage(.exitStatus(child: child, code: 3)).encoded[20...])
        + WireMessage(correlationID: 0x10, .resyncStart).encoded
        + WireMessage(.status(child: child, state: .running)).encoded

    @Test(arguments: [1, 3, 7, 8, 100])
    func bytesBeforeResyncStartAreSkippedInChunksOfEverySize(_ chunk: Int) throws {
        let answers = Array(Self.table[2...5].map(\.0))
        let stream = Self.stale + Self.table[2...5].flatMap(\.1)
        var decoder = WireDecoder()
        decoder.skip(until: .resyncStart, correlationID: 0x11)
        var decoded: [WireMessage] = []
        var offset = 0
        while offset < stream.count {
            decoder.append(stream[offset..<min(offset + chunk, stream.count)])
            offset += chunk
            while let message = try decoder.next() { decoded.append(message) }
        }
        #expect(decoded == answers)
        #expect(decoder.skippedByteCount == Self.stale.count)
        #expect(!decoder.isSkipping)
        try decoder.finish()
    }

    @Test func bytesAlreadyBufferedAreSkippedToo() throws {
        var decoder = WireDecoder()
        decoder.append(Self.stale + WireMessage(correlationID: 0x11, .resyncStart).encoded)
        decoder.skip(until: .resyncStart, correlationID: 0x11)
        #expect(try decoder.next() == WireMessage(correlationID: 0x11, .resyncStart))
        #expect(decoder.skippedByteCount == Self.stale.count)
    }

    @Test func aStreamThatEndsWhileSkippingEndsQuietly() throws {
        var decoder = WireDecoder()
        decoder.skip(until: .resyncStart, correlationID: 0x11)
        decoder.append(Self.stale)
        #expect(try decoder.next() == nil)
        #expect(decoder.isSkipping)
        try decoder.finish()
        #expect(!decoder.isSkipping)
    }
}
