/// The wire extension's resync, the guest's side: on each new connection the guest says
/// `Resync` with the correlation id of the fork in flight (an earlier server's, restored from
/// the journal, or the one the lost stream left unanswered); the platform answers
/// `ResyncStart`, that fork's answer again (or says it never received it), a `Child` for each
/// child of this instance, and `ResyncEnd`. Bytes before `ResyncStart` are skipped: what the
/// stream held may be stale, or cut mid-message by a server that died reading it.
extension WirePlatform {
    /// How long the platform has to start answering a `Resync` before the guest reads on
    /// without (a platform that offered the extension and does not know `Resync`).
    static let resyncStartTimeout = Duration.seconds(5)

    /// What became of the fork an earlier server sent (restored from the journal): never
    /// received if its `ForkRequest` was never written; else, with the extension, what the
    /// next resync says (at most `resyncTimeout`), and without it unknown.
    public func forkInFlightOutcome() async -> ForkInFlightOutcome {
        let known = state.withLock { state -> ForkInFlightOutcome? in
            guard let restored = state.restored else { return .unknown }
            return restored.outcome
        }
        if let known { return known }
        let timeout = resyncTimeout
        Task {
            try? await Task.sleep(for: timeout)
            if settleRestored(with: .unknown) {
                log(.error, "the platform did not say what became of the fork an earlier server sent: EIO")
            }
        }
        return await withCheckedContinuation { waiter in
            let known = state.withLock { state -> ForkInFlightOutcome? in
                if let outcome = state.restored?.outcome { return outcome }
                state.restored?.waiter = waiter
                return nil
            }
            if let known { waiter.resume(returning: known) }
        }
    }

    /// Says `Resync` on a new connection (with the extension), asking about the fork in flight.
    func beginResync(on connection: WireConnection) {
        guard hello else { return }
        let (id, fork) = state.withLock { state -> (UInt32, UInt32) in
            let restored = state.restored.flatMap { $0.outcome == nil ? $0.id : nil }
            let fork = state.pending.keys.max() ?? restored ?? 0
            let id = state.nextCorrelationID(avoiding: clockProbe.isWaiting)
            state.resync = WireResyncProgress(id: id, fork: fork)
            return (id, fork)
        }
        do {
            try connection.send(WireMessage(correlationID: id, .resync(fork: fork)).encoded)
            log(.debug, "sent Resync \(id) (fork in flight: \(fork == 0 ? "none" : String(fork)))")
        } catch {
            log(.warning, "cannot write Resync to \(path): \(error)")
        }
        Task {
            try? await Task.sleep(for: Self.resyncStartTimeout)
            let abandoned = state.withLock { state -> Bool in
                guard let resync = state.resync, resync.id == id, !resync.started else { return false }
                state.resync = nil
                return true
            }
            guard abandoned else { return }
            log(.warning, "the platform at \(path) did not answer Resync \(id): reading on without it")
            if fork != 0 { failFork(fork) }
        }
    }

    /// The platform sent (again) an answer to fork `id`: the resync that asked about it has it.
    func noteAnswer(to id: UInt32) {
        state.withLock { state in
            if id != 0, state.resync?.fork == id { state.resync?.sawAnswer = true }
        }
    }

    func resyncStarted(_ id: UInt32) {
        let current = state.withLock { state -> Bool in
            guard state.resync?.id == id else { return false }
            state.resync?.started = true
            return true
        }
        if !current { log(.debug, "ResyncStart \(id) answers no resync in progress; ignored") }
    }

    func resyncReported(_ child: WireChild, correlationID id: UInt32) {
        let current = state.withLock { state -> Bool in
            guard state.resync?.id == id, state.resync?.started == true else { return false }
            state.resync?.children.append(child.reported)
            return true
        }
        if !current { log(.debug, "Child \(child.child.lowercaseText) answers no resync in progress; ignored") }
    }

