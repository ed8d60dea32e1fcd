import Synchronization
public import VFSKit

#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// One instance of the simulator: a machine with its own state, exit code and fork engine.
public final class SimInstance: Sendable {
    /// The instance's UUID (for a child: its UUID in the parent's `/vm/`).
    public let id: UUID
    /// The instance it was forked from; nil for the root instance.
    public let parent: SimInstance?
    /// Fires on every change of `status` or `exitCode`.
    public let statusChanged = ChangeSignal()

    private struct State {
        var status: InstanceState
        var exitCode: Int32?
    }

    private let state: Mutex<State>
    /// The engine, once made (see `engine`).
    private let madeEngine = AtomicLazyReference<ForkEngine>()
    /// What its engine is made with.
    private let maker: SimEngineMaker

    /// - Parameters:
    ///   - createdByFork: whether a fork created it (a restored instance whose parent is gone has none).
    ///   - sim: the simulator; its journal is where the instance's engine records (and restores)
    ///     what it must not forget.
    init(
        id: UUID,
        parent: SimInstance?,
        createdByFork: Bool,
        status: InstanceState,
        exitCode: Int32? = nil,
        sim: SimPlatform
    ) {
        self.id = id
        self.parent = parent
        self.state = Mutex(State(status: status, exitCode: exitCode))
        maker = SimEngineMaker(sim: sim, createdByFork: createdByFork)
        // An engine the journal knows of takes up its record now, before anything is served.
        if sim.journal?.record(of: id) != nil { _ = engine }
    }

    /// This instance's own engine: what its `/uk/libukp` serves, and what forks from it.
    ///
    /// Made on first use: most children never fork and never show their own tree, and an
    /// engine (with its journal record) would be most of what each of 100,000 children
    /// costs. Its generation is drawn then, before anyone can read it. An engine made
    /// once the instance stopped, or the simulator shut down, is shut down from the start.
    public var engine: ForkEngine {
        if let engine = madeEngine.load() { return engine }
        // Under the state's lock: a stop (or a shutdown) either sees the engine or is seen by it.
        return state.withLock { state in
            if let engine = madeEngine.load() { return engine }
            return madeEngine.storeIfNil(maker.make(id, stopped: state.status == .stopped))
        }
    }

    /// The engine if it was made: what a stop or a shutdown must reach.
    var engineIfMade: ForkEngine? {
        state.withLock { _ in madeEngine.load() }
    }

    /// The current state.
    public var status: InstanceState { state.withLock { $0.status } }

    /// The exit code, once the instance has stopped.
    public var exitCode: Int32? { state.withLock { $0.exitCode } }

    /// Moves to `status` if the current state is one of `allowed`; true if it moved.
    func move(to status: InstanceState, exitCode: Int32? = nil, from allowed: Set<InstanceState>) -> Bool {
        let moved = state.withLock { state -> Bool in
            guard allowed.contains(state.status), state.status != status else { return false }
            state.status = status
            if let exitCode { state.exitCode = exitCode }
            return true
        }
        if moved { statusChanged.signal() }
        return moved
    }
}

/// What a simulated instance's engine is made with: the simulator's configuration,
/// scheduler, renewer and journal (held weakly: the simulator holds its instances).
struct SimEngineMaker: Sendable {
    weak var sim: SimPlatform?
    let createdByFork: Bool

    /// The engine of instance `id`; shut down from the start when it `stopped` or the
    /// simulator is gone or shut down.
    func make(_ id: UUID, stopped: Bool) -> ForkEngine {
        let platform = SimInstancePlatform(sim: sim, instance: id)
        guard let sim else {
            return ForkEngine(
                platform: platform, configuration: .init(), createdByFork: createdByFork, scheduler: TaskScheduler(),
                renewer: .disabled, journal: nil, shutDown: true)
        }
        return ForkEngine(
            platform: platform, configuration: sim.engineConfiguration, createdByFork: createdByFork,
            scheduler: sim.scheduler, renewer: sim.renewer, journal: sim.journal.map { EngineJournal($0, instance: id) },
            shutDown: stopped || sim.isShutDown)
    }
}

/// The platform as one simulated instance sees it: forks go to the simulator on its behalf.
struct SimInstancePlatform: Platform {
    weak var sim: SimPlatform?
    let instance: UUID

    func fork() async throws(ForkFailure) -> ForkOutcome {
        guard let sim else { throw .signalFailed }
        return try await sim.fork(from: instance)
    }

    /// The simulator reports events straight to the parent instance's engine.
    func attach(_ events: any PlatformEvents) {}
}
