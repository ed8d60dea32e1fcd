import Synchronization
public import SystemPackage
public import VFSKit

#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// The embedded platform: every instance runs in this process, each with its own engine.
///
/// A person or a test plays the hypervisor and the children's apps through it: fork and
/// boot latency, injected fork failures, state moves and exits. Each new child starts
/// `Starting` and becomes `Running` after the boot latency.
public final class SimPlatform: Sendable {
    private struct Settings {
        var forkLatency: Duration
        var bootLatency: Duration
        var failNextForks = 0
    }

    /// The live instances, the root included, in creation order.
    public let instances = DynamicEntries<UUID, SimInstance>()
    /// The UUID of the root instance (the one the daemon serves); it is never removed.
    public let rootID: UUID
    /// The configuration of every instance's engine.
    public let engineConfiguration: ForkEngine.Configuration
    /// Runs the child hooks of each new child (one kernel for all: nothing is reseeded or stepped).
    public let renewer: InstanceRenewer

    let scheduler: any Scheduler
    private let settings: Mutex<Settings>
    /// Where the simulator and every instance's engine record what they must not forget.
    let journal: StateJournal?
    /// Set by `shutdown()`: engines made from then on are shut down from the start.
    private let shutDown = Atomic(false)

    /// - Parameter journal: with one, the simulator restores the instances it records (and
    ///   their engines), and records every change from then on, so that a restarted daemon
    ///   takes up the same simulated instances.
    public init(
        engineConfiguration: ForkEngine.Configuration = .init(),
        forkLatency: Duration = .zero,
        bootLatency: Duration = .zero,
        scheduler: any Scheduler = TaskScheduler(),
        renewer: InstanceRenewer = .disabled,
        journal: StateJournal? = nil
    ) {
        self.engineConfiguration = engineConfiguration
        self.renewer = renewer
        self.scheduler = scheduler
        self.journal = journal
        let recorded = journal?.sim
        if let recorded, let root = recorded.root {
            rootID = root
            settings = Mutex(
                Settings(
                    forkLatency: .milliseconds(recorded.forkLatencyMs), bootLatency: .milliseconds(recorded.bootLatencyMs),
                    failNextForks: recorded.failNextForks))
            restore(recorded)
        } else {
            rootID = UUID()
            settings = Mutex(Settings(forkLatency: forkLatency, bootLatency: bootLatency))
            journal?.record(.root(rootID))
            recordSettings()
            let root = makeInstance(rootID, parent: nil, status: .running)
            instances.insert(root, for: rootID)
        }
    }

    /// A new instance (its engine restores what the journal holds for it), recorded.
    private func makeInstance(
        _ id: UUID, parent: SimInstance?, createdByFork: Bool? = nil, status: InstanceState, exitCode: Int32? = nil
    ) -> SimInstance {
        let instance = SimInstance(
            id: id, parent: parent, createdByFork: createdByFork ?? (parent != nil), status: status, exitCode: exitCode, sim: self)
        journal?.record(.instance(id: id, parent: parent?.id, status: status, exitCode: exitCode))
        return instance
    }

    /// Takes up the recorded instances, parents first. A fork that an instance's engine had
    /// sent and not seen answered either created a child (recorded here, not in the engine:
    /// it is answered with it now) or never reached the simulator (its request forks anew).
    private func restore(_ recorded: SimRecord) {
        // Settle the forks in flight before any engine takes up its record.
        for id in recorded.order {
            if let parentID = recorded.instances[id]?.parent { resolveForkInFlight(of: parentID, creating: id) }
        }
        for id in recorded.order { abandonForksInFlight(of: id) }
        for id in recorded.order {
            guard let entry = recorded.instances[id] else { continue }
            let parent = entry.parent.flatMap { instances[$0] }
            let instance = makeInstance(
                id, parent: parent, createdByFork: id != recorded.root, status: entry.status, exitCode: entry.exitCode)
            instances.insert(instance, for: id)
            switch entry.status {
            case .starting: scheduleBoot(of: instance)
            case .stopped where id != rootID: scheduleRemoval(of: instance)
            default: break
            }
        }
    }

    /// The engine of `parentID` did not see the fork that created `child` answered: it is now.
    private func resolveForkInFlight(of parentID: UUID, creating child: UUID) {
        guard let journal, let record = journal.record(of: parentID), record.children[child] == nil,
            let (key, thread) = record.forksInFlight.elements.last
        else { return }
        let forked = ForkedChild(id: child, snapshot: UUID(), creationTime: Int64(Date().timeIntervalSince1970))
        journal.record(
            [.childAdded(forked), .result(thread: thread, child), .forkAnswered(key: key, .success(child))],
            instance: parentID)
    }

    /// Forks still in flight created no child: their requests, resent, fork anew.
    private func abandonForksInFlight(of id: UUID) {
        guard let journal, let record = journal.record(of: id) else { return }
        journal.record(record.forksInFlight.keys.map { .forkAbandoned(key: $0) }, instance: id)
    }

    private func recordSettings() {
        let (fork, boot, fail) = settings.withLock { ($0.forkLatency.milliseconds, $0.bootLatency.milliseconds, $0.failNextForks) }
        journal?.record(.settings(forkLatencyMs: Int(fork), bootLatencyMs: Int(boot), failNextForks: fail))
    }

    /// The root instance.
    public var root: SimInstance { instances[rootID]! }

    /// How long a fork takes.
    public var forkLatency: Duration {
        get { settings.withLock { $0.forkLatency } }
        set {
            settings.withLock { $0.forkLatency = newValue }
            recordSettings()
        }
    }

