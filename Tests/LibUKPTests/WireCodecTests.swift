import Foundation
import LibUKP
import SystemPackage
import Testing

/// The wire protocol's encoding and decoding, byte for byte.
@Suite struct WireCodecTests {
    static let child = UUID(uuidString: "00112233-4455-6677-8899-aabbccddeeff")!
    static let snapshot = UUID(uuidString: "f0e1d2c3-b4a5-9687-7869-5a4b3c2d1e0f")!
    static let childBytes: [UInt8] = [
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
        0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
    ]
    static let snapshotBytes: [UInt8] = [
        0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96, 0x87,
        0x78, 0x69, 0x5a, 0x4b, 0x3c, 0x2d, 0x1e, 0x0f,
    ]

    /// Each message and its exact bytes (this project's extension included).
    static let table: [(WireMessage, [UInt8])] =
        [
            (
                WireMessage(correlationID: 7, .error(.noMemory)),
                [0x01, 0, 0, 0, 0x07, 0, 0, 0, 0xf4, 0xff, 0xff, 0xff]
            ),  // -12
            (
                WireMessage(
                    correlationID: 0x0102_0304,
                    .forkCreated(
                        WireForkCreated(
                            child: child, snapshot: snapshot, creationTime: 0x0000_0000_6553_f100, fqdn: "c1.ukp"))),
                [0x02, 0, 0, 0, 0x04, 0x03, 0x02, 0x01] + childBytes + snapshotBytes
                    + [0x00, 0xf1, 0x53, 0x65, 0, 0, 0, 0] + [0x06, 0x00] + Array("c1.ukp".utf8)
            ),
            (
                WireMessage(
                    correlationID: 1,
                    .forkCreated(
                        WireForkCreated(
                            child: child, snapshot: snapshot, creationTime: 1))),
                [0x02, 0, 0, 0, 0x01, 0, 0, 0] + childBytes + snapshotBytes + [1, 0, 0, 0, 0, 0, 0, 0, 0, 0]
            ),
            (
                WireMessage(correlationID: 9, .parentID(snapshot)),
                [0x03, 0, 0, 0, 0x09, 0, 0, 0] + snapshotBytes
            ),
            (
                WireMessage(.status(child: child, state: .stopped)),
                [0x04, 0, 0, 0, 0, 0, 0, 0] + childBytes + [0, 0, 0, 0, 0, 0, 0, 0]
            ),
            (
                WireMessage(.status(child: child, state: .template)),
                [0x04, 0, 0, 0, 0, 0, 0, 0] + childBytes + [5, 0, 0, 0, 0, 0, 0, 0]
            ),
            (
                WireMessage(.status(child: child, state: .draining)),
                [0x04, 0, 0, 0, 0, 0, 0, 0] + childBytes + [3, 0, 0, 0, 0, 0, 0, 0]
            ),
            (
                WireMessage(.exitStatus(child: child, code: 0x8000_0102)),
                [0x05, 0, 0, 0, 0, 0, 0, 0] + childBytes + [0x02, 0x01, 0x00, 0x80, 0, 0, 0, 0]
            ),
            (
                WireMessage(correlationID: 0xffff_fffe, .forkRequest),
                [0x06, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff]
            ),
        ] + WireExtensionCodecTests.table + WireResyncCodecTests.table

    static var messages: [WireMessage] { table.map(\.0) }

    @Test(arguments: table)
    func encodesByteForByte(_ message: WireMessage, _ bytes: [UInt8]) {
        #expect(message.encoded == bytes)
    }

    @Test(arguments: table)
    func decodesByteForByte(_ message: WireMessage, _ bytes: [UInt8]) throws {
        var decoder = WireDecoder()
        decoder.append(bytes)
        #expect(try decoder.next() == message)
        #expect(try decoder.next() == nil)
        #expect(decoder.bufferedByteCount == 0)
        try decoder.finish()
    }

