import Foundation
import SystemPackage

@testable import LibUKP

/// One step of a fuzz run: what an app, the platform or the clock does next.
///
/// Operations name children by ordinal (the n-th child the platform created in the run,
/// whose UUID is fixed by `FuzzIDs`) and pending requests or open handles by a pick that
/// is taken modulo how many there are, so any subsequence of a run is still a valid run
/// (what the shrinker needs).
enum FuzzOperation: Hashable, Sendable, CustomStringConvertible {
    /// An app thread writes `bytes` bytes to `/fork`.
    case fork(thread: Int32, bytes: Int)
    /// The platform answers the running fork.
    case answer(ForkAnswer)
    /// A signal interrupts one of the pending `/fork` writes.
    case interruptFork(pick: Int)
    /// An app thread opens `/vm/<child>/wait` and writes to it.
    case wait(child: Int, thread: Int32)
    /// A signal interrupts one of the pending `wait` writes.
    case interruptWait(pick: Int)
    /// The platform reports a state change of a child (`Stopped` without an exit code included).
    case status(child: Int, InstanceState)
    /// The platform reports a child's exit.
    case exit(child: Int, code: Int32)
    /// An app opens one of a child's files and keeps the handle.
    case open(child: Int, ChildFile, nonBlocking: Bool)
    /// An app reads a kept handle at `offset` (0 renders afresh; later offsets continue).
    case read(pick: Int, offset: Int)
    case poll(pick: Int)
    /// An app writes to a kept handle (a wait when it is a `wait` handle).
    case write(pick: Int)
    case close(pick: Int)
    /// The clock moves on (retention).
    case advance(milliseconds: Int)
    /// The platform tells the instance it has become the child of a fork.
    case becameChild
    /// An app looks up a name under `/vm/` that is not a canonical live child name.
    case lookup(FuzzName)

    /// A hash that is the same in every process (FNV-1a of the description), unlike `hashValue`.
    var stableHash: Int {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in description.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return Int(hash >> 1)
    }

    var description: String {
        switch self {
        case .fork(let thread, let bytes): "fork(thread: \(thread), bytes: \(bytes))"
        case .answer(let answer): "answer(.\(answer))"
        case .interruptFork(let pick): "interruptFork(pick: \(pick))"
        case .wait(let child, let thread): "wait(child: \(child), thread: \(thread))"
        case .interruptWait(let pick): "interruptWait(pick: \(pick))"
        case .status(let child, let state): "status(child: \(child), .\(state))"
        case .exit(let child, let code): "exit(child: \(child), code: \(code))"
        case .open(let child, let file, let nonBlocking): "open(child: \(child), .\(file), nonBlocking: \(nonBlocking))"
        case .read(let pick, let offset): "read(pick: \(pick), offset: \(offset))"
        case .poll(let pick): "poll(pick: \(pick))"
        case .write(let pick): "write(pick: \(pick))"
        case .close(let pick): "close(pick: \(pick))"
        case .advance(let milliseconds): "advance(milliseconds: \(milliseconds))"
        case .becameChild: "becameChild"
        case .lookup(let name): "lookup(.\(name))"
        }
    }
}

/// How the platform answers a fork signal.
enum ForkAnswer: Hashable, Sendable, CustomStringConvertible {
    /// The parent's side: the next child (by ordinal) was created.
    case parent
    /// The signal failed (`EIO`).
    case signalFailed
    /// The platform refused with its own errno.
    case rejected(Errno)
    /// This instance is the child of the fork.
    case child

    var description: String {
        switch self {
        case .parent: "parent"
        case .signalFailed: "signalFailed"
        case .rejected(let errno): "rejected(\(errno))"
        case .child: "child"
        }
    }
}

/// The files of `/vm/<uuid>/`.
enum ChildFile: String, CaseIterable, Hashable, Sendable {
    case snapshot
    case creationTime = "creation_time"
    case status, wait
}

/// Names under `/vm/` that are not a live child's canonical name.
enum FuzzName: CaseIterable, Hashable, Sendable {
    case malformed, zero, uppercaseOfNewest, unknownUUID, tooLong

    /// The name, given the newest child's UUID (if any).
    func name(newest: UUID?) -> String {
        switch self {
        case .malformed: "not-a-uuid"
        case .zero: UUID.zero.name
        case .uppercaseOfNewest: (newest ?? FuzzIDs.child(999_999)).uuidString.uppercased()
        case .unknownUUID: FuzzIDs.child(1_000_000).name
        case .tooLong: String(repeating: "f", count: 300)
        }
    }
}

/// The UUIDs, snapshots and creation times the fuzz platform hands out, by child ordinal.
enum FuzzIDs {
    static func child(_ ordinal: Int) -> UUID { uuid(tag: 0xC1, ordinal) }
    static func snapshot(_ ordinal: Int) -> UUID { uuid(tag: 0x5A, ordinal) }
    static func creationTime(_ ordinal: Int) -> Int64 { 1_700_000_000 + Int64(ordinal) }

    private static func uuid(tag: UInt8, _ ordinal: Int) -> UUID {
        let n = UInt64(ordinal)
        func byte(_ shift: UInt64) -> UInt8 { UInt8(truncatingIfNeeded: n >> shift) }
        return UUID(
            uuid: (
                tag, 0xF0, 0x22, 0x11, 0x00, 0x00, 0x40, 0x00, 0x80, 0x00,
                byte(40), byte(32), byte(24), byte(16), byte(8), byte(0)
            ))
    }
}
