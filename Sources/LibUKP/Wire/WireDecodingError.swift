/// Why bytes read from the wire are not a message.
public enum WireDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A message of a known type and length with invalid content. Its bytes were skipped:
    /// decoding goes on with the next message.
    case malformed(WireMessageType, correlationID: UInt32, WireMalformation)
    /// A header with a type this decoder does not know: the message's length is unknown,
    /// so the stream is out of step. Thrown again until `WireDecoder.resynchronize()`.
    case unknownType(UInt32, correlationID: UInt32)
    /// The stream ended inside a message: `received` bytes of it arrived, of `expected`
    /// (nil while the header, or a `ForkCreated` FQDN length, is incomplete).
    case truncated(type: WireMessageType?, received: Int, expected: Int?)

    /// True when decoding can go on after this error without resynchronizing.
    public var isRecoverable: Bool {
        if case .malformed = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .malformed(let type, let correlationID, let malformation):
            "malformed \(type) message (correlation id \(correlationID)): \(malformation); skipped"
        case .unknownType(let type, let correlationID):
            "unknown message type 0x\(String(type, radix: 16)) (correlation id \(correlationID)): stream out of step"
        case .truncated(let type, let received, let expected):
            "stream ended inside \(type.map { "a \($0)" } ?? "a") message: \(received) of "
                + (expected.map { "\($0)" } ?? "at least \(received + 1)") + " bytes"
        }
    }
}

/// What is wrong with a malformed message.
public enum WireMalformation: Sendable, Hashable, CustomStringConvertible {
    /// `Error` must carry a negated errno: a negative `i32`.
    case errnoNotNegative(Int32)
    /// `Status` or `Child` with a state code other than 0…5.
    case unknownState(UInt32)
    /// `ForkCreated` with an FQDN that is not UTF-8.
    case fqdnNotUTF8
    /// `Hello` with version 0.
    case helloVersionZero
    /// `Renewal` with a clock past the range of `Int64` nanoseconds.
    case clockOutOfRange(UInt64)
    /// `Renewal` with entropy neither absent nor 32 to 512 bytes.
    case entropyLength(Int)
    /// `ResyncEnd` with an outcome code other than 0…2.
    case unknownForkOutcome(UInt32)
    /// `ResyncEnd` with an outcome for no fork, or no outcome for a fork.
    case forkOutcome(WireForkOutcome, fork: UInt32)

    public var description: String {
        switch self {
        case .errnoNotNegative(let value): "errno field \(value) is not a negated errno"
        case .unknownState(let code): "unknown state code \(code)"
        case .fqdnNotUTF8: "FQDN is not UTF-8"
        case .helloVersionZero: "version 0"
        case .clockOutOfRange(let realtime): "host clock \(realtime) ns is out of range"
        case .entropyLength(let count): "\(count) bytes of entropy (none, or 32 to 512)"
        case .unknownForkOutcome(let code): "unknown fork outcome \(code)"
        case .forkOutcome(let outcome, let fork): "fork outcome \(outcome.rawValue) for fork \(fork)"
        }
    }
}
