import Synchronization

/// The liveness of one entry of a dynamic directory: dies when the entry is removed.
///
/// Every node and open file under the entry holds the token; once it is dead they
/// answer `ESTALE`. Tokens chain to the token of an enclosing dynamic entry.
public final class EntryToken: Sendable {
    private let alive = Atomic(true)
    private let parent: EntryToken?
    private struct Handlers {
        var nextID: UInt64 = 0
        var byID: [UInt64: @Sendable () -> Void] = [:]
    }

    private let deathHandlers = Mutex(Handlers())

    init(parent: EntryToken?) { self.parent = parent }

    /// True while this entry and every enclosing entry are live.
    public var isLive: Bool {
        alive.load(ordering: .acquiring) && (parent?.isLive ?? true)
    }

    func kill() {
        guard alive.exchange(false, ordering: .acquiringAndReleasing) else { return }
        let handlers = deathHandlers.withLock { handlers -> [@Sendable () -> Void] in
            guard !handlers.byID.isEmpty else { return [] }
            defer { handlers.byID = [:] }
            return Array(handlers.byID.values)
        }
        for handler in handlers { handler() }
    }

    /// Runs `handler` once when the entry dies (at once if it already has). The result
    /// cancels it with `removeDeathHandler`; nil when it already ran.
    @discardableResult
    func onDeath(_ handler: @escaping @Sendable () -> Void) -> UInt64? {
        let id = deathHandlers.withLock { handlers -> UInt64? in
            if !alive.load(ordering: .acquiring) { return nil }
            defer { handlers.nextID += 1 }
            handlers.byID[handlers.nextID] = handler
            return handlers.nextID
        }
        if id == nil { handler() }
        return id
    }

    /// How many handlers wait for the entry's death.
    var deathHandlerCount: Int { deathHandlers.withLock { $0.byID.count } }

    /// Forgets a handler registered with `onDeath` (for waits that ended first).
    func removeDeathHandler(_ id: UInt64) {
        _ = deathHandlers.withLock { $0.byID.removeValue(forKey: id) }
    }
}
