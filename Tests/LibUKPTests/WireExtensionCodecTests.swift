import Foundation
import LibUKP
import SystemPackage
import Testing

/// This project's wire extension: `Hello` and `Renewal`. Their bytes (`table`) are also in
/// `WireCodecTests.table`, so every codec test there (byte for byte, in chunks, every prefix)
/// covers them.
@Suite struct WireExtensionCodecTests {
    static let entropy: [UInt8] = Array(0..<32)
    /// 1_700_000_000_123_456_789 ns, little-endian.
    static let clockBytes: [UInt8] = [0x15, 0xcd, 0x85, 0x3d, 0xfe, 0x9c, 0x97, 0x17]

    static let table: [(WireMessage, [UInt8])] = [
        (
            WireMessage(correlationID: 3, .hello(version: 1)),
            [0x01, 0, 0, 0x80, 0x03, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
        ),
        (
            WireMessage(correlationID: 3, .renewal(WireRenewal(hostRealtime: 1_700_000_000_123_456_789, entropy: entropy))),
            [0x02, 0, 0, 0x80, 0x03, 0, 0, 0] + clockBytes + [32, 0] + entropy
        ),
        (
            WireMessage(correlationID: 9, .renewal(WireRenewal(hostRealtime: 1_700_000_000_123_456_789))),
            [0x02, 0, 0, 0x80, 0x09, 0, 0, 0] + clockBytes + [0, 0]
        ),
        (
            WireMessage(.renewal(WireRenewal(hostRealtime: 0, entropy: Array(repeating: 0xab, count: 512)))),
            [0x02, 0, 0, 0x80, 0, 0, 0, 0] + [0, 0, 0, 0, 0, 0, 0, 0] + [0x00, 0x02] + Array(repeating: 0xab, count: 512)
        ),
    ]

    @Test func aStreamEndingInsideARenewalIsTruncated() {
        let renewal = Self.table[1].1
        let cases: [([UInt8], WireDecodingError)] = [
            (Array(renewal[..<12]), .truncated(type: .renewal, received: 12, expected: nil)),
            (Array(renewal[..<20]), .truncated(type: .renewal, received: 20, expected: 50)),
            (Array(Self.table[0].1[..<10]), .truncated(type: .hello, received: 10, expected: 16)),
        ]
        WireCodecTests.expectTruncated(cases)
    }

    static let malformed: [([UInt8], WireDecodingError)] = [
        (
            [0x02, 0, 0, 0x80, 0x04, 0, 0, 0] + clockBytes + [5, 0, 1, 2, 3, 4, 5],
            .malformed(.renewal, correlationID: 4, .entropyLength(5))
        ),
        (
            [0x02, 0, 0, 0x80, 0x04, 0, 0, 0] + clockBytes + [0x58, 0x02] + Array(repeating: 1, count: 600),
            .malformed(.renewal, correlationID: 4, .entropyLength(600))
        ),
        (
            [0x02, 0, 0, 0x80, 0x04, 0, 0, 0] + [0, 0, 0, 0, 0, 0, 0, 0x80] + [0, 0],
            .malformed(.renewal, correlationID: 4, .clockOutOfRange(1 << 63))
        ),
        (
            [0x01, 0, 0, 0x80, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            .malformed(.hello, correlationID: 2, .helloVersionZero)
        ),
    ]

    @Test(arguments: malformed)
    func aMalformedExtensionMessageIsSkipped(_ bytes: [UInt8], _ error: WireDecodingError) throws {
        let next = WireMessage(correlationID: 4, .parentID(UUID()))
        var decoder = WireDecoder()
        decoder.append(bytes + next.encoded)
        #expect(throws: error) { try decoder.next() }
        #expect(decoder.isInStep)
        #expect(try decoder.next() == next)
    }

    @Test func malformedRenewalsSayWhatIsWrong() {
        #expect(
            Self.malformed[0].1.description
                == "malformed Renewal message (correlation id 4): 5 bytes of entropy (none, or 32 to 512); skipped")
    }

    @Test(arguments: [UInt32(0x8000_0000), 0x8000_0007, 0x0000_0007])
    func typesBesideTheExtensionAreStillUnknown(_ type: UInt32) {
        var decoder = WireDecoder()
        decoder.append(withUnsafeBytes(of: type.littleEndian, Array.init) + [0, 0, 0, 0])
        #expect(throws: WireDecodingError.unknownType(type, correlationID: 0)) { try decoder.next() }
        #expect(!decoder.isInStep)
    }

    @Test func theClockIsEstimatedFromItsArrival() {
        let arrived = ContinuousClock.now - .milliseconds(50)
        let renewal = WireRenewal(hostRealtime: 1_000_000_000, entropy: Self.entropy)
            .renewal(receivedAt: arrived, transit: .milliseconds(2))
        #expect(renewal.entropy == Self.entropy)
        let now = arrived + .milliseconds(50)
        #expect(renewal.hostClock?.hostTime(at: now) == 1_052_000_000)
        #expect(WireRenewal(hostRealtime: 0, entropy: Self.entropy).renewal(receivedAt: now).hostClock == nil)
    }
}
