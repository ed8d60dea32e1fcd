import LibUKP
import Testing
import VFSConformance
import VFSKit

/// The declaration-driven conformance suite on the ukp tree and the sim control tree,
/// in-process and through the kernel.
@Suite struct UKPConformanceTests {
    static let owner = Owner(uid: 0, gid: 0)

    /// A sim with two children, one of them stopped, so `/vm/<uuid>/` has live entries.
    static func populatedSim() async throws -> SimPlatform {
        let sim = SimPlatform()
        _ = try await sim.root.engine.fork(thread: 7)
        let second = try await sim.root.engine.fork(thread: 7)
        try await sim.exit(second, code: 3)
        return sim
    }

    @Test func ukpTreeInProcess() async throws {
        let sim = try await Self.populatedSim()
        let tree = sim.root.engine.tree
        let driver = try InProcessDriver(tree)
        let report = await ConformanceSuite(tree: tree, owner: Self.owner).run(on: InProcessTarget(driver: driver))
        #expect(report.passed, "\(report)")
        #expect(report.checks > 100)
        #expect(sim.root.engine.children.count == 2, "the suite must not fork")
        #expect(driver.leftovers.isEmpty, "\(driver.leftovers)")
    }

    @Test func simControlTreeInProcess() async throws {
        let sim = try await Self.populatedSim()
        let tree = sim.controlTree
        let driver = try InProcessDriver(tree)
        let report = await ConformanceSuite(tree: tree, owner: Self.owner).run(on: InProcessTarget(driver: driver))
        #expect(report.passed, "\(report)")
        #expect(report.checks > 100)
        #expect(driver.leftovers.isEmpty, "\(driver.leftovers)")
    }

    @Test(.enabled(if: TemporaryMount.isAvailable, "needs /dev/fuse")) func ukpTreeThroughTheKernel() async throws {
        let sim = try await Self.populatedSim()
        let tree = sim.root.engine.tree
        let checks = try await TemporaryMount.with(try Dispatcher(tree: tree)) { mountpoint in
            let report = await ConformanceSuite(tree: tree, owner: Self.owner)
                .run(on: MountedTarget(mountpoint: mountpoint))
            #expect(report.passed, "\(report)")
            return report.checks
        }
        #expect(try #require(checks, "the mount ran") > 100)
        #expect(sim.root.engine.children.count == 2, "the suite must not fork")
    }

    @Test(.enabled(if: TemporaryMount.isAvailable, "needs /dev/fuse")) func simControlTreeThroughTheKernel() async throws {
        let sim = try await Self.populatedSim()
        let tree = sim.controlTree
        let checks = try await TemporaryMount.with(try Dispatcher(tree: tree)) { mountpoint in
            let report = await ConformanceSuite(tree: tree, owner: Self.owner)
                .run(on: MountedTarget(mountpoint: mountpoint))
            #expect(report.passed, "\(report)")
            return report.checks
        }
        #expect(try #require(checks, "the mount ran") > 100)
    }
}
