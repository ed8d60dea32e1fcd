#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif
public import SystemPackage
public import VFSKit
import Synchronization

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
    public let rootID = UUID()
    /// The configuration of every instance's engine.
    public let engineConfiguration: ForkEngine.Configuration
    /// Runs the child hooks of each new child (one kernel for all: nothing is reseeded or stepped).
    public let renewer: InstanceRenewer

    private let scheduler: any Scheduler
    private let settings: Mutex<Settings>

    public init(
        engineConfiguration: ForkEngine.Configuration = .init(),
        forkLatency: Duration = .zero,
        bootLatency: Duration = .zero,
        scheduler: any Scheduler = TaskScheduler(),
        renewer: InstanceRenewer = .disabled
    ) {
        self.engineConfiguration = engineConfiguration
        self.renewer = renewer
        self.scheduler = scheduler
        self.settings = Mutex(Settings(forkLatency: forkLatency, bootLatency: bootLatency))
        let root = SimInstance(
            id: rootID, parent: nil, status: .running, sim: self,
            configuration: engineConfiguration, scheduler: scheduler
        )
        instances.insert(root, for: rootID)
    }

    /// The root instance.
    public var root: SimInstance { instances[rootID]! }

    /// How long a fork takes.
    public var forkLatency: Duration {
        get { settings.withLock { $0.forkLatency } }
        set { settings.withLock { $0.forkLatency = newValue } }
    }

    /// How long a new child stays `Starting`.
    public var bootLatency: Duration {
        get { settings.withLock { $0.bootLatency } }
        set { settings.withLock { $0.bootLatency = newValue } }
    }

    /// How many of the next fork signals will fail (the fork write fails with `EIO`).
    public var failNextForks: Int {
        get { settings.withLock { $0.failNextForks } }
        set { settings.withLock { $0.failNextForks = max(0, newValue) } }
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
    public func exit(_ id: UUID, code: Int32) async throws(Errno) {
        guard let instance = instances[id] else { throw .noSuchFileOrDirectory }
        move(instance, to: .draining, from: [.starting, .running, .template])
        move(instance, to: .stopping, from: [.draining])
        guard move(instance, to: .stopped, exitCode: code, from: Self.notStopped) else {
            throw .invalidArgument
        }
        await instance.engine.shutdown()
        guard id != rootID else { return }
        let instances = self.instances
        scheduler.schedule(after: engineConfiguration.stoppedRetention) {
            if instances[id] === instance { instances.remove(id) }
        }
    }

    // MARK: The platform side

    private static let notStopped: Set<InstanceState> = Set(InstanceState.allCases).subtracting([.stopped])

    /// Moves an instance and reports the move to its parent's engine.
    @discardableResult
    private func move(
        _ instance: SimInstance,
        to status: InstanceState,
        exitCode: Int32? = nil,
        from allowed: Set<InstanceState>
    ) -> Bool {
        guard instance.move(to: status, exitCode: exitCode, from: allowed) else { return false }
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
        let child = SimInstance(
            id: UUID(), parent: parent, status: .starting, sim: self,
            configuration: engineConfiguration, scheduler: scheduler
        )
        instances.insert(child, for: child.id)
        let creationTime = Int64(Date().timeIntervalSince1970)
        let boot: @Sendable () -> Void = { [weak self, scheduler, bootLatency] in
            scheduler.schedule(after: bootLatency) { [weak self] in self?.move(child, to: .running, from: [.starting]) }
        }
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
