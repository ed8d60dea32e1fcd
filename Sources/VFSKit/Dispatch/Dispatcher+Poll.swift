public import SystemPackage

extension Dispatcher {
    /// The file's readiness now. With a `waker`, the poll is registered: the waker fires
    /// once, when readiness differs from what this call reported (it replaces an earlier one).
    /// Files without declared readiness report the profile's ``PollConvention/always``, by
    /// default readable (and writable if they have a writer).
    public func poll(_ file: OpenFile, caller: Caller, waker: (any PollWaker)?) throws(Errno) -> PollEvents {
        do throws(Errno) {
            return try registerPoll(file, caller: caller, waker: waker)
        } catch {
            throw answer(error)
        }
    }

    private func registerPoll(_ file: OpenFile, caller: Caller, waker: (any PollWaker)?) throws(Errno) -> PollEvents {
        guard file.vnode.isLive else { throw .staleNFSFileHandle }
        guard let poll = file.behavior.poll else {
            if let always = tree.profile.poll.always { return always }
            var events: PollEvents = []
            if file.behavior.reader != nil { events.insert(.in) }
            if file.behavior.writer != nil { events.insert(.out) }
            return events
        }
        let context = RequestContext(caller: caller, file: file)
        let signal = try poll.readiness.signal(context)
        guard let waker else { return try readiness(of: file, context: context, signal: signal) }

        // Observe before evaluating, so a change in between is not lost.
        let needsObserver = file.state.withLock { state in
            state.poll.observed?.signal !== signal
        }
        if needsObserver {
            let id = signal.addObserver { [weak self, weak file] in
                guard let self, let file else { return }
                self.signalFired(for: file)
            }
            let previous = file.state.withLock { state in
                defer { state.poll.observed = (signal, id) }
                return state.poll.observed
            }
            if let previous { previous.signal.removeObserver(previous.id) }
        }
        // A poller under a dynamic entry learns of its removal (the next poll answers `ESTALE`).
        if let token = file.vnode.token, file.state.withLock({ $0.poll.removalWatch == nil }) {
            let id = token.onDeath { [weak self, weak file] in
                guard let self, let file else { return }
                self.signalFired(for: file)
            }
            let previous = file.state.withLock { state in
                defer { state.poll.removalWatch = id }
                return state.poll.removalWatch
            }
            if let previous { token.removeDeathHandler(previous) }  // a concurrent poll registered too
        }
        let events = try readiness(of: file, context: context, signal: signal)
        file.state.withLock { state in
            state.poll.waker = waker
            state.poll.reported = events
            state.poll.caller = caller
        }
        // A change between evaluating and registering would otherwise go unnoticed.
        signalFired(for: file)
        return events
    }

    private func readiness(of file: OpenFile, context: RequestContext, signal: ChangeSignal) throws(Errno) -> PollEvents {
        guard let poll = file.behavior.poll else { return [] }
        let ready: Bool
        switch poll.readiness.kind {
        case .changes:
            let seen = file.state.withLock { $0.seenCount }
            ready = signal.count != seen
        case .readable(let condition):
            ready = try condition(context)
        }
        let events = poll.readiness.events ?? defaultEvents(poll.readiness.kind)
        return ready ? events.ready : events.idle
    }

    /// What a declared readiness reports under the profile's convention: `.changes` adds
    /// ``PollConvention/changed``, `.readable` adds `POLLIN`, to ``PollConvention/always``.
    private func defaultEvents(_ kind: Readiness.Kind) -> (ready: PollEvents, idle: PollEvents) {
        let always = tree.profile.poll.always ?? []
        switch kind {
        case .changes: return (always.union(tree.profile.poll.changed), always)
        case .readable: return (always.union(.in), always)
        }
    }

    /// Re-evaluates a registered poll and wakes it if readiness changed.
    private func signalFired(for file: OpenFile) {
        guard
            let (caller, signal) = file.state.withLock({ state -> (Caller, ChangeSignal)? in
                guard state.poll.waker != nil, let caller = state.poll.caller, let observed = state.poll.observed else { return nil }
                return (caller, observed.signal)
            })
        else { return }
        let context = RequestContext(caller: caller, file: file)
        let events: PollEvents
        do throws(Errno) {
            events = file.vnode.isLive ? try readiness(of: file, context: context, signal: signal) : [.err]
        } catch {
            events = [.err]
        }
        let waker = file.state.withLock { state -> (any PollWaker)? in
            guard events != state.poll.reported, let waker = state.poll.waker else { return nil }
            state.poll.waker = nil
            return waker
        }
        waker?.wake()
    }
}
