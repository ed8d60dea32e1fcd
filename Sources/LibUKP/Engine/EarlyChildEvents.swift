#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Events for a child the engine has not inserted yet.
///
/// A platform may report a new child's first status change before its fork answer
/// has been processed; while a fork is in flight such events are kept (a bounded few)
/// and applied when the child is inserted. Events for unknown children are dropped otherwise.
struct EarlyChildEvents: Sendable {
    static let limit = 64

    private(set) var forkInFlight = false
    private var events: [(child: UUID, event: ChildEvent)] = []

    /// A fork signal was sent: start keeping events for unknown children.
    mutating func forkStarted() {
        forkInFlight = true
        events.removeAll()
    }

    /// Keeps an event for an unknown child, if a fork is in flight.
    mutating func keep(_ event: ChildEvent, for child: UUID) {
        guard forkInFlight, events.count < Self.limit else { return }
        events.append((child, event))
    }

    /// The fork finished: returns the events kept for `child` (if any) and stops keeping.
    mutating func forkFinished(child: UUID?) -> [ChildEvent] {
        defer {
            forkInFlight = false
            events.removeAll()
        }
        return events.filter { $0.child == child }.map(\.event)
    }
}
