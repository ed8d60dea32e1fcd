import OrderedCollections
import VFSKit

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What the state journal says about one instance: replayed on restart, kept up to date
/// as events are recorded, and written out whole when the journal is compacted.
struct InstanceRecord: Sendable, Equatable {
    /// One child as recorded.
    struct ChildRecord: Sendable, Equatable {
        var child: ForkedChild
        var status: InstanceState = .starting
        var exitCode: Int32?
        /// When it stopped (Unix ms): its retention runs from there.
        var stoppedAt: Int64?
        /// Its place in creation order.
        var serial: UInt64 = 0
    }

    /// How many answered forks are remembered, to answer a resent request once.
    static let answeredLimit = 256
    /// For how many threads a fork result is kept (the engine's default).
    static let threadLimit = 4096

    var generation = UUID()
    var createdByFork = false
    /// Per-thread fork results, least recently recorded first (at most `threadLimit`).
    var results: OrderedDictionary<Int32, UUID> = [:]
    var lastCompleted: UUID?
    /// The children, by UUID (O(1) to add and remove, whatever their number).
    var children: [UUID: ChildRecord] = [:]
    private var nextSerial: UInt64 = 0
    /// Forks sent to the platform and not answered: the kernel request and its thread.
    var forksInFlight: OrderedDictionary<UInt64, Int32?> = [:]
    /// The last forks answered, by kernel request, oldest first.
    var forksAnswered: OrderedDictionary<UInt64, Result<UUID, ForkFailure>> = [:]
    /// The wire's correlation id of the fork in flight, once its `ForkRequest` was sent
    /// (none: the server died before sending it).
    var forkCorrelation: UInt32?

    init() {}

    mutating func apply(_ event: StateEvent) {
        switch event {
        case .instance(let generation, let createdByFork):
            self.generation = generation
            self.createdByFork = createdByFork
        case .result(let thread, let result):
            lastCompleted = result
            if let thread {
                results.removeValue(forKey: thread)
                results[thread] = result
                if results.count > Self.threadLimit { results.removeFirst() }
            }
        case .childAdded(let child):
            nextSerial += 1
            children[child.id] = ChildRecord(child: child, serial: nextSerial)
        case .childStatus(let id, let state):
            children[id]?.status = state
        case .childStopped(let id, let code, let stoppedAt):
            children[id]?.status = .stopped
            if let code { children[id]?.exitCode = code }
            children[id]?.stoppedAt = stoppedAt
        case .childRemoved(let id):
            children.removeValue(forKey: id)
            children.shrinkIfSparse()
        case .becameChild(let generation):
            self.generation = generation
            createdByFork = true
            results = [:]
            lastCompleted = .zero
            children = [:]
            forksInFlight = [:]
            forkCorrelation = nil
        case .forkSent(let key, let thread):
            forksInFlight[key] = thread
            forkCorrelation = nil
        case .forkAbandoned(let key):
            forksInFlight.removeValue(forKey: key)
            if forksInFlight.isEmpty { forkCorrelation = nil }
        case .forkAnswered(let key, let answer):
            forksInFlight.removeValue(forKey: key)
            if forksInFlight.isEmpty { forkCorrelation = nil }
            forksAnswered.removeValue(forKey: key)
            forksAnswered[key] = answer
            if forksAnswered.count > Self.answeredLimit { forksAnswered.removeFirst() }
        case .forkCorrelation(let id):
            forkCorrelation = id
        }
    }

    /// The fork in flight, sent by an earlier server and not answered: its kernel request,
    /// its thread, and the wire's correlation id if its `ForkRequest` was sent.
    var forkInFlight: (key: UInt64, thread: Int32?, correlation: UInt32?)? {
        forksInFlight.elements.last.map { ($0.key, $0.value, forkCorrelation) }
    }

    /// The children in creation order (O(n log n): for restoring and compacting).
    var childrenInOrder: [ChildRecord] { children.values.sorted { $0.serial < $1.serial } }

    /// The events that rebuild this record from nothing (what compaction writes).
    var events: [StateEvent] {
        var events: [StateEvent] = [.instance(generation: generation, createdByFork: createdByFork)]
        for (thread, result) in results { events.append(.result(thread: thread, result)) }
        if let lastCompleted, lastCompleted != results.values.last { events.append(.result(thread: nil, lastCompleted)) }
        for record in childrenInOrder {
            events.append(.childAdded(record.child))
            if record.status != .starting { events.append(.childStatus(record.child.id, record.status)) }
            if let stoppedAt = record.stoppedAt {
                events.append(.childStopped(record.child.id, exitCode: record.exitCode, stoppedAt: stoppedAt))
            }
        }
        for (key, thread) in forksInFlight { events.append(.forkSent(key: key, thread: thread)) }
        for (key, answer) in forksAnswered { events.append(.forkAnswered(key: key, answer)) }
        if let forkCorrelation { events.append(.forkCorrelation(forkCorrelation)) }
        return events
    }
}
