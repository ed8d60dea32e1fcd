import OrderedCollections
import VFSKit

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One change to the simulator's own state (its instances and settings), as a line of the
/// state journal: `~` then the event.
enum SimEvent: Sendable, Hashable {
    /// The root instance's UUID (the one the daemon serves).
    case root(UUID)
    /// An instance as it is now: created, moved or stopped.
    case instance(id: UUID, parent: UUID?, status: InstanceState, exitCode: Int32?)
    case instanceRemoved(UUID)
    /// The control tree's settings.
    case settings(forkLatencyMs: Int, bootLatencyMs: Int, failNextForks: Int)
    /// The `exit` write with this kernel request id was applied (written with the exit it
    /// made, so that the same request resent to a restarted server is answered, not redone).
    case exitApplied(request: UInt64)

    var line: String {
        switch self {
        case .root(let id):
            "~ O \(id.lowercaseText)"
        case .instance(let id, let parent, let status, let code):
            "~ I \(id.lowercaseText) \(parent?.lowercaseText ?? "-") \(status.code) \(code.map(String.init) ?? "-")"
        case .instanceRemoved(let id):
            "~ Y \(id.lowercaseText)"
        case .settings(let fork, let boot, let fail):
            "~ L \(fork) \(boot) \(fail)"
        case .exitApplied(let request):
            "~ X \(request)"
        }
    }

    static func parse(_ line: Substring) -> SimEvent? {
        let fields = line.split(separator: " ").map(String.init)
        guard fields.count >= 3, fields[0] == "~" else { return nil }
        switch (fields[1], fields.count) {
        case ("O", 3):
            return UUID(uuidString: fields[2]).map { .root($0) }
        case ("I", 6):
            guard let id = UUID(uuidString: fields[2]), let code = Int(fields[4]), let status = InstanceState(code: code)
            else { return nil }
            let parent = fields[3] == "-" ? nil : UUID(uuidString: fields[3])
            let exit = fields[5] == "-" ? nil : Int32(fields[5])
            guard fields[3] == "-" || parent != nil, fields[5] == "-" || exit != nil else { return nil }
            return .instance(id: id, parent: parent, status: status, exitCode: exit)
        case ("Y", 3):
            return UUID(uuidString: fields[2]).map { .instanceRemoved($0) }
        case ("L", 5):
            guard let fork = Int(fields[2]), let boot = Int(fields[3]), let fail = Int(fields[4]) else { return nil }
            return .settings(forkLatencyMs: fork, bootLatencyMs: boot, failNextForks: fail)
        case ("X", 3):
            return UInt64(fields[2]).map { .exitApplied(request: $0) }
        default:
            return nil
        }
    }
}

/// What the state journal says about the simulator.
struct SimRecord: Sendable, Equatable {
    struct Instance: Sendable, Equatable {
        var parent: UUID?
        var status: InstanceState
        var exitCode: Int32?
        /// Its place in creation order.
        var serial: UInt64 = 0
    }

    var root: UUID?
    /// Every live instance, the root included (O(1) to add and remove, whatever their number).
    var instances: [UUID: Instance] = [:]
    private var nextSerial: UInt64 = 0
    var forkLatencyMs = 0
    var bootLatencyMs = 0
    var failNextForks = 0
    /// The kernel request ids of the last `exit` writes applied, oldest first.
    var exitsApplied: OrderedSet<UInt64> = []
    /// How many of them are remembered.
    static let exitsAppliedLimit = 256

    mutating func apply(_ event: SimEvent) {
        switch event {
        case .root(let id):
            root = id
        case .instance(let id, let parent, let status, let code):
            if let serial = instances[id]?.serial {
                instances[id] = Instance(parent: parent, status: status, exitCode: code, serial: serial)
            } else {
                nextSerial += 1
                instances[id] = Instance(parent: parent, status: status, exitCode: code, serial: nextSerial)
            }
        case .instanceRemoved(let id):
            instances.removeValue(forKey: id)
            instances.shrinkIfSparse()
        case .settings(let fork, let boot, let fail):
            (forkLatencyMs, bootLatencyMs, failNextForks) = (fork, boot, fail)
        case .exitApplied(let request):
            exitsApplied.append(request)
            if exitsApplied.count > Self.exitsAppliedLimit { exitsApplied.removeFirst() }
        }
    }

    /// The live instances in creation order (O(n log n): for restoring and compacting).
    var order: [UUID] { instances.sorted { $0.value.serial < $1.value.serial }.map(\.key) }

    var events: [SimEvent] {
        var events: [SimEvent] = []
        if let root { events.append(.root(root)) }
        events.append(.settings(forkLatencyMs: forkLatencyMs, bootLatencyMs: bootLatencyMs, failNextForks: failNextForks))
        for id in order {
            if let instance = instances[id] {
                events.append(.instance(id: id, parent: instance.parent, status: instance.status, exitCode: instance.exitCode))
            }
        }
        for request in exitsApplied { events.append(.exitApplied(request: request)) }
        return events
    }
}