    /// How long a new child stays `Starting`.
    public var bootLatency: Duration {
        get { settings.withLock { $0.bootLatency } }
        set {
            settings.withLock { $0.bootLatency = newValue }
            recordSettings()
        }
    }

    /// How many of the next fork signals will fail (the fork write fails with `EIO`).
    public var failNextForks: Int {
        get { settings.withLock { $0.failNextForks } }
        set {
            settings.withLock { $0.failNextForks = max(0, newValue) }
            recordSettings()
        }
    }

    /// States a person may move an instance to with `setStatus`.
    public static let settableStates: Set<InstanceState> = [.running, .draining, .stopping, .template]

    /// Moves a live instance to `Running`, `Draining`, `Stopping` or `Template`.
    ///
    /// Throws `ENOENT` for an unknown instance, `EINVAL` for another state or a stopped instance.
    public func setStatus(_ id: UUID, to status: InstanceState) throws(Errno) {
        guard let instance = instances[id] else { throw .noSuchFileOrDirectory }
        guard Self.settableStates.contains(status) else { throw .invalidArgument }
        guard instance.status != .stopped else { throw .invalidArgument }
        move(instance, to: status, from: Self.notStopped)
    }

    /// The instance exits with `code`: it moves through `Draining` and `Stopping` to `Stopped`,
    /// its parent learns the exit code, and callers blocked in its own tree get `EIO`.
    ///
    /// Throws `ENOENT` for an unknown instance, `EINVAL` if it has already stopped.
    /// - Parameter request: the kernel's id of the `exit` write. Applied once: the same
    ///   request resent to a restarted server (`FUSE_NOTIFY_RESEND`) succeeds without
    ///   exiting again (it is not the exit of a stopped instance).
    public func exit(_ id: UUID, code: Int32, request: UInt64? = nil) async throws(Errno) {
        guard let instance = instances[id] else { throw .noSuchFileOrDirectory }
        if let request, journal?.simAppliedExit(request) == true { return }
        move(instance, to: .draining, from: [.starting, .running, .template])
        move(instance, to: .stopping, from: [.draining])
        let applied = request.map { SimEvent.exitApplied(request: $0) }
        guard move(instance, to: .stopped, exitCode: code, from: Self.notStopped, recording: applied) else {
            throw .invalidArgument
        }
        await instance.engineIfMade?.shutdown()
        guard id != rootID else { return }
        scheduleRemoval(of: instance)
    }

    /// True after `shutdown()`.
    var isShutDown: Bool { shutDown.load(ordering: .acquiring) }

    /// Answers every caller blocked in an instance's `fork` or a child's wait with `EIO`;
    /// later forks and waits, in any instance, fail at once (the daemon is going away).
    public func shutdown() async {
        shutDown.store(true, ordering: .releasing)
        for instance in instances.values { await instance.engineIfMade?.shutdown() }
    }

    /// A stopped instance goes after the retention period.
    private func scheduleRemoval(of instance: SimInstance) {
        let (instances, journal, id) = (self.instances, self.journal, instance.id)
        scheduler.schedule(after: engineConfiguration.stoppedRetention) {
            guard instances[id] === instance else { return }
            journal?.record(.instanceRemoved(id))
            journal?.forget(instance: id)
            instances.remove(id)
        }
    }

    /// A new child becomes `Running` after the boot latency.
    private func scheduleBoot(of child: SimInstance) {
        scheduler.schedule(after: bootLatency) { [weak self] in self?.move(child, to: .running, from: [.starting]) }
    }

    // MARK: The platform side

    private static let notStopped: Set<InstanceState> = Set(InstanceState.allCases).subtracting([.stopped])

    /// Moves an instance and reports the move to its parent's engine.
    @discardableResult
    private func move(
        _ instance: SimInstance,
        to status: InstanceState,
        exitCode: Int32? = nil,
        from allowed: Set<InstanceState>,
        recording also: SimEvent? = nil
    ) -> Bool {
        guard instance.move(to: status, exitCode: exitCode, from: allowed) else { return false }
        let moved = SimEvent.instance(id: instance.id, parent: instance.parent?.id, status: status, exitCode: instance.exitCode)
        journal?.record([moved] + (also.map { [$0] } ?? []))
        if let parent = instance.parent {
            if status == .stopped {
                parent.engine.childExited(instance.id, code: exitCode ?? 0)
            } else {
                parent.engine.childStatusChanged(instance.id, to: status)
            }
        }
        return true
    }

    /// Performs a fork for `parentID`: waits the fork latency, creates the child, starts its boot.
    func fork(from parentID: UUID) async throws(ForkFailure) -> ForkOutcome {
        let (latency, fails) = settings.withLock { settings -> (Duration, Bool) in
            guard settings.failNextForks > 0 else { return (settings.forkLatency, false) }
            settings.failNextForks -= 1
            return (settings.forkLatency, true)
        }
        guard !fails, let parent = instances[parentID], parent.status != .stopped else {
            throw .signalFailed
        }
        if latency > .zero { try? await Task.sleep(for: latency) }
        let child = makeInstance(UUID(), parent: parent, status: .starting)
        instances.insert(child, for: child.id)
        let creationTime = Int64(Date().timeIntervalSince1970)
        let boot: @Sendable () -> Void = { [weak self] in self?.scheduleBoot(of: child) }
        if renewer.runsHooks {
            // The child's hooks run as it "resumes": it stays Starting until they are done.
            Task { [renewer] in
                await renewer.runHooks(generation: child.engine.generation, instance: child.id)
                boot()
            }
        } else {
            boot()
        }
        return .parent(ForkedChild(id: child.id, snapshot: UUID(), creationTime: creationTime))
    }
}