    @Test func everyStateHasItsCode() throws {
        for state in InstanceState.allCases {
            let bytes = WireMessage(.status(child: Self.child, state: state)).encoded
            #expect(bytes[24] == UInt8(state.code))
            var decoder = WireDecoder()
            decoder.append(bytes)
            #expect(try decoder.next()?.payload == .status(child: Self.child, state: state))
        }
    }

    @Test func severalMessagesInOneChunk() throws {
        var decoder = WireDecoder()
        decoder.append(Self.table.flatMap(\.1))
        var decoded: [WireMessage] = []
        while let message = try decoder.next() { decoded.append(message) }
        #expect(decoded == Self.messages)
    }

    @Test func oneByteAtATime() throws {
        var decoder = WireDecoder()
        var decoded: [WireMessage] = []
        for byte in Self.table.flatMap(\.1) {
            decoder.append([byte])
            while let message = try decoder.next() { decoded.append(message) }
        }
        #expect(decoded == Self.messages)
        try decoder.finish()
    }

    @Test func manyMessagesInChunksOfEverySize() throws {
        let stream = (0..<2_000).flatMap { Self.table[$0 % Self.table.count].1 }
        for chunk in [3, 7, 50, 4_096, 100_000] {
            var decoder = WireDecoder()
            var count = 0
            var offset = 0
            while offset < stream.count {
                decoder.append(stream[offset..<min(offset + chunk, stream.count)])
                offset += chunk
                while let message = try decoder.next() {
                    #expect(message == Self.messages[count % Self.messages.count])
                    count += 1
                }
            }
            #expect(count == 2_000)
            #expect(decoder.bufferedByteCount == 0)
        }
    }

    @Test func aLongFQDN() throws {
        let fqdn = String(repeating: "a", count: 65_535)
        let message = WireMessage(
            correlationID: 3,
            .forkCreated(
                WireForkCreated(
                    child: Self.child, snapshot: Self.snapshot, creationTime: 5, fqdn: fqdn)))
        let bytes = message.encoded
        #expect(bytes.count == 50 + 65_535)
        #expect(bytes[48...49] == [0xff, 0xff])
        var decoder = WireDecoder()
        decoder.append(bytes)
        #expect(try decoder.next() == message)
    }

    @Test func paddingIsIgnored() throws {
        var bytes = WireMessage(.exitStatus(child: Self.child, code: 3)).encoded
        bytes[28...31] = [0xde, 0xad, 0xbe, 0xef]
        var decoder = WireDecoder()
        decoder.append(bytes)
        #expect(try decoder.next() == WireMessage(.exitStatus(child: Self.child, code: 3)))
    }

    // MARK: Truncated

    @Test(arguments: table)
    func everyPrefixWaitsForMore(_ message: WireMessage, _ bytes: [UInt8]) throws {
        for length in 0..<bytes.count {
            var decoder = WireDecoder()
            decoder.append(bytes[..<length])
            #expect(try decoder.next() == nil)
            #expect(decoder.bufferedByteCount == length)
            decoder.append(bytes[length...])
            #expect(try decoder.next() == message)
        }
    }

    /// Each stream, ended, is a message cut short: `finish()` throws its error and drops it.
    static func expectTruncated(_ cases: [([UInt8], WireDecodingError)]) {
        for (bytes, error) in cases {
            var decoder = WireDecoder()
            decoder.append(bytes)
            #expect((try? decoder.next()) == .some(nil))
            #expect(throws: error) { try decoder.finish() }
            #expect(decoder.bufferedByteCount == 0)
        }
    }

    @Test func aStreamEndingInsideAMessageIsTruncated() {
        let status = WireMessage(.status(child: Self.child, state: .running)).encoded
        let created = Self.table[1].1
        let cases: [([UInt8], WireDecodingError)] = [
            ([0x04, 0], .truncated(type: nil, received: 2, expected: nil)),
            ([0x04, 0, 0, 0, 1], .truncated(type: .status, received: 5, expected: nil)),
            (Array(status[..<20]), .truncated(type: .status, received: 20, expected: 32)),
            (Array(created[..<40]), .truncated(type: .forkCreated, received: 40, expected: nil)),
            (Array(created[..<52]), .truncated(type: .forkCreated, received: 52, expected: 56)),
            ([0x09, 0, 0, 0, 1, 0], .truncated(type: nil, received: 6, expected: nil)),
        ]
        Self.expectTruncated(cases)
    }

