import Foundation
import SystemPackage
import Testing
import VFSKit

@testable import LibUKP

/// SPEC.md, `/generation`: this incarnation's UUID, new in every child, pollable.
@Suite struct TreeGenerationTests {
    @Test func generationIsALowercaseUUIDFixedForTheInstancesLife() async throws {
        let sim = SimPlatform()
        let app = try App(sim.root.engine.tree)
        let first = try await app.text("/generation")
        #expect(first == sim.root.engine.generation.line)
        #expect(first == first.lowercased())
        _ = try await fork(app)
        #expect(try await app.text("/generation") == first, "a fork leaves the parent's generation alone")
        #expect(try app.lookup("/generation").get().permissions == 0o444)
    }

    @Test func everyChildHasAGenerationOfItsOwn() async throws {
        let sim = SimPlatform()
        let app = try App(sim.root.engine.tree)
        let one = try await fork(app)
        let two = try await fork(app)
        let generations = try [sim.rootID, one, two].map { id in
            try #require(sim.instances[id]).engine.generation
        }
        #expect(Set(generations).count == 3)
    }

    @Test func becomingAChildChangesItAndWakesPollers() async throws {
        let platform = ScriptedPlatform()
        let engine = ForkEngine(platform: platform)
        let app = try App(engine.tree)
        let before = try await app.text("/generation")
        let handle = try app.driver.open("/generation")
        defer { app.driver.close(handle) }
        #expect(app.poll(handle) == .success([]), "not ready before a change")
        let woke = Task { try await app.driver.waitUntilReady(handle, for: [.pri]) }
        let write = app.startWrite("/fork")
        let signal = await platform.nextSignal()
        signal.answer(.success(.child))
        #expect(try await write.value == 2)
        #expect(try await woke.value == [.in, .pri])
        let after = try await app.read(handle).get()
        #expect(after != before)
        #expect(UUID(uuidString: String(after.dropLast())) != nil)
        #expect(app.poll(handle) == .success([]), "reading re-arms the poll")
    }

    /// Forks once through the tree and returns the new child's UUID.
    private func fork(_ app: App) async throws -> UUID {
        #expect(await app.write("/fork") == .success(2))
        return try #require(UUID(uuidString: String(try await app.text("/fork").dropLast())))
    }

    @Test func becomingAChildWithNoForkInFlightChangesIt() async throws {
        let engine = ForkEngine(platform: ScriptedPlatform())
        let before = engine.generation
        await engine.becameChild()
        #expect(engine.generation != before)
    }
}
