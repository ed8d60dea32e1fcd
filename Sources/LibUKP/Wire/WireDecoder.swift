import SystemPackage

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Cuts a byte stream into wire messages, whatever the chunks it arrives in.
///
/// Feed bytes with `append`, then call `next()` until it returns nil (a message is incomplete).
/// A malformed message is skipped and reported once; an unknown type leaves the stream out of
/// step (message lengths depend on the type), reported by every `next()` until
/// `resynchronize()`. At end of stream, `finish()` reports a message cut short.
public struct WireDecoder: Sendable {
    private var buffer: [UInt8] = []
    private var start = 0
    private var failure: WireDecodingError?
    /// The header bytes `skip(until:correlationID:)` waits for.
    private var awaited: [UInt8]?

    public init() {}

    /// Bytes received and not yet decoded.
    public var bufferedByteCount: Int { buffer.count - start }

    /// False after an unknown message type, until `resynchronize()`.
    public var isInStep: Bool { failure == nil }

    /// Adds bytes read from the stream.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        buffer.append(contentsOf: bytes)
        seekAwaited()
    }

    /// The next complete message, or nil until more bytes arrive.
    public mutating func next() throws(WireDecodingError) -> WireMessage? {
        if let failure { throw failure }
        guard awaited == nil, bufferedByteCount >= WireMessageType.headerSize else { return nil }
        let rawType = u32(at: start)
        let correlationID = u32(at: start + 4)
        guard let type = WireMessageType(rawValue: rawType) else {
            let failure = WireDecodingError.unknownType(rawType, correlationID: correlationID)
            self.failure = failure
            throw failure
        }
        guard let size = size(of: type), bufferedByteCount >= size else { return nil }
        let body = start + WireMessageType.headerSize
        defer { consume(size) }
        func malformed(_ what: WireMalformation) -> WireDecodingError {
            .malformed(type, correlationID: correlationID, what)
        }
        let payload: WireMessage.Payload
        switch type {
        case .error:
            let value = Int32(bitPattern: u32(at: body))
            guard value < 0, value != .min else { throw malformed(.errnoNotNegative(value)) }
            payload = .error(Errno(rawValue: -value))
        case .forkCreated:
            guard let fqdn = String(validating: buffer[(body + 42)..<(start + size)], as: UTF8.self) else {
                throw malformed(.fqdnNotUTF8)
            }
            payload = .forkCreated(
                WireForkCreated(
                    child: uuid(at: body), snapshot: uuid(at: body + 16),
                    creationTime: u64(at: body + 32), fqdn: fqdn))
        case .parentID:
            payload = .parentID(uuid(at: body))
        case .status:
            let code = u32(at: body + 16)
            guard let state = InstanceState(code: Int(code)) else { throw malformed(.unknownState(code)) }
            payload = .status(child: uuid(at: body), state: state)
        case .exitStatus:
            payload = .exitStatus(child: uuid(at: body), code: u32(at: body + 16))
        case .forkRequest:
            payload = .forkRequest
        case .hello:
            let version = u32(at: body)
            guard version >= 1 else { throw malformed(.helloVersionZero) }
            payload = .hello(version: version)
        case .renewal:
            let realtime = u64(at: body)
            let entropy = Array(buffer[(body + 10)..<(start + size)])
            guard realtime <= UInt64(Int64.max) else { throw malformed(.clockOutOfRange(realtime)) }
            guard
                entropy.isEmpty
                    || (PlatformRenewal.minimumEntropy...WireRenewal.maximumEntropy).contains(entropy.count)
            else {
                throw malformed(.entropyLength(entropy.count))
            }
            payload = .renewal(WireRenewal(hostRealtime: realtime, entropy: entropy))
        case .resync:
            payload = .resync(fork: u32(at: body))
        case .resyncStart:
            payload = .resyncStart
        case .child:
            let code = u32(at: body + 40)
            guard let state = InstanceState(code: Int(code)) else { throw malformed(.unknownState(code)) }
            payload = .child(
                WireChild(
                    child: uuid(at: body), snapshot: uuid(at: body + 16), creationTime: u64(at: body + 32),
                    state: state, exitCode: u32(at: body + 44)))
        case .resyncEnd:
            let fork = u32(at: body)
            let code = u32(at: body + 4)
            guard let outcome = WireForkOutcome(rawValue: code) else { throw malformed(.unknownForkOutcome(code)) }
            guard (fork == 0) == (outcome == .none) else { throw malformed(.forkOutcome(outcome, fork: fork)) }
            payload = .resyncEnd(WireResyncEnd(fork: fork, outcome: outcome, children: u32(at: body + 8)))
        }
        return WireMessage(correlationID: correlationID, payload)
    }

    /// Call at end of stream: throws if the stream ended inside a message or out of step.
    public mutating func finish() throws(WireDecodingError) {
        if let failure { throw failure }
        let received = bufferedByteCount
        guard received > 0, awaited == nil else { return resynchronize() }
        let type = received >= 4 ? WireMessageType(rawValue: u32(at: start)) : nil
        let expected = received >= WireMessageType.headerSize ? type.flatMap(size(of:)) : nil
        resynchronize()
        throw .truncated(type: type, received: received, expected: expected)
    }

    /// Drops every buffered byte and decodes again from the next byte appended: after
    /// reconnecting, or where each chunk of the transport starts with a message.
    public mutating func resynchronize() {
        buffer.removeAll(keepingCapacity: true)
        start = 0
        failure = nil
        awaited = nil
    }

    /// Drops every byte, buffered or appended later, until the header of `type` with
    /// `correlationID` appears, and decodes from there (the wire extension's resync: what a
    /// stream held before the platform's `ResyncStart` may be stale, or cut mid-message).
    public mutating func skip(until type: WireMessageType, correlationID: UInt32) {
        awaited = []
        awaited!.appendLittleEndian(type.rawValue)
        awaited!.appendLittleEndian(correlationID)
        skippedByteCount = 0
        failure = nil
        seekAwaited()
    }

    /// True while bytes are dropped until the header given to `skip(until:correlationID:)`.
    public var isSkipping: Bool { awaited != nil }

    /// How many bytes `skip(until:correlationID:)` has dropped so far.
    public private(set) var skippedByteCount = 0

    /// Drops buffered bytes up to the awaited header (keeping a tail that may start it).
    private mutating func seekAwaited() {
        guard let awaited else { return }
        let bytes = buffer[start...]
        if let found = bytes.firstRange(of: awaited) {
            skippedByteCount += found.lowerBound - start
            start = found.lowerBound
            self.awaited = nil
            return
        }
        let keep = min(bytes.count, awaited.count - 1)
        skippedByteCount += bytes.count - keep
        buffer.removeFirst(buffer.count - keep)
        start = 0
    }

    // MARK: Bytes

    /// The whole size of the message of `type` at `start`; nil while the length of trailing
    /// bytes (a `ForkCreated` FQDN, `Renewal` entropy) is incomplete.
    private func size(of type: WireMessageType) -> Int? {
        guard type.hasTrailingBytes else { return type.baseSize }
        guard bufferedByteCount >= type.baseSize else { return nil }
        return type.baseSize + Int(u16(at: start + type.baseSize - 2))
    }

    private mutating func consume(_ count: Int) {
        start += count
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start >= 4096, start * 2 >= buffer.count {
            buffer.removeFirst(start)
            start = 0
        }
    }

    private func u16(at index: Int) -> UInt16 {
        UInt16(buffer[index]) | UInt16(buffer[index + 1]) << 8
    }

    private func u32(at index: Int) -> UInt32 {
        (0..<4).reduce(0) { $0 | UInt32(buffer[index + $1]) << (8 * $1) }
    }

    private func u64(at index: Int) -> UInt64 {
        (0..<8).reduce(0) { $0 | UInt64(buffer[index + $1]) << (8 * $1) }
    }

    private func uuid(at index: Int) -> UUID {
        let b = buffer[index..<(index + 16)].map { $0 }
        return UUID(
            uuid: (
                b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
                b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]
            ))
    }
}
