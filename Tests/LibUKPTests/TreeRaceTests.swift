import Foundation
import SystemPackage
import Testing
import VFSKit

@testable import LibUKP

/// SPEC.md rules whose outcome does not depend on timing, checked while the events race
/// (the model-based fuzzer runs the same rules one step at a time).
@Suite struct TreeRaceTests {
    /// A platform may report a new child's state before its fork answer is processed: the
    /// state is never lost, whichever side wins.
    @Test(arguments: [ChildEventKind.template, .exit])
    func childEventsRacingTheForkAnswerAreNeverLost(_ kind: ChildEventKind) async throws {
        for _ in 0..<200 {
            let scripted = try TreeForkTests.Scripted()
            let (write, signal) = await scripted.started(thread: 1)
            let child = ForkedChild(id: UUID(), snapshot: UUID(), creationTime: 1)
            let engine = scripted.engine
            await withTaskGroup(of: Void.self) { group in
                group.addTask { signal.answer(.success(.parent(child))) }
                group.addTask {
                    switch kind {
                    case .template: engine.childStatusChanged(child.id, to: .template)
                    case .exit: engine.childExited(child.id, code: 3)
                    }
                }
            }
            #expect(try await write.value == 2)
            let status = try await scripted.app.text("/vm/\(child.id.name)/status")
            switch kind {
            case .template:
                #expect(status == "Template\n")
            case .exit:
                #expect(status == "Stopped\n")
                #expect(try await scripted.app.text("/vm/\(child.id.name)/wait") == "3\n")
            }
        }
    }

    enum ChildEventKind: CaseIterable { case template, exit }

    /// Interrupts that race the queue: every write forks exactly once (and returns its byte
    /// count) or fails with `EINTR`/`EBUSY` having forked nothing.
    @Test func interruptsRacingTheQueueForkExactlyOnceOrNothing() async throws {
        let sim = SimPlatform(engineConfiguration: .init(forkQueueDepth: 8), forkLatency: .microseconds(200))
        let app = try App(sim.root.engine.tree)
        let writes = (Int32(1)...120).map { thread in (thread, app.startWrite("/fork", thread: thread)) }
        for (index, (_, task)) in writes.enumerated() where index % 3 != 0 {
            if index % 5 == 0 { await Task.yield() }
            task.cancel()
        }
        var succeeded: [Int32] = []
        for (thread, task) in writes {
            switch await errno(of: task) {
            case nil: succeeded.append(thread)
            case .interrupted?, .resourceBusy?: break
            case let other?: Issue.record("thread \(thread): unexpected \(other)")
            }
        }
        let children = try app.list("/vm").get()
        #expect(children.count == succeeded.count)
        #expect(sim.instances.count == succeeded.count + 1)
        var seen = Set<String>()
        for thread in succeeded {
            let line = try await app.text("/fork", thread: thread)
            #expect(seen.insert(line).inserted, "thread \(thread) reads a child another thread forked")
            #expect(children.contains(String(line.dropLast())))
        }
    }

    /// Waiters that arrive while the child exits are all released (none is left blocked).
    @Test func waitWritesRacingTheExitAreAllReleased() async throws {
        for _ in 0..<50 {
            let sim = SimPlatform()
            let app = try App(sim.root.engine.tree)
            #expect(await app.write("/fork") == .success(2))
            let child = try #require(app.list("/vm").get().first.flatMap(UUID.init(uuidString:)))
            let waiters = (0..<20).map { thread in
                Task { await app.write("/vm/\(child.name)/wait", thread: Int32(thread)) }
            }
            try await sim.exit(child, code: 0)
            for waiter in waiters { #expect(await waiter.value == .success(2)) }
        }
    }

    /// Becoming a child while forks and waits are arriving: every request ends (none hangs),
    /// each with an answer SPEC.md allows.
    @Test func becomingAChildWhileRequestsArriveAnswersEveryOne() async throws {
        for _ in 0..<30 {
            let sim = SimPlatform(forkLatency: .microseconds(100))
            let app = try App(sim.root.engine.tree)
            #expect(await app.write("/fork") == .success(2))
            let child = try #require(app.list("/vm").get().first)
            let forks = (Int32(10)...30).map { app.startWrite("/fork", thread: $0) }
            let waits = (Int32(40)...50).map { app.startWrite("/vm/\(child)/wait", thread: $0) }
            await sim.root.engine.becameChild()
            for task in forks {
                let answer = await errno(of: task)
                #expect(answer == nil || answer == .ioError || answer == .resourceBusy, "\(String(describing: answer))")
            }
            for task in waits {
                let answer = await errno(of: task)
                #expect(answer == .ioError || answer == .noSuchFileOrDirectory, "\(String(describing: answer))")
            }
            // Whatever forked after the change is this instance's own child.
            let mine = try app.list("/vm").get()
            #expect(!mine.contains(child))
            for name in mine { #expect(try await app.text("/vm/\(name)/status") == "Running\n") }
        }
    }
}
