#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif
public import VFSKit
import Synchronization

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

    init(
        id: UUID,
        parent: SimInstance?,
        status: InstanceState,
        sim: SimPlatform,
        configuration: ForkEngine.Configuration,
        scheduler: any Scheduler
    ) {
        self.id = id
        self.parent = parent
        self.state = Mutex(State(status: status))
        self.engine = ForkEngine(
            platform: SimInstancePlatform(sim: sim, instance: id),
            configuration: configuration,
            createdByFork: parent != nil,
            scheduler: scheduler,
            renewer: sim.renewer
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
