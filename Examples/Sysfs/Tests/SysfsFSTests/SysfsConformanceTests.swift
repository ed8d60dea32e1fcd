import Glibc
import SysfsFS
import Testing
import VFSConformance
import VFSKit

/// The whole sysfs tree through VFSConformance, with lines and channels exported and the
/// timer trigger on (so dynamic entries, links and conditional files exist), and without.
@Suite("sysfs conformance", .timeLimit(.minutes(2)))
struct SysfsConformanceTests {
    static func prepared() async throws -> SysfsMachine {
        let machine = SysfsMachine.demo()
        try machine.gpio.export(4)
        try machine.gpio.export(33)
        try machine.pwmChips[0].export(1)
        try machine.leds[0].setTrigger("timer")
        return machine
    }

    static let owner = Owner(uid: getuid(), gid: getgid())

    @Test(arguments: [false, true]) func inProcess(prepared: Bool) async throws {
        let machine = prepared ? try await Self.prepared() : SysfsMachine.demo()
        let driver = try InProcessDriver(machine.tree, uid: Self.owner.uid, gid: Self.owner.gid)
        let report = await ConformanceSuite(tree: machine.tree, owner: Self.owner).run(on: InProcessTarget(driver: driver))
        #expect(report.passed, "\(report)")
        #expect(report.checks > (prepared ? 400 : 200), "\(report.checks) checks")
        #expect(driver.leftovers.isEmpty, "\(driver.leftovers)")
    }

    @Test(.enabled(if: TemporaryMount.isAvailable, "/dev/fuse missing: the mounted conformance run is skipped"))
    func mounted() async throws {
        let machine = try await Self.prepared()
        let dispatcher = try Dispatcher(tree: machine.tree, uid: Self.owner.uid, gid: Self.owner.gid)
        try await TemporaryMount.with(dispatcher) { mountpoint in
            let report = await ConformanceSuite(tree: machine.tree, owner: Self.owner).run(on: MountedTarget(mountpoint: mountpoint))
            #expect(report.passed, "\(report)")
            #expect(report.checks > 400, "\(report.checks) checks")
        }
    }
}
