import Foundation
import Synchronization
import SystemPackage
import Testing

@testable import LibUKP
@testable import VFSKit

@Suite struct SimPlatformTests {
    @Test func theRootInstanceIsListedAndRunning() {
        let sim = SimPlatform()
        #expect(sim.instances.keys == [sim.rootID])
        #expect(sim.root.status == .running)
        #expect(sim.root.parent == nil)
        #expect(sim.root.engine.forkResult(thread: 1) == nil)
    }

    @Test func settingsCanBeChanged() {
        let sim = SimPlatform(forkLatency: .milliseconds(3), bootLatency: .milliseconds(4))
        #expect(sim.forkLatency == .milliseconds(3))
        #expect(sim.bootLatency == .milliseconds(4))
        sim.forkLatency = .zero
        sim.bootLatency = .seconds(1)
        sim.failNextForks = -3
        #expect(sim.forkLatency == .zero)
        #expect(sim.bootLatency == .seconds(1))
        #expect(sim.failNextForks == 0)
    }

    @Test func aNewChildIsStartingThenRunningAfterBootLatency() async throws {
        let scheduler = ManualScheduler()
        let sim = SimPlatform(bootLatency: .milliseconds(500), scheduler: scheduler)
        let id = try await sim.root.engine.fork(thread: 1)
        let child = try #require(sim.root.engine.children[id])
        let instance = try #require(sim.instances[id])
        #expect(child.status == .starting)
        #expect(instance.status == .starting)
        scheduler.advance(by: .milliseconds(499))
        #expect(child.status == .starting)
        scheduler.advance(by: .milliseconds(1))
        #expect(child.status == .running)
        #expect(instance.status == .running)
        #expect(child.statusChanged.count == 1)
        #expect(instance.statusChanged.count == 1)
    }

    @Test func zeroBootLatencyIsRunningWhenTheForkReturns() async throws {
        let sim = SimPlatform()
        let id = try await sim.root.engine.fork(thread: 1)
        #expect(sim.root.engine.children[id]?.status == .running)
    }

    @Test func bootLatencyOnTheRealClock() async throws {
        let sim = SimPlatform(bootLatency: .milliseconds(10))
        let id = try await sim.root.engine.fork(thread: 1)
        let child = try #require(sim.root.engine.children[id])
        try await until("boot") { child.status == .running }
    }

    @Test func childrenRecordTheirForkDetails() async throws {
        let sim = SimPlatform()
        let before = Int64(Date().timeIntervalSince1970)
        let id = try await sim.root.engine.fork(thread: 1)
        let after = Int64(Date().timeIntervalSince1970)
        let child = try #require(sim.root.engine.children[id])
        #expect((before...after).contains(child.creationTime))
        #expect(child.snapshot != id && child.snapshot != .zero)
    }

    @Test(arguments: [InstanceState.running, .draining, .stopping, .template])
    func setStatusIsReportedToTheParent(state: InstanceState) async throws {
        let scheduler = ManualScheduler()
        let sim = SimPlatform(bootLatency: .seconds(1), scheduler: scheduler)
        let id = try await sim.root.engine.fork(thread: 1)
        try sim.setStatus(id, to: state)
        #expect(sim.instances[id]?.status == state)
        #expect(sim.root.engine.children[id]?.status == state)
        // The boot timer does not move an instance that already left Starting.
        scheduler.advance(by: .seconds(1))
        #expect(sim.instances[id]?.status == state)
    }

    @Test(arguments: [InstanceState.starting, .stopped])
    func setStatusRefusesOtherStates(state: InstanceState) async throws {
        let sim = SimPlatform()
        let id = try await sim.root.engine.fork(thread: 1)
        #expect(throws: Errno.invalidArgument) { try sim.setStatus(id, to: state) }
    }

    @Test func unknownInstancesAreENOENT() async throws {
        let sim = SimPlatform()
        #expect(throws: Errno.noSuchFileOrDirectory) { try sim.setStatus(UUID(), to: .running) }
        await #expect(throws: Errno.noSuchFileOrDirectory) { try await sim.exit(UUID(), code: 0) }
    }

    @Test func exitMovesThroughDrainingAndStopping() async throws {
        let sim = SimPlatform()
        let id = try await sim.root.engine.fork(thread: 1)
        let child = try #require(sim.root.engine.children[id])
        let seen = Mutex<[InstanceState]>([])
        _ = child.statusChanged.addObserver { seen.withLock { $0.append(child.status) } }
        try await sim.exit(id, code: 17)
        #expect(seen.withLock { $0 } == [.draining, .stopping, .stopped])
        #expect(child.exitCode == 17)
        #expect(sim.instances[id]?.exitCode == 17)
        #expect(sim.instances[id]?.status == .stopped)
        await #expect(throws: Errno.invalidArgument) { try await sim.exit(id, code: 1) }
        #expect(throws: Errno.invalidArgument) { try sim.setStatus(id, to: .running) }
    }

