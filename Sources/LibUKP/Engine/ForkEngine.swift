import OrderedCollections
import Synchronization
public import SystemPackage
public import VFSKit

#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// The fork engine of one instance: serializes forks on its platform, keeps the children
/// and the fork results, and applies the platform's events.
///
/// Reads (`forkResult`, `children`, a `Child`'s state) never hop to the actor; only
/// requests that really block (`fork`) and the rare engine-wide events are isolated.
public actor ForkEngine: PlatformEvents {
    /// Tunables, with SPEC.md's defaults.
    public struct Configuration: Sendable, Hashable {
        /// How many fork requests may wait behind the running one before `EBUSY`.
        public var forkQueueDepth: Int
        /// How long a stopped child stays visible before it is removed.
        public var stoppedRetention: Duration
        /// For how many threads the per-thread fork result is remembered (LRU).
        public var threadResultLimit: Int

        public init(forkQueueDepth: Int = 32, stoppedRetention: Duration = .seconds(60), threadResultLimit: Int = 4096) {
            self.forkQueueDepth = forkQueueDepth
            self.stoppedRetention = stoppedRetention
            self.threadResultLimit = threadResultLimit
        }
    }

    struct Request {
        /// Nil for a restored fork whose thread was not remembered.
        let thread: Int32?
        /// The kernel request that asked (the same when it is resent to a restarted server).
        let key: UInt64?
        /// Nil for a fork restored from the journal until its request is resent.
        var continuation: CheckedContinuation<Result<UUID, Errno>, Never>?
    }

    /// The live children in creation order: the one source of truth `/vm/` lists.
    public nonisolated let children = DynamicEntries<UUID, Child>()
    public nonisolated let configuration: Configuration
    /// Fires when this instance becomes a child and `generation` changes.
    public nonisolated let generationChanged = ChangeSignal()

    /// What renews this instance when it becomes a child (reseed, clock, hooks).
    public nonisolated let renewer: InstanceRenewer
    nonisolated let platform: any Platform
    private nonisolated let scheduler: any Scheduler
    private nonisolated let results: Mutex<ForkResults>
    nonisolated let early = Mutex(EarlyChildEvents())
    /// Where what must survive a restart is recorded, before what depends on it is answered.
    nonisolated let journal: EngineJournal?
    /// The last forks answered, by kernel request: a resent request gets the same answer.
    private var answered: OrderedDictionary<UInt64, Result<UUID, Errno>> = [:]

    var queue: ForkQueue
    var requests: [ForkQueue.RequestID: Request] = [:]
    private var nextRequestID: ForkQueue.RequestID = 0
    /// Increases each time this instance becomes a child; a fork started before belonged to the parent.
    var childhoods: UInt64 = 0
    /// The fork an earlier server sent and did not see answered, while the platform is asked
    /// what became of it: its kernel request and its request here (the running fork).
    var settling: (key: UInt64, id: ForkQueue.RequestID)?
    private nonisolated let incarnation = Mutex(UUID())

    /// An engine on `platform`; `createdByFork` for an instance that is the child of a fork;
    /// `renewer` renews it when it becomes a child (by default nothing is renewed but `/generation`).
    /// With a `journal`, what it records is restored first (see `restore(_:)`), and from
    /// then on everything the instance must not forget is recorded there.
    public init(
        platform: any Platform,
        configuration: Configuration = .init(),
        createdByFork: Bool = false,
        scheduler: any Scheduler = TaskScheduler(),
        renewer: InstanceRenewer = .disabled,
        journal: EngineJournal? = nil
    ) {
        self.init(
            platform: platform, configuration: configuration, createdByFork: createdByFork, scheduler: scheduler,
            renewer: renewer, journal: journal, shutDown: false)
    }

    /// The same; `shutDown`: already shut down (see `shutdown()`), for the engine of an
    /// instance that stopped before its engine was made.
    init(
        platform: any Platform,
        configuration: Configuration,
        createdByFork: Bool,
        scheduler: any Scheduler,
        renewer: InstanceRenewer,
        journal: EngineJournal?,
        shutDown: Bool
    ) {
        self.platform = platform
        self.renewer = renewer
        self.configuration = configuration
        self.scheduler = scheduler
        self.journal = journal
        self.results = Mutex(ForkResults(threadLimit: configuration.threadResultLimit, createdByFork: createdByFork))
        self.queue = ForkQueue(depth: configuration.forkQueueDepth)
        let record = journal?.record
        let inFlight = record?.forkInFlight
        self.answered = record.map { Self.answers(in: $0, settling: inFlight?.key, journal: journal) } ?? [:]
        if let inFlight {
            // The running fork until the platform says what became of it (see `settleRestoredFork`).
            requests[0] = Request(thread: inFlight.thread, key: inFlight.key)
            nextRequestID = 1
            _ = queue.request(0)
            settling = (inFlight.key, 0)
            early.withLock { $0.forkStarted() }
        }
        if shutDown { _ = queue.shutdown() }
        if let record {
            restore(record)
        } else {
            journal?.record(.instance(generation: incarnation.withLock { $0 }, createdByFork: createdByFork))
        }
        platform.attach(self)
        if inFlight != nil { Task { await self.settleRestoredFork() } }
    }

    /// The answers of recent forks, by kernel request. Of the forks sent to the platform and
    /// never answered, the last is `settling` (the platform is asked); any other fails with `EIO`.
    private static func answers(
        in record: InstanceRecord, settling: UInt64?, journal: EngineJournal?
    ) -> OrderedDictionary<UInt64, Result<UUID, Errno>> {
        var answered = record.forksAnswered.mapValues { $0.mapError(\.errno) }
        for key in record.forksInFlight.keys where key != settling {
            answered[key] = .failure(.ioError)
            journal?.record(.forkAnswered(key: key, .failure(.signalFailed)))
        }
        return answered
    }

    /// Takes up what the journal says: generation, fork results, and children (a stopped
    /// one's retention runs on from when it stopped).
    private nonisolated func restore(_ record: InstanceRecord) {
        incarnation.withLock { $0 = record.generation }
        results.withLock { results in
            results = ForkResults(threadLimit: configuration.threadResultLimit, createdByFork: record.createdByFork)
            for (thread, result) in record.results { results.record(result, thread: thread) }
            if let last = record.lastCompleted { results.record(last, thread: nil) }
        }
        let now = Int64.nowMilliseconds
        for entry in record.childrenInOrder {
            let child = Child(id: entry.child.id, snapshot: entry.child.snapshot, creationTime: entry.child.creationTime)
            if entry.status != .stopped { child.apply(.status(entry.status)) }
            if let code = entry.exitCode { child.apply(.exited(code)) } else if entry.status == .stopped { child.apply(.status(.stopped)) }
            children.insert(child, for: entry.child.id)
            if let stoppedAt = entry.stoppedAt {
                let left = max(0, stoppedAt + configuration.stoppedRetention.milliseconds - now)
                retire(child, after: .milliseconds(left))
            }
        }
    }

    // MARK: Reads

    /// What `/fork` reads for `thread`; nil renders empty (an instance never forked from or forked).
    public nonisolated func forkResult(thread: Int32) -> UUID? {
        results.withLock { $0.result(thread: thread) }
    }

    /// This incarnation of the instance (`/generation`): fixed for its life, new in every child.
    public nonisolated var generation: UUID { incarnation.withLock { $0 } }

    /// True after `shutdown()`.
    public var isShutDown: Bool { queue.isClosed }

    /// How many fork requests wait behind the running one.
    public var queuedForks: Int { queue.waiting.count }

    /// True while the platform is performing a fork.
    public var isForking: Bool { queue.running != nil }

    // MARK: Forking

    /// Forks once for `thread` and returns when the platform is done: the child's UUID
    /// in the parent (its directory is already in `children`), the zero UUID in the child.
    ///
    /// Throws `EBUSY` when the queue is full, `EINTR` when cancelled while queued,
    /// `EIO` when the signal fails or the engine shuts down, or the platform's rejection.
    ///
    /// `request` is the kernel's id of the write that asked: when a restarted server gets
    /// it again (the kernel resends what the dead server held), the fork it already asked
    /// for is answered once, never done twice.
    @discardableResult
    public func fork(thread: Int32, request: UInt64? = nil) async throws(Errno) -> UUID {
        if let request, let answer = answered[request] { return try answer.get() }
        if let request, let settling, settling.key == request, let restored = requests[settling.id],
            restored.continuation == nil
        {
            // Resent: the fork it asked for is in flight (an earlier server sent it); its answer comes.
            return try await withCheckedContinuation { requests[settling.id]?.continuation = $0 }.get()
        }
        if Task.isCancelled { throw .interrupted }
        let id = nextRequestID
        nextRequestID &+= 1
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                requests[id] = Request(thread: thread, key: request, continuation: continuation)
                perform(queue.request(id))
            }
        } onCancel: {
            Task { await self.cancel(id) }
        }
        return try result.get()
    }

    private func cancel(_ id: ForkQueue.RequestID) {
        perform(queue.cancel(id))
    }

    func perform(_ action: ForkQueue.Action) {
        switch action {
        case .none:
            break
        case .start(let id):
            start(id)
        case .fail(let id, let errno):
            requests.removeValue(forKey: id)?.continuation?.resume(returning: .failure(errno))
        }
    }

    /// Sends the fork signal in a task of its own: a started fork is not interruptible.
    func start(_ id: ForkQueue.RequestID) {
        let thread = requests[id]?.thread ?? nil
        if let key = requests[id]?.key { journal?.record(.forkSent(key: key, thread: thread)) }
        let childhoods = self.childhoods
        early.withLock { $0.forkStarted() }
        Task { [platform] in
            let outcome: Result<ForkReply, ForkFailure>
            do throws(ForkFailure) {
                outcome = .success(try await platform.forkWithRenewal())
            } catch {
                outcome = .failure(error)
            }
            await self.finish(id, thread: thread, childhoods: childhoods, outcome: outcome)
        }
    }

    func finish(
        _ id: ForkQueue.RequestID,
        thread: Int32?,
        childhoods started: UInt64,
        outcome: Result<ForkReply, ForkFailure>
    ) async {
        let answer: Result<UUID, ForkFailure>
        var recorded: [StateEvent] = []
        switch outcome.map(\.outcome) {
        case .failure(let failure):
            childrenReported(
                early.withLock { early in
                    _ = early.forkFinished(child: nil)
                    return early.takeReported()
                })
            answer = .failure(failure)
        case .success(.child):
            // SPEC.md's order: reseed, clock, generation, hooks; then the fork returns.
            await becameChild(renewal: try? outcome.get().renewal)
            results.withLock { $0.record(.zero, thread: thread) }
            recorded.append(.result(thread: thread, .zero))
            answer = .success(.zero)
        case .success(.parent(let forked)):
            if started == childhoods {
                renewer.stepParentClock(try? outcome.get().renewal)
                if children[forked.id] == nil {
                    journal?.record(.childAdded(forked), .result(thread: thread, forked.id))
                    insert(forked)
                } else {
                    // Recorded by a server that died before the answer: answered again, once.
                    journal?.record(.result(thread: thread, forked.id))
                }
                results.withLock { $0.record(forked.id, thread: thread) }
                answer = .success(forked.id)
            } else {
                // This instance became a child meanwhile: that child belongs to the parent.
                answer = .failure(.signalFailed)
            }
        }
        let request = requests.removeValue(forKey: id)
        if let key = request?.key {
            recorded.append(.forkAnswered(key: key, answer))
            answered[key] = answer.mapError(\.errno)
            if answered.count > InstanceRecord.answeredLimit { answered.removeFirst() }
        }
        journal?.record(recorded)
        request?.continuation?.resume(returning: answer.mapError(\.errno))
        perform(queue.completed())
    }

    private func insert(_ forked: ForkedChild) {
        let child = Child(id: forked.id, snapshot: forked.snapshot, creationTime: forked.creationTime)
        let (stopped, reported) = early.withLock { early in
            var stopped = false
            for event in early.forkFinished(child: forked.id) {
                stopped = child.apply(event) || stopped
            }
            children.insert(child, for: forked.id)
            return (stopped, early.takeReported())
        }
        if child.status != .starting { journal?.record(Self.recorded(child)) }
        if queue.isClosed { child.close(with: .ioError) }
        if stopped { retire(child) }
        childrenReported(reported)
    }

    /// A child's state as journal events.
    static func recorded(_ child: Child) -> [StateEvent] {
        guard child.hasStopped else { return [.childStatus(child.id, child.status)] }
        return [.childStopped(child.id, exitCode: child.exitCode, stoppedAt: .nowMilliseconds)]
    }

    // MARK: Platform events

    public nonisolated func childStatusChanged(_ child: UUID, to state: InstanceState) {
        deliver(.status(state), to: child)
    }

    public nonisolated func childExited(_ child: UUID, code: Int32) {
        deliver(.exited(code), to: child)
    }

    nonisolated func deliver(_ event: ChildEvent, to id: UUID) {
        let known =
            children[id]
            ?? early.withLock { early -> Child? in
                if let child = children[id] { return child }
                early.keep(event, for: id)
                return nil
            }
        guard let child = known else { return }
        // Recorded first: a waiter released by this event must find it recorded.
        switch event {
        case .status(.stopped): journal?.record(.childStopped(id, exitCode: nil, stoppedAt: .nowMilliseconds))
        case .status(let state): journal?.record(.childStatus(id, state))
        case .exited(let code): journal?.record(.childStopped(id, exitCode: code, stoppedAt: .nowMilliseconds))
        }
        if child.apply(event) { retire(child) }
    }

    /// Removes a stopped child after the retention period (or what is left of it).
    nonisolated func retire(_ child: Child, after delay: Duration? = nil) {
        let children = self.children
        let journal = self.journal
        scheduler.schedule(after: delay ?? configuration.stoppedRetention) {
            guard children[child.id] === child else { return }
            journal?.record(.childRemoved(child.id))
            children.remove(child.id)
        }
    }

    /// This instance has become the child of a fork: queued forks and blocked waits fail
    /// with `EIO`, the children (the parent's) disappear, every thread reads the zero UUID.
    public func becameChild() async {
        await becameChild(renewal: nil)
    }

    /// The same, renewing the instance in SPEC.md's order (reseed, clock, generation, hooks).
    /// The parent's state goes at once; its queued forks fail with `EIO` after the hooks ran.
    public func becameChild(renewal: PlatformRenewal?) async {
        let parentsRequests = forgetParent()
        await renewer.reseedAndStepClock(renewal, measuring: platform)
        let generation = UUID()
        journal?.record(.becameChild(generation: generation))
        incarnation.withLock { $0 = generation }
        generationChanged.signal()
        await renewer.runHooks(generation: generation)
        for id in parentsRequests { perform(.fail(id, .ioError)) }
    }

    public nonisolated func platformRenewed(_ renewal: PlatformRenewal) {
        renewer.connected(renewal)
    }

    /// The parent's state goes; returns the parent's queued fork requests, to fail with `EIO`.
    private func forgetParent() -> [ForkQueue.RequestID] {
        childhoods &+= 1
        let parentsRequests = queue.becameChild()
        early.withLock { early in
            _ = early.forkFinished(child: nil)
            _ = early.takeReported()  // the parent's children
        }
        // Blocked waits answer EIO before their entries go (which would answer ESTALE).
        for child in children.values { child.close(with: .ioError) }
        children.removeAll()
        results.withLock { $0.becameChild() }
        return parentsRequests
    }

    /// Answers every caller still blocked in `fork` or a child's wait with `EIO`;
    /// later forks and waits fail at once (the daemon is going away).
    public func shutdown() {
        for id in queue.shutdown() { perform(.fail(id, .ioError)) }
        for child in children.values { child.close(with: .ioError) }
    }
}
