/// The engine after it and its platform lost touch: a server that restarted, or a stream to
/// the platform that was lost and found again.
extension ForkEngine {
    /// Settles the fork an earlier server sent and did not see answered (the running fork
    /// restored from the journal): answered as the platform says, once; forked anew if the
    /// platform never received it and its request was resent; `EIO` if the platform cannot tell.
    func settleRestoredFork() async {
        guard let (key, id) = settling, let request = requests[id] else { return }
        let thread = request.thread
        let childhoods = self.childhoods
        let outcome = await platform.forkInFlightOutcome()
        // Its resent request keeps waiting for the answer until it is recorded (becoming the
        // child suspends for the renewal and the hooks).
        defer { settling = nil }
        switch outcome {
        case .answered(let reply):
            await finish(id, thread: thread, childhoods: childhoods, outcome: reply)
        case .unknown:
            await finish(id, thread: thread, childhoods: childhoods, outcome: .failure(.signalFailed))
        case .neverReceived:
            journal?.record(.forkAbandoned(key: key))
            if requests[id]?.continuation != nil {
                start(id)  // its request came back: the fork it asked for is done now
                return
            }
            requests[id] = nil
            childrenReported(
                early.withLock { early in
                    _ = early.forkFinished(child: nil)
                    return early.takeReported()
                })
            perform(queue.completed())
        }
    }

    /// Brings the children to what the platform reports: a known child moves to its state
    /// (or stops with its exit code); an unknown one that has not stopped appears in `/vm/`
    /// (created by a fork whose answer was lost), after the fork in flight, if any, ended
    /// (that fork may be what created it). An unknown stopped child is not added: it may be
    /// one this instance already let go after its retention.
    public nonisolated func childrenReported(_ reported: [ReportedChild]) {
        var unknown: [ReportedChild] = []
        for report in reported {
            if let known = children[report.child.id] {
                if let event = report.event(for: known) { deliver(event, to: known.id) }
            } else if report.state != .stopped {
                unknown.append(report)
            }
        }
        guard !unknown.isEmpty else { return }
        early.withLock { early in
            guard !early.keep(reported: unknown) else { return }
            for report in unknown where children[report.child.id] == nil { adopt(report) }
        }
    }

    /// A child this instance did not know, as the platform reports it, recorded first.
    private nonisolated func adopt(_ report: ReportedChild) {
        let forked = report.child
        let child = Child(id: forked.id, snapshot: forked.snapshot, creationTime: forked.creationTime)
        if report.state != .starting { child.apply(.status(report.state)) }
        journal?.record([.childAdded(forked)] + (child.status == .starting ? [] : Self.recorded(child)))
        children.insert(child, for: forked.id)
    }
}
