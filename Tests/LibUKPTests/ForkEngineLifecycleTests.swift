import Foundation
import SystemPackage
import Testing

@testable import LibUKP

/// Children over time: platform events, retention, becoming a child, shutdown.
@Suite struct ForkEngineLifecycleTests {
    /// A scripted engine with one forked child.
    func engineWithChild(
        _ configuration: ForkEngine.Configuration = .init(),
        scheduler: any Scheduler = TaskScheduler()
    ) async throws -> (ForkEngine, ScriptedPlatform, Child) {
        let platform = ScriptedPlatform()
        let engine = ForkEngine(platform: platform, configuration: configuration, scheduler: scheduler)
        let (task, signal) = await startedFork(engine, platform, thread: 1)
        let forked = signal.succeed()
        _ = try await task.value
        return (engine, platform, try #require(engine.children[forked.id]))
    }

    @Test func statusChangesReachTheChildAndSignal() async throws {
        let (engine, _, child) = try await engineWithChild()
        for (count, state) in [InstanceState.running, .draining, .stopping, .template].enumerated() {
            engine.childStatusChanged(child.id, to: state)
            #expect(child.status == state)
            #expect(child.statusChanged.count == UInt64(count + 1))
        }
    }

    @Test func anExitStopsTheChildAndReleasesWaiters() async throws {
        let (engine, _, child) = try await engineWithChild()
        let waiter = Task { try await child.waitUntilStopped() }
        try await until("waiter") { child.waiterCount == 1 }
        engine.childExited(child.id, code: 42)
        try await waiter.value
        #expect(child.status == .stopped)
        #expect(child.exitCode == 42)
        #expect(engine.children[child.id] === child)  // retained for 60 s by default
    }

    @Test func eventsForUnknownChildrenAreIgnored() async throws {
        let (engine, _, child) = try await engineWithChild()
        engine.childStatusChanged(UUID(), to: .running)
        engine.childExited(UUID(), code: 1)
        #expect(engine.children.keys == [child.id])
        #expect(child.statusChanged.count == 0)
    }

    @Test func eventsBeforeTheForkAnswerAreKept() async throws {
        let platform = ScriptedPlatform()
        let engine = ForkEngine(platform: platform)
        let (task, signal) = await startedFork(engine, platform, thread: 1)
        let forked = ForkedChild(id: UUID(), snapshot: UUID(), creationTime: 5)
        let events = try #require(platform.events)
        events.childStatusChanged(forked.id, to: .running)
        events.childStatusChanged(forked.id, to: .template)
        signal.answer(.success(.parent(forked)))
        _ = try await task.value
        let child = try #require(engine.children[forked.id])
        #expect(child.status == .template)
    }

    @Test func anExitBeforeTheForkAnswerIsKept() async throws {
        let scheduler = ManualScheduler()
        let platform = ScriptedPlatform()
        let engine = ForkEngine(platform: platform, configuration: .init(stoppedRetention: .seconds(5)), scheduler: scheduler)
        let (task, signal) = await startedFork(engine, platform, thread: 1)
        let forked = ForkedChild(id: UUID(), snapshot: UUID(), creationTime: 5)
        engine.childExited(forked.id, code: 3)
        signal.answer(.success(.parent(forked)))
        _ = try await task.value
        let child = try #require(engine.children[forked.id])
        #expect(child.exitCode == 3)
        try await child.waitUntilStopped()
        scheduler.advance(by: .seconds(5))
        #expect(engine.children[forked.id] == nil)
    }

    @Test(arguments: [Duration.seconds(60), .seconds(1), .milliseconds(5)])
    func aStoppedChildIsRemovedAfterRetention(retention: Duration) async throws {
        let scheduler = ManualScheduler()
        let (engine, _, child) = try await engineWithChild(.init(stoppedRetention: retention), scheduler: scheduler)
        engine.childStatusChanged(child.id, to: .running)
        #expect(scheduler.pending == 0)
        engine.childExited(child.id, code: 0)
        engine.childExited(child.id, code: 0)
        #expect(scheduler.pending == 1)
        scheduler.advance(by: retention - .nanoseconds(1))
        #expect(engine.children[child.id]?.status == .stopped)
        scheduler.advance(by: .nanoseconds(1))
        #expect(engine.children[child.id] == nil)
        #expect(engine.children.count == 0)
    }

    @Test func zeroRetentionRemovesAtOnce() async throws {
        let (engine, _, child) = try await engineWithChild(.init(stoppedRetention: .zero))
        engine.childExited(child.id, code: 0)
        #expect(engine.children[child.id] == nil)
    }

    @Test func retentionRunsOnTheRealClock() async throws {
        let (engine, _, child) = try await engineWithChild(.init(stoppedRetention: .milliseconds(20)))
        engine.childExited(child.id, code: 0)
        #expect(engine.children[child.id] != nil)
        try await until("removal") { engine.children[child.id] == nil }
    }

    @Test func removalKeepsTheOtherChildrenInOrder() async throws {
        let scheduler = ManualScheduler()
        let sim = SimPlatform(engineConfiguration: .init(stoppedRetention: .seconds(1)), scheduler: scheduler)
        let engine = sim.root.engine
        var ids: [UUID] = []
        for _ in 0..<5 { ids.append(try await engine.fork(thread: 1)) }
        try await sim.exit(ids[2], code: 0)
        scheduler.advance(by: .seconds(1))
        #expect(engine.children.keys == [ids[0], ids[1], ids[3], ids[4]])
    }

    // MARK: Becoming a child

    @Test func becomingAChildThroughTheForkAnswer() async throws {
        let (engine, platform, parentsChild) = try await engineWithChild()
        let waiter = Task { try await parentsChild.waitUntilStopped() }
        try await until("waiter") { parentsChild.waiterCount == 1 }
        let (fork, signal) = await startedFork(engine, platform, thread: 2)
        let queued = [try await queuedFork(engine, thread: 3), try await queuedFork(engine, thread: 4)]
        signal.answer(.success(.child))
        #expect(try await fork.value == .zero)
        for task in queued { #expect(await errno(of: task) == .ioError) }
        #expect(await errno(of: waiter) == .ioError)
        #expect(await engine.queuedForks == 0)
        #expect(engine.children.count == 0)
        for thread: Int32 in [1, 2, 3, 99] { #expect(engine.forkResult(thread: thread) == .zero) }
        #expect(platform.signals == 2)
        // The parent's child no longer exists here: its events are ignored.
        engine.childExited(parentsChild.id, code: 0)
        #expect(engine.children.count == 0)
        // The child forks on its own.
        let (next, nextSignal) = await startedFork(engine, platform, thread: 3)
        let grandchild = nextSignal.succeed()
        #expect(try await next.value == grandchild.id)
        #expect(engine.children.keys == [grandchild.id])
        #expect(engine.forkResult(thread: 3) == grandchild.id)
    }

    @Test func becomingAChildOutOfBand() async throws {
        let (engine, platform, parentsChild) = try await engineWithChild()
        let waiter = Task { try await parentsChild.waitUntilStopped() }
        try await until("waiter") { parentsChild.waiterCount == 1 }
        let queued = try await queuedForkBehindRunning(engine, platform)
        await platform.events?.becameChild()
        #expect(await errno(of: queued.waiting) == .ioError)
        #expect(await errno(of: waiter) == .ioError)
        #expect(engine.children.count == 0)
        #expect(engine.forkResult(thread: 1) == .zero)
        // The fork in flight belonged to the parent: its child is not this instance's.
        queued.signal.succeed()
        #expect(await errno(of: queued.running) == .ioError)
        #expect(engine.children.count == 0)
        #expect(engine.forkResult(thread: 1) == .zero)
        #expect(await !engine.isForking)
    }

    @Test func waitsOnAParentsChildAfterBecomingAChildFail() async throws {
        let (engine, _, parentsChild) = try await engineWithChild()
        await engine.becameChild()
        await #expect(throws: Errno.ioError) { try await parentsChild.waitUntilStopped() }
    }

    // MARK: Shutdown

    @Test func shutdownAnswersEveryBlockedCallerEIO() async throws {
        let (engine, platform, child) = try await engineWithChild()
        let waiter = Task { try await child.waitUntilStopped() }
        try await until("waiter") { child.waiterCount == 1 }
        let queued = try await queuedForkBehindRunning(engine, platform)
        await engine.shutdown()
        #expect(await engine.isShutDown)
        #expect(await errno(of: queued.running) == .ioError)
        #expect(await errno(of: queued.waiting) == .ioError)
        #expect(await errno(of: waiter) == .ioError)
        await #expect(throws: Errno.ioError) { try await engine.fork(thread: 1) }
        await #expect(throws: Errno.ioError) { try await child.waitUntilStopped() }
        // The platform's late answer is still recorded; nothing else starts.
        let late = queued.signal.succeed()
        try await until("late child") { engine.children[late.id] != nil }
        await #expect(throws: Errno.ioError) { try await engine.children[late.id]?.waitUntilStopped() }
        #expect(platform.signals == 2)
    }

    /// A running fork (thread 1) and one queued behind it (thread 2).
    func queuedForkBehindRunning(
        _ engine: ForkEngine,
        _ platform: ScriptedPlatform
    ) async throws -> (running: Task<UUID, any Error>, signal: ScriptedPlatform.Signal, waiting: Task<UUID, any Error>) {
        let (running, signal) = await startedFork(engine, platform, thread: 1)
        let waiting = try await queuedFork(engine, thread: 2)
        return (running, signal, waiting)
    }
}
