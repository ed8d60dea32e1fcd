import Foundation
import SystemPackage
import Testing
import VFSKit

@testable import LibUKP

/// SPEC.md, `/fork`, through the in-process driver: writes, reads, the queue, interrupts, failures.
@Suite struct TreeForkTests {
    /// An engine on a scripted platform (the test answers each fork signal), seen through its tree.
    struct Scripted {
        let platform = ScriptedPlatform()
        let engine: ForkEngine
        let app: App

        init(_ configuration: ForkEngine.Configuration = .init(), scheduler: any Scheduler = TaskScheduler()) throws {
            engine = ForkEngine(platform: platform, configuration: configuration, scheduler: scheduler)
            app = try App(engine.tree)
        }

        /// A `/fork` write from `thread` whose fork signal has reached the platform.
        func started(thread: Int32) async -> (Task<Int, any Error>, ScriptedPlatform.Signal) {
            let task = app.startWrite("/fork", thread: thread)
            return (task, await platform.nextSignal())
        }

        /// A `/fork` write from `thread` queued behind the running fork.
        func queued(thread: Int32) async throws -> Task<Int, any Error> {
            let before = await engine.queuedForks
            let task = app.startWrite("/fork", thread: thread)
            try await until("fork of thread \(thread) queued") { await engine.queuedForks == before + 1 }
            return task
        }
    }

    // MARK: Writes

    @Test(arguments: [1, 2, 64, 4095, 4096])
    func aWriteForksExactlyOnceAndReturnsTheByteCount(bytes: Int) async throws {
        let sim = SimPlatform()
        let app = try App(sim.root.engine.tree)
        #expect(await app.write("/fork", bytes: bytes) == .success(bytes))
        let children = try app.list("/vm").get()
        #expect(children.count == 1)
        #expect(sim.instances.count == 2)
        #expect(try await app.text("/fork") == children[0] + "\n")
    }

    @Test(arguments: [4097, 4098, 8192, 65_536])
    func anOversizeWriteIsEINVALAndForksNothing(bytes: Int) async throws {
        let scripted = try Scripted()
        #expect(await scripted.app.write("/fork", bytes: bytes) == .failure(.invalidArgument))
        #expect(scripted.platform.signals == 0)
        #expect(scripted.app.list("/vm") == .success([]))
        #expect(await scripted.app.read("/fork") == .success(""))
    }

