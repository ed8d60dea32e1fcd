import Foundation
import SystemPackage
import Testing
import VFSKit

@testable import LibUKP

/// Becoming a child as an app sees it through the tree (in-process driver): the fork write
/// returns after the hooks, `/generation` is new and its pollers woke before they ran.
@Suite(.timeLimit(.minutes(1))) struct TreeRenewalTests {
    @Test func theForkWriteReturnsAfterTheHooksAndTheGenerationIsNewDuringThem() async throws {
        let system = RecordingSystem()
        let platform = ScriptedPlatform()
        platform.renewal = childRenewal()
        let engine = ForkEngine(platform: platform, renewer: .recording(system, CapturedLog()))
        let app = try App(engine.tree)
        let before = try await app.text("/generation")
        let watcher = try app.driver.open("/generation")
        defer { app.driver.close(watcher) }
        _ = await app.read(watcher)
        system.hold("10-first")
        let write = app.startWrite("/fork", thread: 5)
        await platform.nextSignal().answer(.success(.child))
        try await until("the first hook runs") { system.names.contains { $0.hasPrefix("hook 10-first") } }
        // While the hook runs: the generation is already new, its poller woke, the write waits.
        let during = try await app.text("/generation", thread: 6)
        #expect(during != before)
        #expect(app.poll(watcher) == .success([.in, .pri]))
        #expect(system.environments.first?["UKP_GENERATION"].map { $0 + "\n" } == during)
        #expect(await stillBlocked(write))
        system.release("10-first")
        #expect(try await write.value == 2)
        #expect(try await app.text("/fork", thread: 5) == UUID.zero.line)
        #expect(system.names.prefix(3) == ["addEntropy 32", "reseedCRNG", "setRealtime"])
    }

    @Test func aSimulatedChildRunsTheHooksWhileStartingButIsNeitherReseededNorStepped() async throws {
        let system = RecordingSystem()
        let renewer = InstanceRenewer(
            system: system, options: .init(reseed: false, stepClock: false, hookDirectory: "/h"),
            logger: CapturedLog().logger)
        let sim = SimPlatform(renewer: renewer)
        system.hold("20-second")
        let app = try App(sim.root.engine.tree)
        #expect(await app.write("/fork") == .success(2), "the parent's fork does not wait for the child's hooks")
        let child = try #require(UUID(uuidString: String(try await app.text("/fork").dropLast())))
        try await until("the child's hooks run") { system.names.contains { $0.hasPrefix("hook 20-second") } }
        #expect(try await app.text("/vm/\(child.name)/status") == "Starting\n", "Starting until its hooks are done")
        let instance = try #require(sim.instances[child])
        #expect(system.environments.last?["UKP_INSTANCE"] == child.name)
        #expect(system.environments.last?["UKP_GENERATION"] == instance.engine.generation.name)
        system.release("20-second")
        try await until("Running") { instance.status == .running }
        #expect(!system.names.contains("reseedCRNG"))
        #expect(!system.names.contains("setRealtime"))
    }
}
