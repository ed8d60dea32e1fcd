import Foundation
import SystemPackage
import Testing

@testable import LibUKP

/// SPEC.md's sizes: 10,000 live children, 10,000 waiters on one child.
@Suite struct ScaleTests {
    @Test func tenThousandLiveChildren() async throws {
        let sim = SimPlatform()
        let engine = sim.root.engine
        var created: [UUID] = []
        created.reserveCapacity(10_000)
        for index in 0..<10_000 { created.append(try await engine.fork(thread: Int32(index % 64))) }
        #expect(engine.children.count == 10_000)
        #expect(engine.children.keys == created)
        #expect(engine.children.values.allSatisfy { $0.status == .running })
        #expect(sim.instances.count == 10_001)
        for thread in Int32(0)..<64 {
            let last = created.indices.last { $0 % 64 == Int(thread) }!
            #expect(engine.forkResult(thread: thread) == created[last])
        }
    }

    @Test func tenThousandWaitersReleasedByOneExit() async throws {
        let sim = SimPlatform()
        let id = try await sim.root.engine.fork(thread: 1)
        let child = try #require(sim.root.engine.children[id])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<10_000 { group.addTask { try await child.waitUntilStopped() } }
            try await until("10,000 waiters") { child.waiterCount == 10_000 }
            try await sim.exit(id, code: 9)
            try await group.waitForAll()
        }
        #expect(child.waiterCount == 0)
        #expect(child.exitCode == 9)
    }

    @Test func tenThousandWaitersAcrossInterruptsAndShutdown() async throws {
        let sim = SimPlatform()
        let id = try await sim.root.engine.fork(thread: 1)
        let child = try #require(sim.root.engine.children[id])
        let tasks = (0..<10_000).map { _ in Task { try await child.waitUntilStopped() } }
        try await until("10,000 waiters") { child.waiterCount == 10_000 }
        for task in tasks[..<5_000] { task.cancel() }
        try await until("5,000 left") { child.waiterCount == 5_000 }
        await sim.root.engine.shutdown()
        var interrupted = 0
        var failed = 0
        for task in tasks {
            switch await errno(of: task) {
            case .interrupted?: interrupted += 1
            case .ioError?: failed += 1
            default: break
            }
        }
        #expect(interrupted == 5_000)
        #expect(failed == 5_000)
    }
}
