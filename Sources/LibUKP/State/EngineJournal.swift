#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// One engine's part of a `StateJournal`: its events, under its instance's key (nil for
/// the engine of a daemon's own instance; the simulator keys each instance by its UUID).
public struct EngineJournal: Sendable {
    let journal: StateJournal
    let instance: UUID?

    public init(_ journal: StateJournal, instance: UUID? = nil) {
        self.journal = journal
        self.instance = instance
    }

    /// What the journal says about this engine's instance, if anything.
    var record: InstanceRecord? { journal.record(of: instance) }

    /// Records events, in one write, before what depends on them is answered.
    func record(_ events: StateEvent...) {
        journal.record(events, instance: instance)
    }

    func record(_ events: [StateEvent]) {
        journal.record(events, instance: instance)
    }
}

extension Int64 {
    /// Now, in Unix milliseconds (when a child stopped: its retention runs from there).
    static var nowMilliseconds: Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }
}
