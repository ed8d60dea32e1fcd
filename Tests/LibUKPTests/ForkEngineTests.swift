import Foundation
import SystemPackage
import Testing

@testable import LibUKP

/// Forking: results, the queue, interrupts and failures (SPEC.md "/fork").
@Suite struct ForkEngineTests {
    @Test func aNeverForkedInstanceReadsNothing() {
        let engine = ForkEngine(platform: ScriptedPlatform())
        #expect(engine.forkResult(thread: 1) == nil)
        #expect(engine.children.count == 0)
    }

    @Test func anInstanceCreatedByAForkReadsZero() {
        let engine = ForkEngine(platform: ScriptedPlatform(), createdByFork: true)
        #expect(engine.forkResult(thread: 1) == .zero)
        #expect(engine.children.count == 0)
    }

    @Test func theEngineAttachesToItsPlatform() {
        let platform = ScriptedPlatform()
        let engine = ForkEngine(platform: platform)
        #expect(platform.events === engine)
    }

    @Test func aForkInsertsTheChildBeforeReturning() async throws {
        let platform = ScriptedPlatform()
        let engine = ForkEngine(platform: platform)
        let (task, signal) = await startedFork(engine, platform, thread: 7)
        let forked = signal.succeed(creationTime: 1_234)
        let result = try await task.value
        #expect(result == forked.id)
        let child = try #require(engine.children[forked.id])
        #expect(child.snapshot == forked.snapshot)
        #expect(child.creationTime == 1_234)
        #expect(child.status == .starting)
        #expect(engine.forkResult(thread: 7) == forked.id)
        #expect(engine.forkResult(thread: 8) == forked.id)
    }

    @Test func eachThreadReadsItsOwnFork() async throws {
        let sim = SimPlatform()
        let engine = sim.root.engine
        let first = try await engine.fork(thread: 1)
        let second = try await engine.fork(thread: 2)
        #expect(first != second)
        #expect(engine.forkResult(thread: 1) == first)
        #expect(engine.forkResult(thread: 2) == second)
        #expect(engine.forkResult(thread: 3) == second)
        #expect(engine.children.keys == [first, second])
    }