    /// The resync is over: settles the fork it asked about and reports the children.
    func resyncEnded(_ end: WireResyncEnd, correlationID id: UInt32) {
        let progress = state.withLock { state -> WireResyncProgress? in
            guard let resync = state.resync, resync.id == id, resync.started else { return nil }
            state.resync = nil
            return resync
        }
        guard let progress else { return log(.debug, "ResyncEnd \(id) ends no resync in progress; ignored") }
        if end.children != progress.children.count {
            log(.warning, "ResyncEnd \(id) counts \(end.children) children, \(progress.children.count) arrived")
        }
        if progress.fork != 0 {
            switch (end.fork == progress.fork ? end.outcome : .none, progress.sawAnswer) {
            case (.answered, true):
                break
            case (.neverReceived, _):
                forkNeverReceived(progress.fork)
            case (.answered, false), (.none, _):
                log(.error, "the platform did not answer what became of fork \(progress.fork): EIO")
                failFork(progress.fork)
            }
        }
        log(
            .info,
            "resynchronized with the platform at \(path): fork in flight "
                + (progress.fork == 0 ? "none" : "\(progress.fork) \(end.outcome)") + ", \(progress.children.count) children")
        events?.childrenReported(progress.children)
    }

    /// The platform never received fork `id`: a fork of this server is sent again (its caller
    /// still waits); an earlier server's is settled so (its request, if resent, forks anew).
    private func forkNeverReceived(_ id: UInt32) {
        let resend = state.withLock { state -> (UInt32, WireConnection)? in
            guard let connection = state.connection, let reply = state.pending.removeValue(forKey: id) else { return nil }
            let again = state.nextCorrelationID(avoiding: clockProbe.isWaiting)
            state.pending[again] = reply
            return (again, connection)
        }
        if let (again, connection) = resend {
            log(.info, "the platform never received fork \(id): sending it again as \(again)")
            return sendForkRequest(again, on: connection)
        }
        settleRestored(id, with: .neverReceived)
    }

    /// Fork `id` fails with `EIO` (an earlier server's: its outcome is unknown).
    func failFork(_ id: UInt32) {
        guard let reply = state.withLock({ $0.pending.removeValue(forKey: id) }) else {
            settleRestored(id, with: .unknown)
            return
        }
        reply.resume(returning: .failure(.signalFailed))
    }

    /// Fork `id`, kept across a lost stream, fails with `EIO` if still unanswered after `delay`.
    func giveUp(onFork id: UInt32, after delay: Duration) {
        Task {
            try? await Task.sleep(for: delay)
            guard let reply = state.withLock({ $0.pending.removeValue(forKey: id) }) else { return }
            log(.error, "fork \(id): no word from the platform at \(path) in \(delay): EIO")
            reply.resume(returning: .failure(.signalFailed))
        }
    }

    /// Settles the restored fork (if `id` is nil or its id) with `outcome`, once; true if it did.
    @discardableResult
    func settleRestored(_ id: UInt32? = nil, with outcome: ForkInFlightOutcome) -> Bool {
        let (settled, waiter) = state.withLock { state -> (Bool, CheckedContinuation<ForkInFlightOutcome, Never>?) in
            guard var restored = state.restored, restored.outcome == nil, id == nil || restored.id == id else {
                return (false, nil)
            }
            restored.outcome = outcome
            defer {
                restored.waiter = nil
                state.restored = restored
            }
            return (true, restored.waiter)
        }
        waiter?.resume(returning: outcome)
        return settled
    }
}

/// The fork an earlier server of this instance sent and did not see answered (from the journal).
struct RestoredFork: Sendable {
    /// Its correlation id; nil when that server died before sending it.
    let id: UInt32?
    /// Set once known: at once when it was never sent, or without the extension (unknown).
    var outcome: ForkInFlightOutcome?
    /// The engine, waiting for the outcome.
    var waiter: CheckedContinuation<ForkInFlightOutcome, Never>?

    init(id: UInt32?, extended: Bool) {
        self.id = id
        outcome = id == nil ? .neverReceived : extended ? nil : .unknown
    }
}

/// One resync as the guest follows it: its `Resync`'s id, the fork it asked about, what came.
struct WireResyncProgress: Sendable {
    let id: UInt32
    let fork: UInt32
    /// `ResyncStart` arrived: what follows answers this resync.
    var started = false
    /// The fork's answer arrived (again) during this resync.
    var sawAnswer = false
    var children: [ReportedChild] = []
}
