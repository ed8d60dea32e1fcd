public import SystemPackage

#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// One message of the platform's wire protocol (guest ↔ platform).
///
/// Every message starts with an 8-byte header `{u32 msg_type, u32 correlation_id}`,
/// little-endian; correlation id 0 marks an unsolicited message. UUIDs travel as their
/// 16 bytes in RFC 4122 (network) order. Layouts, header included:
///
/// | type | code | body | size |
/// |---|---|---|---|
/// | `Error` | 0x1 | `i32` negated errno | 12 |
/// | `ForkCreated` | 0x2 | child UUID, snapshot UUID, `u64` creation time, `u16` FQDN length, FQDN | 50 + FQDN |
/// | `ParentId` | 0x3 | parent UUID | 24 |
/// | `Status` | 0x4 | child UUID, `u32` state, zero padding | 32 |
/// | `ExitStatus` | 0x5 | child UUID, `u32` exit code, zero padding | 32 |
/// | `ForkRequest` | 0x6 | — (guest → platform) | 8 |
/// | `Hello` | 0x8000_0001 | `u32` version, `u32` flags (this project's extension, guest → platform) | 16 |
/// | `Renewal` | 0x8000_0002 | `u64` host `CLOCK_REALTIME` ns, `u16` entropy length, entropy (extension, platform → guest) | 18 + entropy |
/// | `Resync` | 0x8000_0003 | `u32` correlation id of the fork in flight, 0 for none (extension, guest → platform) | 12 |
/// | `ResyncStart` | 0x8000_0004 | — (extension, platform → guest: the `Resync`'s answers start here) | 8 |
/// | `Child` | 0x8000_0005 | child UUID, snapshot UUID, `u64` creation time, `u32` state, `u32` exit code (extension, platform → guest) | 56 |
/// | `ResyncEnd` | 0x8000_0006 | `u32` fork asked about, `u32` its outcome, `u32` children sent (extension, platform → guest) | 20 |
///
/// The extension's messages are sent only to a peer known to speak them: the platform
/// offers the extension out of band, the guest then says `Hello` and `Resync`, and only
/// after those does the platform send `Renewal` and the resync's answers (docs/wire-protocol.md).
///
/// **Decision** (the platform says "padded to 32 bytes" without saying what): `Status` and
/// `ExitStatus` are 32 bytes *including* the header, i.e. 4 bytes of padding, the size of
/// the C struct `{hdr; u8 uuid[16]; u32 value; u32 pad}`. Padding is written as zeros and
/// ignored when read.
public struct WireMessage: Sendable, Hashable {
    /// Matches a reply to its request; 0 for unsolicited messages.
    public var correlationID: UInt32
    public var payload: Payload

    public init(correlationID: UInt32 = 0, _ payload: Payload) {
        self.correlationID = correlationID
        self.payload = payload
    }

    /// What a message says.
    public enum Payload: Sendable, Hashable {
        /// The platform refused a request with this errno (sent negated on the wire).
        case error(Errno)
        /// A fork succeeded; sent to the parent.
        case forkCreated(WireForkCreated)
        /// This instance is the child of a fork; the parent's UUID. Sent to the child.
        case parentID(UUID)
        /// A child of this instance changed state.
        case status(child: UUID, state: InstanceState)
        /// A child of this instance exited with this code.
        case exitStatus(child: UUID, code: UInt32)
        /// Guest → platform: fork this instance.
        case forkRequest
        /// Guest → platform (extension): this guest speaks the wire extension, in this version.
        case hello(version: UInt32)
        /// Platform → guest (extension): host entropy and the host's clock.
        case renewal(WireRenewal)
        /// Guest → platform (extension), on each new connection: what did I miss? The outcome
        /// of the fork with this correlation id (0: none in flight), and my children now.
        case resync(fork: UInt32)
        /// Platform → guest (extension): the answers to the `Resync` with this correlation id
        /// start here; on a new connection the guest skips every byte before it.
        case resyncStart
        /// Platform → guest (extension), in a resync: one child of this instance as it is now.
        case child(WireChild)
        /// Platform → guest (extension): the resync is over; what became of the fork asked about.
        case resyncEnd(WireResyncEnd)
    }

    /// The message type code of the header.
    public var type: WireMessageType {
        switch payload {
        case .error: .error
        case .forkCreated: .forkCreated
        case .parentID: .parentID
        case .status: .status
        case .exitStatus: .exitStatus
        case .forkRequest: .forkRequest
        case .hello: .hello
        case .renewal: .renewal
        case .resync: .resync
        case .resyncStart: .resyncStart
        case .child: .child
        case .resyncEnd: .resyncEnd
        }
    }
}

/// The body of `ForkCreated`.
public struct WireForkCreated: Sendable, Hashable {
    public var child: UUID
    public var snapshot: UUID
    /// Unix seconds.
    public var creationTime: UInt64
    /// The child's fully qualified domain name (at most 65535 bytes of UTF-8).
    public var fqdn: String

    public init(child: UUID, snapshot: UUID, creationTime: UInt64, fqdn: String = "") {
        self.child = child
        self.snapshot = snapshot
        self.creationTime = creationTime
        self.fqdn = fqdn
    }
}

/// The `msg_type` codes of the wire protocol.
public enum WireMessageType: UInt32, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case error = 0x1
    case forkCreated = 0x2
    case parentID = 0x3
    case status = 0x4
    case exitStatus = 0x5
    case forkRequest = 0x6
    /// This project's extension (high bit set: outside the platform's own codes).
    case hello = 0x8000_0001
    case renewal = 0x8000_0002
    case resync = 0x8000_0003
    case resyncStart = 0x8000_0004
    case child = 0x8000_0005
    case resyncEnd = 0x8000_0006

    /// The size of the header every message starts with.
    public static let headerSize = 8

    /// The whole message size, header included; for `ForkCreated` and `Renewal` the size
    /// without their trailing bytes, whose `u16` length ends the base.
    public var baseSize: Int {
        switch self {
        case .error: 12
        case .forkCreated: 50
        case .parentID: 24
        case .status, .exitStatus: 32
        case .forkRequest: 8
        case .hello: 16
        case .renewal: 18
        case .resync: 12
        case .resyncStart: 8
        case .child: 56
        case .resyncEnd: 20
        }
    }

    /// True for types whose base ends with the `u16` length of trailing bytes.
    var hasTrailingBytes: Bool { self == .forkCreated || self == .renewal }

    /// The name the platform's documentation uses.
    public var description: String {
        switch self {
        case .error: "Error"
        case .forkCreated: "ForkCreated"
        case .parentID: "ParentId"
        case .status: "Status"
        case .exitStatus: "ExitStatus"
        case .forkRequest: "ForkRequest"
        case .hello: "Hello"
        case .renewal: "Renewal"
        case .resync: "Resync"
        case .resyncStart: "ResyncStart"
        case .child: "Child"
        case .resyncEnd: "ResyncEnd"
        }
    }
}
