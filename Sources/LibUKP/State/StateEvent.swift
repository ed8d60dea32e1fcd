import SystemPackage
import VFSKit

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One change to what an instance must not forget, as a line of the state journal.
///
/// Every event names the instance it belongs to (a simulator keeps all its instances in
/// one journal). Lines are ASCII, fields separated by single spaces; UUIDs lowercase.
enum StateEvent: Sendable, Hashable {
    /// The instance's identity at its start: its generation, and whether a fork created it.
    case instance(generation: UUID, createdByFork: Bool)
    /// A fork finished for `thread` (nil: a thread not remembered) with `result`.
    case result(thread: Int32?, UUID)
    case childAdded(ForkedChild)
    case childStatus(UUID, InstanceState)
    /// The child stopped (with its exit code, if the platform gave one) at `stoppedAt` (Unix ms).
    case childStopped(UUID, exitCode: Int32?, stoppedAt: Int64)
    case childRemoved(UUID)
    /// The instance became the child of a fork: its children and results went; a new generation.
    case becameChild(generation: UUID)
    /// A fork for the kernel request `key` was sent to the platform by `thread`.
    case forkSent(key: UInt64, thread: Int32?)
    /// The fork for request `key` was answered: the child's UUID (zero in the child) or an errno.
    case forkAnswered(key: UInt64, Result<UUID, ForkFailure>)
    /// The fork for request `key` never reached the platform (its request, resent, forks anew).
    case forkAbandoned(key: UInt64)
    /// The wire platform sent the fork in flight (the last `forkSent`) with this correlation id.
    case forkCorrelation(UInt32)

    /// The line for `instance` (nil: the engine's own journal, written `-`).
    func line(instance: UUID?) -> String {
        let prefix = (instance?.lowercaseText ?? "-") + " "
        switch self {
        case .instance(let generation, let createdByFork):
            return prefix + "G \(generation.lowercaseText) \(createdByFork ? 1 : 0)"
        case .result(let thread, let result):
            return prefix + "R \(thread.map(String.init) ?? "-") \(result.lowercaseText)"
        case .childAdded(let child):
            return prefix + "C \(child.id.lowercaseText) \(child.snapshot.lowercaseText) \(child.creationTime)"
        case .childStatus(let child, let state):
            return prefix + "S \(child.lowercaseText) \(state.code)"
        case .childStopped(let child, let code, let stoppedAt):
            return prefix + "X \(child.lowercaseText) \(code.map(String.init) ?? "-") \(stoppedAt)"
        case .childRemoved(let child):
            return prefix + "D \(child.lowercaseText)"
        case .becameChild(let generation):
            return prefix + "B \(generation.lowercaseText)"
        case .forkSent(let key, let thread):
            return prefix + "F \(key) \(thread.map(String.init) ?? "-")"
        case .forkAnswered(let key, .success(let uuid)):
            return prefix + "A \(key) \(uuid.lowercaseText)"
        case .forkAnswered(let key, .failure(.signalFailed)):
            return prefix + "A \(key) signal"
        case .forkAnswered(let key, .failure(.rejected(let errno))):
            return prefix + "A \(key) -\(errno.rawValue)"
        case .forkAbandoned(let key):
            return prefix + "N \(key)"
        case .forkCorrelation(let id):
            return prefix + "W \(id)"
        }
    }

    /// Parses a line; nil when it is not an event line (the caller says which line).
    static func parse(_ line: Substring) -> (instance: UUID?, event: StateEvent)? {
        let fields = line.split(separator: " ", omittingEmptySubsequences: false)
        guard fields.count >= 2 else { return nil }
        let instance: UUID?
        if fields[0] == "-" {
            instance = nil
        } else {
            guard let id = UUID(uuidString: String(fields[0])) else { return nil }
            instance = id
        }
        let arguments = Array(fields.dropFirst(2))
        func uuid(_ index: Int) -> UUID? { index < arguments.count ? UUID(uuidString: String(arguments[index])) : nil }
        func integer<T: FixedWidthInteger>(_ index: Int) -> T? { index < arguments.count ? T(arguments[index]) : nil }
        func thread(_ index: Int) -> Int32?? {
            guard index < arguments.count else { return nil }
            return arguments[index] == "-" ? .some(nil) : Int32(arguments[index]).map { .some($0) }
        }
        let event: StateEvent?
        switch fields[1] {
        case "G":
            event = uuid(0).flatMap { generation in
                (integer(1) as Int?).map { .instance(generation: generation, createdByFork: $0 != 0) }
            }
        case "R":
            if let thread = thread(0), let result = uuid(1) { event = .result(thread: thread, result) } else { event = nil }
        case "C":
            if let id = uuid(0), let snapshot = uuid(1), let time: Int64 = integer(2) {
                event = .childAdded(ForkedChild(id: id, snapshot: snapshot, creationTime: time))
            } else {
                event = nil
            }
        case "S":
            event = uuid(0).flatMap { id in (integer(1) as Int?).flatMap(InstanceState.init(code:)).map { .childStatus(id, $0) } }
        case "X":
            if let id = uuid(0), arguments.count == 3, let stoppedAt: Int64 = integer(2) {
                let code: Int32? = arguments[1] == "-" ? nil : Int32(arguments[1])
                event = arguments[1] != "-" && code == nil ? nil : .childStopped(id, exitCode: code, stoppedAt: stoppedAt)
            } else {
                event = nil
            }
        case "D":
            event = uuid(0).map { .childRemoved($0) }
        case "N":
            event = (integer(0) as UInt64?).map { .forkAbandoned(key: $0) }
        case "W":
            event = arguments.count == 1 ? (integer(0) as UInt32?).map { .forkCorrelation($0) } : nil
        case "B":
            event = uuid(0).map { .becameChild(generation: $0) }
        case "F":
            if let key: UInt64 = integer(0), let thread = thread(1) { event = .forkSent(key: key, thread: thread) } else { event = nil }
        case "A":
            guard let key: UInt64 = integer(0), arguments.count == 2 else { return nil }
            if arguments[1] == "signal" {
                event = .forkAnswered(key: key, .failure(.signalFailed))
            } else if let uuid = uuid(1) {
                event = .forkAnswered(key: key, .success(uuid))
            } else if let errno = Int32(arguments[1]), errno < 0 {
                event = .forkAnswered(key: key, .failure(.rejected(Errno(rawValue: -errno))))
            } else {
                event = nil
            }
        default:
            event = nil
        }
        return event.map { (instance, $0) }
    }
}
