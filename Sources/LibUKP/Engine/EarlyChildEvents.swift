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
/// Children the platform reports when it resynchronizes wait for the fork's end too (the
/// fork may be what created them); those it did not create are then adopted.
struct EarlyChildEvents: Sendable {
    static let limit = 64

    private(set) var forkInFlight = false
    private var events: [(child: UUID, event: ChildEvent)] = []
    private var reported: [ReportedChild] = []

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

    /// Keeps children the platform reported and this instance does not know, while a fork is
    /// in flight; false (nothing kept) otherwise.
    mutating func keep(reported children: [ReportedChild]) -> Bool {
        guard forkInFlight else { return false }
        reported += children
        return true
    }

    /// The reported children kept while the fork was in flight, once.
    mutating func takeReported() -> [ReportedChild] {
        defer { reported.removeAll() }
        return reported
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