    @Test func truncatedErrorsSayWhatArrived() {
        #expect(
            WireDecodingError.truncated(type: .status, received: 20, expected: 32).description
                == "stream ended inside a Status message: 20 of 32 bytes")
        #expect(
            WireDecodingError.truncated(type: nil, received: 2, expected: nil).description
                == "stream ended inside a message: 2 of at least 3 bytes")
    }

    // MARK: Malformed

    static let malformed: [([UInt8], WireDecodingError)] = [
        (
            [0x01, 0, 0, 0, 0x05, 0, 0, 0, 0x0c, 0, 0, 0],
            .malformed(.error, correlationID: 5, .errnoNotNegative(12))
        ),
        (
            [0x01, 0, 0, 0, 0x05, 0, 0, 0, 0, 0, 0, 0],
            .malformed(.error, correlationID: 5, .errnoNotNegative(0))
        ),
        (
            [0x01, 0, 0, 0, 0x05, 0, 0, 0, 0, 0, 0, 0x80],
            .malformed(.error, correlationID: 5, .errnoNotNegative(.min))
        ),
        (
            [0x04, 0, 0, 0, 0, 0, 0, 0] + childBytes + [6, 0, 0, 0, 0, 0, 0, 0],
            .malformed(.status, correlationID: 0, .unknownState(6))
        ),
        (
            [0x02, 0, 0, 0, 0x02, 0, 0, 0] + childBytes + snapshotBytes + [1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0xc3, 0x28],
            .malformed(.forkCreated, correlationID: 2, .fqdnNotUTF8)
        ),
    ]

    @Test(arguments: malformed)
    func aMalformedMessageIsSkippedAndTheStreamGoesOn(_ bytes: [UInt8], _ error: WireDecodingError) throws {
        let next = WireMessage(correlationID: 4, .forkRequest)
        var decoder = WireDecoder()
        decoder.append(bytes + next.encoded)
        #expect(throws: error) { try decoder.next() }
        #expect(error.isRecoverable)
        #expect(decoder.isInStep)
        #expect(try decoder.next() == next)
        #expect(try decoder.next() == nil)
    }

    @Test func malformedErrorsSayWhatIsWrong() {
        #expect(
            Self.malformed[3].1.description
                == "malformed Status message (correlation id 0): unknown state code 6; skipped")
    }

    // MARK: Unknown types

    @Test(arguments: [UInt32(0), 7, 0x100, .max])
    func anUnknownTypeLeavesTheStreamOutOfStepUntilResynchronized(_ type: UInt32) throws {
        var decoder = WireDecoder()
        var header: [UInt8] = []
        header.append(contentsOf: withUnsafeBytes(of: type.littleEndian, Array.init))
        header.append(contentsOf: [0x2a, 0, 0, 0])
        decoder.append(header + WireMessage(.forkRequest).encoded)
        let error = WireDecodingError.unknownType(type, correlationID: 42)
        #expect(throws: error) { try decoder.next() }
        #expect(!error.isRecoverable)
        #expect(!decoder.isInStep)
        #expect(throws: error) { try decoder.next() }
        #expect(throws: error) { try decoder.finish() }

        decoder.resynchronize()
        #expect(decoder.isInStep)
        #expect(decoder.bufferedByteCount == 0)
        decoder.append(WireMessage(correlationID: 1, .forkRequest).encoded)
        #expect(try decoder.next() == WireMessage(correlationID: 1, .forkRequest))
    }

    @Test func unknownTypeErrorsNameTheType() {
        #expect(
            WireDecodingError.unknownType(0x10, correlationID: 3).description
                == "unknown message type 0x10 (correlation id 3): stream out of step")
    }
}