    /// "The bytes are ignored": whatever a write holds, it forks once (and waits once).
    @Test(arguments: [[UInt8(0)], [0xFF, 0xFE], Array("1\n2\n".utf8), Array("\u{7}".utf8), Array("é\n".utf8)])
    func theBytesWrittenAreIgnored(bytes: [UInt8]) async throws {
        let sim = SimPlatform()
        let app = try App(sim.root.engine.tree)
        let fork = try app.driver.open("/fork", flags: OpenFlags.writeOnly, as: .thread(1))
        defer { app.driver.close(fork) }
        let written = await app.write(fork, bytes)
        #expect(written == .success(bytes.count))
        let children = try app.list("/vm").get()
        #expect(children.count == 1)
        let wait = try app.driver.open("/vm/\(children[0])/wait", flags: OpenFlags.writeOnly, as: .thread(2))
        defer { app.driver.close(wait) }
        let waiter = Task.immediate { await app.write(wait, bytes) }
        try await sim.exit(try #require(UUID(uuidString: children[0])), code: 0)
        #expect(await waiter.value == .success(bytes.count))
    }

    @Test func anEmptyWriteForksNothing() async throws {
        let scripted = try Scripted()
        #expect(await scripted.app.write("/fork", bytes: 0) == .success(0))
        #expect(scripted.platform.signals == 0)
    }

    @Test func theWriteBlocksUntilTheForkIsDoneAndTheChildIsListedBeforeItReturns() async throws {
        let scripted = try Scripted()
        let (task, signal) = await scripted.started(thread: 7)
        #expect(await stillBlocked(task))
        #expect(scripted.app.list("/vm") == .success([]))
        let forked = signal.succeed()
        #expect(try await task.value == 2)
        #expect(scripted.app.list("/vm") == .success([forked.id.name]))
    }

    @Test func openingWithOTruncAndTruncatingToZeroAreAccepted() async throws {
        let sim = SimPlatform()
        let app = try App(sim.root.engine.tree)
        let handle = try app.driver.open("/fork", flags: OpenFlags.writeOnly | OpenFlags.truncate, as: .thread(1))
        app.driver.close(handle)
        #expect(sim.instances.count == 1)  // opening forks nothing
        let fork = try app.driver.stat("/fork")
        #expect(throws: Never.self) { try app.driver.dispatcher.setattr(fork.ino, size: 0, otherChanges: false) }
        #expect(sim.instances.count == 1)
        #expect(fork.size == 4096)
    }

    // MARK: Reads

    /// SPEC.md's read order, one row per rule.
    enum ReadCase: String, CaseIterable {
        case neverForkedIsEmpty, ownThreadSeesItsChild, otherThreadSeesTheLastCompleted
        case childInstanceReadsZero, childThatForkedSeesItsChild, forgottenThreadSeesTheLastCompleted
    }

    @Test(arguments: ReadCase.allCases)
    func readsFollowTheSpecOrder(_ row: ReadCase) async throws {
        let sim = SimPlatform(engineConfiguration: .init(threadResultLimit: 2))
        let root = try App(sim.root.engine.tree)
        switch row {
        case .neverForkedIsEmpty:
            for thread: Int32 in [1, 2, 999] { #expect(await root.read("/fork", thread: thread) == .success("")) }
        case .ownThreadSeesItsChild:
            #expect(await root.write("/fork", thread: 1) == .success(2))
            #expect(await root.write("/fork", thread: 2) == .success(2))
            let ids = try root.list("/vm").get()
            #expect(try await root.text("/fork", thread: 1) == ids[0] + "\n")
            #expect(try await root.text("/fork", thread: 2) == ids[1] + "\n")
        case .otherThreadSeesTheLastCompleted:
            #expect(await root.write("/fork", thread: 1) == .success(2))
            #expect(await root.write("/fork", thread: 2) == .success(2))
            let ids = try root.list("/vm").get()
            #expect(try await root.text("/fork", thread: 3) == ids[1] + "\n")
        case .childInstanceReadsZero:
            #expect(await root.write("/fork", thread: 1) == .success(2))
            let child = try #require(sim.instances[UUID(uuidString: root.list("/vm").get()[0])!])
            let app = try App(child.engine.tree)
            for thread: Int32 in [1, 2] { #expect(try await app.text("/fork", thread: thread) == UUID.zero.line) }
            #expect(app.list("/vm") == .success([]))
        case .childThatForkedSeesItsChild:
            #expect(await root.write("/fork", thread: 1) == .success(2))
            let child = try #require(sim.instances[UUID(uuidString: root.list("/vm").get()[0])!])
            let app = try App(child.engine.tree)
            #expect(await app.write("/fork", thread: 5) == .success(2))
            let grandchild = try app.list("/vm").get()
            #expect(grandchild.count == 1)
            #expect(try await app.text("/fork", thread: 5) == grandchild[0] + "\n")
            #expect(try await app.text("/fork", thread: 6) == grandchild[0] + "\n")
        case .forgottenThreadSeesTheLastCompleted:
            for thread: Int32 in [1, 2, 3] { #expect(await root.write("/fork", thread: thread) == .success(2)) }
            let ids = try root.list("/vm").get()
            #expect(try await root.text("/fork", thread: 1) == ids[2] + "\n")  // evicted (limit 2)
            #expect(try await root.text("/fork", thread: 2) == ids[1] + "\n")
            #expect(try await root.text("/fork", thread: 3) == ids[2] + "\n")
        }
    }

    @Test func readsWithAnyBufferSizeAndOffsetSeeOneValue() async throws {
        let sim = SimPlatform()
        let app = try App(sim.root.engine.tree)
        #expect(await app.write("/fork") == .success(2))
        let line = try await app.text("/fork")
        let handle = try app.driver.open("/fork", as: .thread(1))
        defer { app.driver.close(handle) }
        var assembled = ""
        var offset: Int64 = 0
        while true {
            let chunk = try await app.read(handle, offset: offset, size: 5).get()
            if chunk.isEmpty { break }
            assembled += chunk
            offset += Int64(chunk.utf8.count)
            if offset == 10 { #expect(await app.write("/fork") == .success(2)) }  // a new value meanwhile
        }
        #expect(assembled == line)
        #expect(await app.read(handle, offset: 1 << 40) == .success(""))
        #expect(try await app.read(handle, offset: 0).get() != line)  // offset 0 renders afresh
    }

    // MARK: The queue

    @Test(arguments: [0, 1, 3])
    func aFullQueueAnswersEBUSYAtOnce(depth: Int) async throws {
        let scripted = try Scripted(.init(forkQueueDepth: depth))
        let (running, signal) = await scripted.started(thread: 1)
        var queued: [Task<Int, any Error>] = []
        for thread in 0..<depth { queued.append(try await scripted.queued(thread: Int32(10 + thread))) }
        for thread: Int32 in [20, 21] {
            #expect(await scripted.app.write("/fork", thread: thread) == .failure(.resourceBusy))
        }
        var answered = [signal.succeed().id]
        #expect(try await running.value == 2)
        for task in queued {
            answered.append(await scripted.platform.nextSignal().succeed().id)
            #expect(try await task.value == 2)
        }
        #expect(scripted.platform.signals == depth + 1)
        #expect(scripted.app.list("/vm") == .success(answered.map(\.name)))
        // Queued requests started in arrival order: each thread reads its own child.
        let threads: [Int32] = [1] + (0..<depth).map { Int32(10 + $0) }
        for (index, thread) in threads.enumerated() {
            #expect(try await scripted.app.text("/fork", thread: thread) == answered[index].line)
        }
    }

    @Test func manyThreadsAtOnceForkExactlyOnceOrFailEBUSY() async throws {
        let sim = SimPlatform(engineConfiguration: .init(forkQueueDepth: 16), forkLatency: .milliseconds(1))
        let app = try App(sim.root.engine.tree)
        let outcomes = await withTaskGroup(of: (Int32, Result<Int, Errno>).self) { group in
            for thread in Int32(1)...200 { group.addTask { (thread, await app.write("/fork", thread: thread)) } }
            return await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        let succeeded = outcomes.filter { $0.value == .success(2) }.map(\.key)
        let busy = outcomes.filter { $0.value == .failure(.resourceBusy) }
        #expect(succeeded.count + busy.count == 200)
        #expect(!succeeded.isEmpty)
        let children = try app.list("/vm").get()
        #expect(children.count == succeeded.count)
        #expect(sim.instances.count == succeeded.count + 1)
        var seen = Set<String>()
        for thread in succeeded {
            let line = try await app.text("/fork", thread: thread)
            #expect(seen.insert(line).inserted)
            #expect(children.contains(String(line.dropLast())))
        }
    }

    @Test func aQueuedWriteCancelledIsEINTRAndForksNothing() async throws {
        let scripted = try Scripted()
        let (running, signal) = await scripted.started(thread: 1)
        let first = try await scripted.queued(thread: 2)
        let second = try await scripted.queued(thread: 3)
        first.cancel()
        #expect(await errno(of: first) == .interrupted)
        #expect(await scripted.engine.queuedForks == 1)
        let child = signal.succeed()
        #expect(try await running.value == 2)
        let next = await scripted.platform.nextSignal().succeed()
        #expect(try await second.value == 2)
        #expect(scripted.platform.signals == 2)
        #expect(scripted.app.list("/vm") == .success([child.id.name, next.id.name]))
        #expect(try await scripted.app.text("/fork", thread: 2) == next.id.line)  // thread 2 never forked
    }

    @Test func aStartedForkIsNotInterruptible() async throws {
        let scripted = try Scripted()
        let (running, signal) = await scripted.started(thread: 4)
        running.cancel()
        #expect(await stillBlocked(running))
        let child = signal.succeed()
        #expect(try await running.value == 2)
        #expect(scripted.app.list("/vm") == .success([child.id.name]))
        #expect(try await scripted.app.text("/fork", thread: 4) == child.id.line)
    }

    @Test(arguments: [ForkFailure.signalFailed, .rejected(.noMemory)])
    func aStartedForkThatFailsAfterAnInterruptAnswersItsOwnErrno(failure: ForkFailure) async throws {
        let scripted = try Scripted()
        let (running, signal) = await scripted.started(thread: 1)
        running.cancel()
        #expect(await stillBlocked(running))
        signal.fail(failure)
        let answer = await errno(of: running)
        #expect(answer != nil)
        #expect(answer == failure.errno)
        #expect(scripted.app.list("/vm") == .success([]))
    }

    // MARK: Failures

    @Test func anInjectedFailureIsEIOWithNoChildAndKeepsThePreviousResults() async throws {
        let sim = SimPlatform()
        let app = try App(sim.root.engine.tree)
        let control = try App(sim.controlTree)
        #expect(await app.write("/fork", thread: 1) == .success(2))
        let before = try await app.text("/fork", thread: 1)
        #expect(await control.write("/fail_next_forks", bytes: 0) == .success(0))
        #expect(try await writeText(control, "/fail_next_forks", "2\n") == 2)
        #expect(try await control.text("/fail_next_forks") == "2\n")
        for thread: Int32 in [1, 2] { #expect(await app.write("/fork", thread: thread) == .failure(.ioError)) }
        #expect(try await control.text("/fail_next_forks") == "0\n")
        #expect(try app.list("/vm").get().count == 1)
        #expect(sim.instances.count == 2)
        #expect(try await app.text("/fork", thread: 1) == before)
        #expect(try await app.text("/fork", thread: 2) == before)
        // The queue goes on.
        #expect(await app.write("/fork", thread: 2) == .success(2))
        #expect(try app.list("/vm").get().count == 2)
    }

    @Test(arguments: [Errno.noMemory, .resourceTemporarilyUnavailable, .noSuchFileOrDirectory])
    func aPlatformRejectionIsItsErrnoWithNoChild(rejection: Errno) async throws {
        let scripted = try Scripted()
        let (task, signal) = await scripted.started(thread: 1)
        signal.fail(.rejected(rejection))
        #expect(await errno(of: task) == rejection)
        #expect(scripted.app.list("/vm") == .success([]))
        #expect(await scripted.app.read("/fork") == .success(""))
    }

    @Test func aFailedForkLetsTheNextQueuedOneStart() async throws {
        let scripted = try Scripted()
        let (running, signal) = await scripted.started(thread: 1)
        let queued = try await scripted.queued(thread: 2)
        signal.fail(.signalFailed)
        #expect(await errno(of: running) == .ioError)
        let child = await scripted.platform.nextSignal().succeed()
        #expect(try await queued.value == 2)
        #expect(try await scripted.app.text("/fork", thread: 1) == child.id.line)  // thread 1's fork failed
    }

    func writeText(_ app: App, _ path: String, _ text: String) async throws -> Int {
        try await app.driver.writeText(path, text)
    }
}
