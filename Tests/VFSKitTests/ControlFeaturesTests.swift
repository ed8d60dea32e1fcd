import SystemPackage
import Testing

@testable import VFSKit

/// Links, ForEach of files, name patterns, conditional nodes, chmod/chown opt-in and tree
/// profiles, on the in-process driver.
@Suite("Control features", .timeLimit(.minutes(1)))
struct ControlFeaturesTests {
    let features = ControlFeatures()

    func driver(_ profile: TreeProfile = .standard) throws -> InProcessDriver {
        try InProcessDriver(features.tree(profile: profile))
    }

    @Test func linksAreListedReadAndFollowed() async throws {
        let driver = try driver()
        let link = try driver.lstat("/to-mode")
        #expect(link.isSymlink && link.permissions == 0o777 && link.size == 4)
        #expect(try driver.readlink("/to-mode") == "mode")
        #expect(try driver.stat("/to-mode") == driver.stat("/mode"), "stat follows")
        #expect(try await driver.readText("/up") == "off\n", "open follows, through a directory and back")
        #expect(throws: Errno.noSuchFileOrDirectory) { try driver.readlink("/first") }
        features.counters.insert(Box(7), for: 3)
        #expect(try driver.readlink("/first") == "counters/c3", "computed from state")
        #expect(try driver.lstat("/first").size == 11)
        #expect(try driver.lstat("/first").attributeTimeout == 0, "its size follows state: never cached")
        #expect(try driver.lstat("/to-mode").attributeTimeout > 0)
        #expect(try await driver.readText("/first") == "7\n")
        let entries = try driver.dispatcher.readdir(Dispatcher.rootID, after: 0, limit: 100)
        #expect(entries.first { $0.name == "to-mode" }?.type == .symlink)
        #expect(entries.first { $0.name == "counters" }?.type == .directory)
        #expect(throws: Errno.tooManySymbolicLinkLevels) { try driver.dispatcher.open(link.ino, flags: 0, caller: .root) }
    }

    @Test func forEachYieldsFilesNamedByAPattern() async throws {
        let driver = try driver()
        features.counters.insert(Box(1), for: 1)
        features.counters.insert(Box(2), for: 10)
        #expect(try driver.list("/counters") == ["c1", "c10"])
        let counters = try driver.stat("/counters")
        #expect(try driver.dispatcher.readdir(counters.ino, after: 2, limit: 10).map(\.type) == [.file, .file])
        #expect(try await driver.readText("/counters/c10") == "2\n")
        #expect(try !driver.stat("/counters/c10").isDirectory)
        for name in ["1", "c", "c01", "cx", "d1", "c1x"] {
            #expect(throws: Errno.noSuchFileOrDirectory, "\(name)") { try driver.stat("/counters/\(name)") }
        }
        let handle = try driver.open("/counters/c1")
        features.counters.remove(1)
        await #expect(throws: Errno.staleNFSFileHandle) { try await driver.read(handle) }
        driver.close(handle)
    }

    @Test func aConditionalNodeComesAndGoes() async throws {
        let driver = try driver(.sysfs)
        #expect(throws: Errno.noSuchFileOrDirectory) { try driver.stat("/extra") }
        #expect(try !driver.list("/").contains("extra"))
        try await driver.writeText("/mode", "on")
        #expect(try driver.list("/") == ["mode", "extra", "shared", "counters", "to-mode", "up", "first"])
        let first = try driver.stat("/extra")
        let handle = try driver.open("/extra")
        #expect(try await driver.read(handle) == Array("42\n".utf8))
        try await driver.writeText("/mode", "off")
        #expect(throws: Errno.noSuchFileOrDirectory) { try driver.stat("/extra") }
        await #expect(throws: Errno.operationNotSupportedByDevice, "the sysfs profile's errno") { try await driver.read(handle) }
        #expect(throws: Errno.operationNotSupportedByDevice) { try driver.poll(handle) }
        #expect(throws: Errno.operationNotSupportedByDevice) { try driver.dispatcher.getattr(first.ino) }
        driver.close(handle)
        try await driver.writeText("/mode", "on")
        #expect(try driver.stat("/extra").ino != first.ino, "a new incarnation")
        #expect(driver.leftovers.isEmpty)
    }