    @Test func perThreadResultsAreBounded() async throws {
        let sim = SimPlatform(engineConfiguration: .init(threadResultLimit: 4))
        let engine = sim.root.engine
        var results: [Int32: UUID] = [:]
        for thread in Int32(1)...6 { results[thread] = try await engine.fork(thread: thread) }
        // Threads 1 and 2 were forgotten: they read the last completed fork.
        #expect(engine.forkResult(thread: 1) == results[6])
        #expect(engine.forkResult(thread: 2) == results[6])
        for thread in Int32(3)...6 { #expect(engine.forkResult(thread: thread) == results[thread]) }
    }

    @Test(arguments: [1, 8, 64])
    func concurrentForksFromManyTasksEachForkOnce(tasks: Int) async throws {
        let sim = SimPlatform(engineConfiguration: .init(forkQueueDepth: tasks))
        let engine = sim.root.engine
        let results = try await withThrowingTaskGroup(of: (Int32, UUID).self) { group in
            for thread in 0..<Int32(tasks) {
                group.addTask { (thread, try await engine.fork(thread: thread)) }
            }
            return try await group.reduce(into: [Int32: UUID]()) { $0[$1.0] = $1.1 }
        }
        #expect(Set(results.values).count == tasks)
        #expect(engine.children.count == tasks)
        #expect(Set(engine.children.keys) == Set(results.values))
        for (thread, child) in results { #expect(engine.forkResult(thread: thread) == child) }
        #expect(sim.instances.count == tasks + 1)
    }

    @Test(arguments: [0, 1, 4, 32])
    func aFullQueueAnswersEBUSY(depth: Int) async throws {
        let platform = ScriptedPlatform()
        let engine = ForkEngine(platform: platform, configuration: .init(forkQueueDepth: depth))
        let (first, signal) = await startedFork(engine, platform, thread: 0)
        var queued: [Task<UUID, any Error>] = []
        for thread in 1...Int32(depth + 1) where thread <= depth {
            queued.append(try await queuedFork(engine, thread: thread))
        }
        await #expect(throws: Errno.resourceBusy) { try await engine.fork(thread: 99) }
        signal.succeed()
        _ = try await first.value
        for _ in queued { await platform.nextSignal().succeed() }
        for task in queued { _ = try await task.value }
        #expect(platform.signals == depth + 1)
        #expect(engine.children.count == depth + 1)
    }

    /// Many tasks against a small queue: each request forks exactly once or fails `EBUSY`,
    /// and the children are exactly the successful forks.
    @Test(arguments: [(depth: 0, tasks: 50), (depth: 3, tasks: 100), (depth: 32, tasks: 200)])
    func overflowUnderLoad(depth: Int, tasks: Int) async throws {
        let sim = SimPlatform(
            engineConfiguration: .init(forkQueueDepth: depth),
            forkLatency: .microseconds(200)
        )
        let engine = sim.root.engine
        let outcomes = await withTaskGroup(of: Result<UUID, Errno>.self) { group in
            for thread in 0..<Int32(tasks) {
                group.addTask {
                    do throws(Errno) { return .success(try await engine.fork(thread: thread)) } catch { return .failure(error) }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        let successes = outcomes.compactMap { try? $0.get() }
        let failures = outcomes.compactMap { if case .failure(let e) = $0 { e } else { nil } }
        #expect(successes.count + failures.count == tasks)
        #expect(failures.allSatisfy { $0 == .resourceBusy })
        #expect(!successes.isEmpty)
        #expect(Set(successes).count == successes.count)
        #expect(engine.children.count == successes.count)
        #expect(Set(engine.children.keys) == Set(successes))
        #expect(sim.instances.count == successes.count + 1)
    }

    /// Interrupts under load: each request forks exactly once, fails `EBUSY`, or leaves
    /// with `EINTR`; the children are exactly the successful forks.
    @Test(arguments: [1, 2, 3])
    func interruptsUnderLoad(seed: UInt64) async throws {
        var random = SplitMix(seed: seed)
        let sim = SimPlatform(engineConfiguration: .init(forkQueueDepth: 8), forkLatency: .microseconds(100))
        let engine = sim.root.engine
        let tasks = (0..<Int32(300)).map { thread in
            Task { try await engine.fork(thread: thread) }
        }
        for task in tasks where random.next() % 3 == 0 { task.cancel() }
        var successes: [UUID] = []
        var errors: [Errno: Int] = [:]
        for task in tasks {
            switch await task.result {
            case .success(let child): successes.append(child)
            case .failure(let error): errors[error as? Errno ?? .badMessage, default: 0] += 1
            }
        }
        #expect(Set(errors.keys).isSubset(of: [.resourceBusy, .interrupted]))
        #expect(successes.count + errors.values.reduce(0, +) == tasks.count)
        #expect(Set(successes).count == successes.count)
        #expect(Set(engine.children.keys) == Set(successes))
        #expect(sim.instances.count == successes.count + 1)
        #expect(await engine.queuedForks == 0)
        #expect(await !engine.isForking)
    }

    @Test func resultsAreReadableWhileAForkRuns() async throws {
        let platform = ScriptedPlatform()
        let engine = ForkEngine(platform: platform)
        let (first, signal) = await startedFork(engine, platform, thread: 1)
        let child = signal.succeed()
        _ = try await first.value
        let (second, secondSignal) = await startedFork(engine, platform, thread: 1)
        #expect(engine.forkResult(thread: 1) == child.id)
        #expect(engine.children.keys == [child.id])
        secondSignal.fail(.rejected(.noMemory))
        #expect(await errno(of: second) == .noMemory)
        #expect(engine.forkResult(thread: 1) == child.id)
    }

    @Test func queuedForksStartInArrivalOrder() async throws {
        let platform = ScriptedPlatform()
        let engine = ForkEngine(platform: platform)
        let (first, signal) = await startedFork(engine, platform, thread: 0)
        var queued: [Task<UUID, any Error>] = []
        for thread in Int32(1)...5 { queued.append(try await queuedFork(engine, thread: thread)) }
        var created = [signal.succeed().id]
        _ = try await first.value
        for _ in queued { created.append(await platform.nextSignal().succeed().id) }
        for (index, task) in queued.enumerated() {
            #expect(try await task.value == created[index + 1])
            #expect(engine.forkResult(thread: Int32(index + 1)) == created[index + 1])
        }
        #expect(engine.children.keys == created)
    }

    @Test func anInterruptedQueuedForkLeavesWithEINTRAndForksNothing() async throws {
        let platform = ScriptedPlatform()
        let engine = ForkEngine(platform: platform)
        let (first, signal) = await startedFork(engine, platform, thread: 1)
        let interrupted = try await queuedFork(engine, thread: 2)
        let behind = try await queuedFork(engine, thread: 3)
        interrupted.cancel()
        #expect(await errno(of: interrupted) == .interrupted)
        #expect(await engine.queuedForks == 1)
        let a = signal.succeed()
        _ = try await first.value
        let b = await platform.nextSignal().succeed()
        #expect(try await behind.value == b.id)
        #expect(platform.signals == 2)
        #expect(engine.children.keys == [a.id, b.id])
        #expect(engine.forkResult(thread: 2) == b.id)  // thread 2 never forked
    }

    @Test func anAlreadyInterruptedCallerForksNothing() async throws {
        let platform = ScriptedPlatform()
        let engine = ForkEngine(platform: platform)
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await engine.fork(thread: 1)
        }
        #expect(await errno(of: task) == .interrupted)
        #expect(platform.signals == 0)
        #expect(await !engine.isForking)
    }

    @Test func aStartedForkIsNotInterruptible() async throws {
        let platform = ScriptedPlatform()
        let engine = ForkEngine(platform: platform)
        let (task, signal) = await startedFork(engine, platform, thread: 1)
        task.cancel()
        try await Task.sleep(for: .milliseconds(10))
        #expect(await engine.isForking)
        let child = signal.succeed()
        #expect(try await task.value == child.id)
        #expect(engine.children[child.id] != nil)
        #expect(engine.forkResult(thread: 1) == child.id)
    }

    @Test func aStartedForkCompletesEvenInSlowPlatforms() async throws {
        let sim = SimPlatform(forkLatency: .milliseconds(30))
        let engine = sim.root.engine
        let task = Task { try await engine.fork(thread: 1) }
        try await until("fork started") { await engine.isForking }
        task.cancel()
        let child = try await task.value
        #expect(engine.children[child] != nil)
    }

    @Test func injectedSignalFailuresAnswerEIOAndLeaveResults() async throws {
        let sim = SimPlatform()
        let engine = sim.root.engine
        let first = try await engine.fork(thread: 1)
        sim.failNextForks = 2
        await #expect(throws: Errno.ioError) { try await engine.fork(thread: 1) }
        #expect(sim.failNextForks == 1)
        await #expect(throws: Errno.ioError) { try await engine.fork(thread: 2) }
        #expect(sim.failNextForks == 0)
        #expect(engine.children.keys == [first])
        #expect(sim.instances.count == 2)
        #expect(engine.forkResult(thread: 1) == first)
        #expect(engine.forkResult(thread: 2) == first)
        let third = try await engine.fork(thread: 2)
        #expect(engine.children.keys == [first, third])
    }

    @Test(arguments: [Errno.noMemory, .resourceTemporarilyUnavailable, .noSpace, .notSupported])
    func aPlatformRejectionAnswersItsErrno(errno: Errno) async throws {
        let platform = ScriptedPlatform()
        let engine = ForkEngine(platform: platform)
        let (task, signal) = await startedFork(engine, platform, thread: 1)
        signal.fail(.rejected(errno))
        #expect(await LibUKPTests.errno(of: task) == errno)
        #expect(engine.children.count == 0)
        #expect(engine.forkResult(thread: 1) == nil)
    }

    @Test func aFailedForkLetsTheNextQueuedForkRun() async throws {
        let platform = ScriptedPlatform()
        let engine = ForkEngine(platform: platform)
        let (first, signal) = await startedFork(engine, platform, thread: 1)
        let second = try await queuedFork(engine, thread: 2)
        signal.fail(.signalFailed)
        #expect(await errno(of: first) == .ioError)
        let child = await platform.nextSignal().succeed()
        #expect(try await second.value == child.id)
    }

    @Test func childEngineForksIntoItsOwnRegistry() async throws {
        let sim = SimPlatform()
        let root = sim.root.engine
        let childID = try await root.fork(thread: 1)
        let child = try #require(sim.instances[childID])
        #expect(child.parent === sim.root)
        #expect(child.engine.forkResult(thread: 1) == .zero)
        #expect(child.engine.children.count == 0)
        let grandchildID = try await child.engine.fork(thread: 1)
        #expect(child.engine.children.keys == [grandchildID])
        #expect(root.children.keys == [childID])
        #expect(child.engine.forkResult(thread: 1) == grandchildID)
        #expect(child.engine.forkResult(thread: 2) == grandchildID)
        #expect(root.forkResult(thread: 1) == childID)
        let grandchild = try #require(sim.instances[grandchildID])
        #expect(grandchild.parent === child)
        #expect(grandchild.engine.forkResult(thread: 1) == .zero)
        #expect(sim.instances.keys == [sim.rootID, childID, grandchildID])
    }
}
