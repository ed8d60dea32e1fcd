import Synchronization

/// The liveness of one entry of a dynamic directory: dies when the entry is removed.
///
/// Every node and open file under the entry holds the token; once it is dead they
/// answer `ESTALE`. Tokens chain to the token of an enclosing dynamic entry.
public final class EntryToken: Sendable {
    private let alive = Atomic(true)
    private let parent: EntryToken?
    private let deathHandlers = Mutex<[@Sendable () -> Void]>([])

    init(parent: EntryToken?) { self.parent = parent }

    /// True while this entry and every enclosing entry are live.
    public var isLive: Bool {
        alive.load(ordering: .acquiring) && (parent?.isLive ?? true)
    }

    func kill() {
        guard alive.exchange(false, ordering: .acquiringAndReleasing) else { return }
        let handlers = deathHandlers.withLock { handlers in
            defer { handlers = [] }
            return handlers
        }
        for handler in handlers { handler() }
    }

    /// Runs `handler` once when the entry dies (at once if it already has).
    func onDeath(_ handler: @escaping @Sendable () -> Void) {
        let runNow = deathHandlers.withLock { handlers -> Bool in
            if !alive.load(ordering: .acquiring) { return true }
            handlers.append(handler)
            return false
        }
        if runNow { handler() }
    }
}
