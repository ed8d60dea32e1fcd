#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension WireMessage {
    /// The message's bytes on the wire.
    ///
    /// A `ForkCreated` FQDN longer than 65535 bytes of UTF-8 is a programming error.
    public var encoded: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(type.baseSize)
        bytes.appendLittleEndian(type.rawValue)
        bytes.appendLittleEndian(correlationID)
        switch payload {
        case .error(let errno):
            bytes.appendLittleEndian(UInt32(bitPattern: -errno.rawValue))
        case .forkCreated(let created):
            let fqdn = Array(created.fqdn.utf8)
            precondition(fqdn.count <= Int(UInt16.max), "ForkCreated FQDN longer than 65535 bytes")
            bytes.append(created.child)
            bytes.append(created.snapshot)
            bytes.appendLittleEndian(created.creationTime)
            bytes.appendLittleEndian(UInt16(fqdn.count))
            bytes.append(contentsOf: fqdn)
        case .parentID(let parent):
            bytes.append(parent)
        case .status(let child, let state):
            bytes.append(child)
            bytes.appendLittleEndian(UInt32(state.code))
        case .exitStatus(let child, let code):
            bytes.append(child)
            bytes.appendLittleEndian(code)
        case .forkRequest:
            break
        case .hello(let version):
            bytes.appendLittleEndian(version)
            bytes.appendLittleEndian(UInt32(0))
        case .renewal(let renewal):
            precondition(renewal.entropy.count <= Int(UInt16.max), "Renewal entropy longer than 65535 bytes")
            bytes.appendLittleEndian(renewal.hostRealtime)
            bytes.appendLittleEndian(UInt16(renewal.entropy.count))
            bytes.append(contentsOf: renewal.entropy)
        case .resync(let fork):
            bytes.appendLittleEndian(fork)
        case .resyncStart:
            break
        case .child(let child):
            bytes.append(child.child)
            bytes.append(child.snapshot)
            bytes.appendLittleEndian(child.creationTime)
            bytes.appendLittleEndian(UInt32(child.state.code))
            bytes.appendLittleEndian(child.exitCode)
        case .resyncEnd(let end):
            bytes.appendLittleEndian(end.fork)
            bytes.appendLittleEndian(end.outcome.rawValue)
            bytes.appendLittleEndian(end.children)
        }
        bytes.append(contentsOf: repeatElement(0, count: max(0, type.baseSize - bytes.count)))
        return bytes
    }
}

extension [UInt8] {
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    /// The UUID's 16 bytes in RFC 4122 (network) order.
    mutating func append(_ uuid: UUID) {
        Swift.withUnsafeBytes(of: uuid.uuid) { append(contentsOf: $0) }
    }
}