    @Test func chmodAndChownWhereDeclared() throws {
        let driver = try driver()
        let user = Caller(uid: 1000, gid: 1000, threadID: 1)
        try driver.setattr("/shared", AttributeChange(permissions: 0o600))
        try driver.setattr("/shared", AttributeChange(uid: 1000, gid: 1000))
        #expect(try driver.stat("/shared").permissions == 0o600)
        try driver.setattr("/shared", AttributeChange(permissions: 0o640), as: user)
        #expect(try driver.stat("/shared").permissions == 0o640, "the owner may chmod")
        #expect(throws: Errno.notPermitted) { try driver.setattr("/shared", AttributeChange(gid: 5), as: user) }
        #expect(throws: Errno.notPermitted) { try driver.setattr("/shared", AttributeChange(otherChanges: true)) }
        #expect(throws: Errno.notPermitted) { try driver.setattr("/mode", AttributeChange(permissions: 0o600)) }
        #expect(throws: Errno.notPermitted) { try driver.dispatcher.setattr(driver.stat("/mode").ino, size: nil, otherChanges: true) }
    }

    @Test func profilesSetModesTextErrnosAndPollEvents() async throws {
        let standard = try driver(.standard)
        let sysfs = try driver(.sysfs)
        #expect(try standard.stat("/mode").permissions == 0o666)
        #expect(try sysfs.stat("/mode").permissions == 0o644)
        #expect(try standard.stat("/counters").permissions == 0o555)
        #expect(try sysfs.stat("/counters").permissions == 0o755)
        try await standard.writeText("/mode", "on \n\n")
        #expect(standard.dispatcher.profile.writtenText == .trimmingTrailingWhitespace)
        #expect(features.mode.value == "on")
        await #expect(throws: Errno.invalidArgument, "sysfs_streq: one newline") { try await sysfs.writeText("/mode", "on\n\n") }
        await #expect(throws: Errno.invalidArgument) { try await sysfs.writeText("/mode", "on\n ") }
        try await sysfs.writeText("/mode", "on \n")
        #expect(features.mode.value == "on ", "only the newline goes")
        let big = String(repeating: "1", count: 4097)
        await #expect(throws: Errno.invalidArgument) { try await standard.writeText("/mode", big) }
        await #expect(throws: Errno.argListTooLong) { try await sysfs.writeText("/mode", big) }

        let plain = try sysfs.open("/shared")
        let changing = try sysfs.open("/mode")
        defer {
            sysfs.close(plain)
            sysfs.close(changing)
        }
        let kernfs: PollEvents = [.in, .out, .rdnorm, .wrnorm]
        #expect(try sysfs.poll(plain) == kernfs)
        #expect(try sysfs.poll(changing) == kernfs)
        features.tickled.signal()
        #expect(try sysfs.poll(changing) == kernfs.union([.err, .pri]))
        let standardChanging = try standard.open("/mode")
        defer { standard.close(standardChanging) }
        features.tickled.signal()
        #expect(try standard.poll(standardChanging) == [.in, .pri])
    }

    @Test func declaredEventsOverrideTheProfile() throws {
        let signal = ChangeSignal()
        let driver = try InProcessDriver(
            Tree(profile: .sysfs) {
                File("f", "").read("") { _ in 1 }
                    .poll("", .changes { _ in signal }.reporting(ready: [.err], idle: [.out]))
            })
        let handle = try driver.open("/f")
        defer { driver.close(handle) }
        #expect(try driver.poll(handle) == [.out])
        signal.signal()
        #expect(try driver.poll(handle) == [.err])
    }

    @Test func perNodeOverrides() async throws {
        let text = Box("")
        let driver = try InProcessDriver(
            Tree(profile: .sysfs) {
                File("loose", "").write(String.self, "") { _, value in text.value = value }
                    .writtenText(.trimmingTrailingWhitespace).writeLimit(8)
                File("wide", permissions: 0o600, "").read("") { _ in 1 }
            })
        try await driver.writeText("/loose", "x \n\n")
        #expect(text.value == "x")
        await #expect(throws: Errno.argListTooLong) { try await driver.writeText("/loose", "123456789") }
        #expect(try driver.stat("/wide").permissions == 0o600)
    }
}
