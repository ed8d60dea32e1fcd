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
    /// This instance's own engine: what its `/uk/libukp` serves.
    public let engine: ForkEngine
    /// Fires on every change of `status` or `exitCode`.
    public let statusChanged = ChangeSignal()

    private struct State {
        var status: InstanceState
        var exitCode: Int32?
    }

    private let state: Mutex<State>

    /// - Parameters:
    ///   - createdByFork: whether a fork created it (a restored instance whose parent is gone has none).
    ///   - journal: where its engine records (and restores) what it must not forget.
    init(
        id: UUID,
        parent: SimInstance?,
        createdByFork: Bool,
        status: InstanceState,
        exitCode: Int32? = nil,
        sim: SimPlatform,
        configuration: ForkEngine.Configuration,
        scheduler: any Scheduler,
        journal: StateJournal?
    ) {
        self.id = id
        self.parent = parent
        self.state = Mutex(State(status: status, exitCode: exitCode))
        self.engine = ForkEngine(
            platform: SimInstancePlatform(sim: sim, instance: id),
            configuration: configuration,
            createdByFork: createdByFork,
            scheduler: scheduler,
            renewer: sim.renewer,
            journal: journal.map { EngineJournal($0, instance: id) }
        )
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