    @Test func exitFromStoppingSkipsDraining() async throws {
        let sim = SimPlatform()
        let id = try await sim.root.engine.fork(thread: 1)
        try sim.setStatus(id, to: .stopping)
        let child = try #require(sim.root.engine.children[id])
        let before = child.statusChanged.count
        try await sim.exit(id, code: 0)
        #expect(child.statusChanged.count == before + 1)
    }

    @Test func anExitedInstanceCannotFork() async throws {
        let sim = SimPlatform()
        let id = try await sim.root.engine.fork(thread: 1)
        let instance = try #require(sim.instances[id])
        try await sim.exit(id, code: 0)
        await #expect(throws: Errno.ioError) { try await instance.engine.fork(thread: 1) }
    }

    /// A child's engine is made on first use: most children never fork and never show their
    /// own tree, and the engine is most of what a child would cost.
    @Test func aChildsEngineIsMadeOnFirstUse() async throws {
        let sim = SimPlatform()
        let child = try #require(sim.instances[try await sim.root.engine.fork(thread: 1)])
        #expect(child.engineIfMade == nil, "forking made the child, not its engine")
        let engine = child.engine
        #expect(child.engineIfMade === engine && child.engine === engine, "made once")
        #expect(engine.forkResult(thread: 1) == .zero, "a child's own view")
        let grandchild = try await engine.fork(thread: 1)
        #expect(engine.children.keys == [grandchild])
    }

    /// The engine of an instance that stopped before anyone used it is made shut down, as
    /// the exit would have left it.
    @Test func anEngineMadeAfterItsInstanceStoppedIsShutDown() async throws {
        let sim = SimPlatform()
        let id = try await sim.root.engine.fork(thread: 1)
        let instance = try #require(sim.instances[id])
        try await sim.exit(id, code: 0)
        #expect(instance.engineIfMade == nil, "the exit made no engine")
        await #expect(throws: Errno.ioError) { try await instance.engine.fork(thread: 1) }
        #expect(await instance.engine.isShutDown)
    }

    /// Shutting the simulator down reaches the engines made, and those made afterwards.
    @Test func shutdownReachesEveryEngineMadeBeforeOrAfter() async throws {
        let sim = SimPlatform()
        let made = try #require(sim.instances[try await sim.root.engine.fork(thread: 1)])
        let later = try #require(sim.instances[try await sim.root.engine.fork(thread: 1)])
        _ = made.engine
        await sim.shutdown()
        await #expect(throws: Errno.ioError) { try await sim.root.engine.fork(thread: 1) }
        await #expect(throws: Errno.ioError) { try await made.engine.fork(thread: 1) }
        #expect(later.engineIfMade == nil)
        await #expect(throws: Errno.ioError) { try await later.engine.fork(thread: 1) }
    }

    @Test func stoppedInstancesLeaveTheRegistryAfterRetention() async throws {
        let scheduler = ManualScheduler()
        let sim = SimPlatform(engineConfiguration: .init(stoppedRetention: .seconds(60)), scheduler: scheduler)
        let id = try await sim.root.engine.fork(thread: 1)
        try await sim.exit(id, code: 0)
        try await sim.exit(sim.rootID, code: 0)
        scheduler.advance(by: .seconds(59))
        #expect(sim.instances.keys == [sim.rootID, id])
        #expect(sim.root.engine.children[id] != nil)
        scheduler.advance(by: .seconds(1))
        #expect(sim.instances.keys == [sim.rootID])
        #expect(sim.root.engine.children[id] == nil)
        #expect(sim.root.status == .stopped)
    }

    @Test func failuresApplyToWhicheverInstanceForksNext() async throws {
        let sim = SimPlatform()
        let child = try #require(sim.instances[try await sim.root.engine.fork(thread: 1)])
        sim.failNextForks = 1
        await #expect(throws: Errno.ioError) { try await child.engine.fork(thread: 1) }
        let grandchild = try await child.engine.fork(thread: 1)
        #expect(child.engine.children.keys == [grandchild])
        #expect(sim.root.engine.children.count == 1)
    }

    @Test func grandchildrenReportToTheirOwnParent() async throws {
        let sim = SimPlatform()
        let child = try #require(sim.instances[try await sim.root.engine.fork(thread: 1)])
        let grandchild = try await child.engine.fork(thread: 1)
        try await sim.exit(grandchild, code: 5)
        #expect(child.engine.children[grandchild]?.exitCode == 5)
        #expect(sim.root.engine.children[grandchild] == nil)
        #expect(sim.root.engine.children[child.id]?.status == .running)
    }
}
