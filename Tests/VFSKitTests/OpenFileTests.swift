import Synchronization
import SystemPackage
import Testing

@testable import VFSKit

/// Point 4: open-file semantics (SPEC.md, "All file contents").
@Suite("Open-file semantics")
struct OpenFileTests {
    let value = Box("abcdef")
    let renders = Counter()
    let writes = Counter()
    let driver: InProcessDriver

    init() throws {
        let value = value
        let renders = renders
        let writes = writes
        driver = try InProcessDriver(
            Tree {
                File("value", "").read("") { _ in
                    renders.increment()
                    return value.value
                }
                File("knob", "")
                    .read("") { _ in value.value }
                    .write(Ignored.self, "") { _, _ in writes.increment() }
                File("small", "").write(Ignored.self, "") { _, _ in writes.increment() }.writeLimit(10)
                File("private", permissions: 0o640, owner: Owner(uid: 1000, gid: 100), "")
                    .read("") { _ in "p" }
                    .write(Ignored.self, "") { _, _ in writes.increment() }
                Directory("dir", "") {}
            })
    }

    @Test func offsetZeroRendersAfresh() async throws {
        let handle = try driver.open("/value")
        #expect(try await driver.read(handle).text == "abcdef\n")
        value.value = "changed"
        #expect(try await driver.read(handle).text == "changed\n")
        #expect(renders.count == 2)
    }

    @Test func laterOffsetsContinueTheRendering() async throws {
        let handle = try driver.open("/value")
        let other = try driver.open("/value")
        #expect(try await driver.read(handle, size: 3, offset: 0).text == "abc")
        #expect(try await driver.read(other, size: 2, offset: 0).text == "ab")
        value.value = "XYZUVWRST"
        #expect(try await driver.read(handle, size: 3, offset: 3).text == "def", "no tearing")
        #expect(try await driver.read(handle, size: 3, offset: 6).text == "\n")
        #expect(try await driver.read(handle, size: 3, offset: 7) == [])
        #expect(try await driver.read(other, size: 100, offset: 2).text == "cdef\n", "each open keeps its own rendering")
        #expect(renders.count == 2)
        #expect(try await driver.read(handle, size: 100, offset: 0).text == "XYZUVWRST\n")
    }

    @Test func aFirstReadAtALaterOffsetRenders() async throws {
        let handle = try driver.open("/value")
        #expect(try await driver.read(handle, size: 10, offset: 2).text == "cdef\n")
        #expect(renders.count == 1)
    }

    @Test(arguments: [7, 8, 100, 4096, Int64(Int32.max), Int64.max])
    func readsPastTheEndAreEmpty(_ offset: Int64) async throws {
        let handle = try driver.open("/value")
        #expect(try await driver.read(handle).text == "abcdef\n")
        #expect(try await driver.read(handle, size: 4096, offset: offset) == [])
        #expect(try await driver.read(handle, size: Int.max, offset: 6).text == "\n")
    }

    @Test func negativeOffsetOrSizeIsInvalid() async throws {
        let handle = try driver.open("/value")
        await #expect(throws: Errno.invalidArgument) { try await driver.read(handle, offset: -1) }
        await #expect(throws: Errno.invalidArgument) { try await driver.read(handle, size: -1) }
    }

    @Test(arguments: [1, 2, 3, 6, 7, 8, 4096, 1 << 20])
    func anyBufferSizeSeesTheWholeValue(_ size: Int) async throws {
        value.value = "a value of some length"
        let handle = try driver.open("/value")
        var content: [UInt8] = []
        var reads = 0
        while true {
            let chunk = try await driver.read(handle, size: size, offset: Int64(content.count))
            reads += 1
            if chunk.isEmpty { break }
            #expect(chunk.count <= size)
            content += chunk
            if reads == 1 { value.value = "something else entirely" }
        }
        #expect(content.text == "a value of some length\n")
        #expect(renders.count == 1)
    }

    @Test func zeroSizeRead() async throws {
        let handle = try driver.open("/value")
        #expect(try await driver.read(handle, size: 0) == [])
    }

    @Test func truncatingOpenIsAcceptedOnWritableFiles() async throws {
        let handle = try driver.open("/knob", flags: OpenFlags.writeOnly | OpenFlags.truncate)
        #expect(writes.count == 0, "O_TRUNC does nothing")
        #expect(try await driver.write(handle, bytes("1\n")) == 2)
        #expect(writes.count == 1)
        #expect(try await driver.writeText("/knob", "x") == 1)
        #expect(writes.count == 2)
        #expect(try await driver.readText("/knob") == "abcdef\n")
    }

    struct SetattrCase: Sendable, CustomTestStringConvertible {
        let path: String
        let size: Int64?
        let otherChanges: Bool
        let accepted: Bool
        var testDescription: String { "\(path) size \(size.map(String.init) ?? "-") other \(otherChanges)" }
    }

    @Test(arguments: [
        SetattrCase(path: "/knob", size: 0, otherChanges: false, accepted: true),
        SetattrCase(path: "/small", size: 0, otherChanges: false, accepted: true),
        SetattrCase(path: "/knob", size: nil, otherChanges: false, accepted: true),
        SetattrCase(path: "/knob", size: 1, otherChanges: false, accepted: false),
        SetattrCase(path: "/knob", size: 4096, otherChanges: false, accepted: false),
        SetattrCase(path: "/knob", size: 0, otherChanges: true, accepted: false),
        SetattrCase(path: "/knob", size: nil, otherChanges: true, accepted: false),
        SetattrCase(path: "/value", size: 0, otherChanges: false, accepted: false),
        SetattrCase(path: "/value", size: nil, otherChanges: true, accepted: false),
        SetattrCase(path: "/dir", size: 0, otherChanges: false, accepted: false),
        SetattrCase(path: "/dir", size: nil, otherChanges: true, accepted: false),
        SetattrCase(path: "/", size: nil, otherChanges: true, accepted: false),
    ])
    func setattr(_ testCase: SetattrCase) throws {
        let attributes = try driver.stat(testCase.path)
        let outcome = Outcome { () throws(Errno) in
            try driver.dispatcher.setattr(attributes.ino, size: testCase.size, otherChanges: testCase.otherChanges)
        }
        #expect(outcome == (testCase.accepted ? .value(attributes) : .error(.notPermitted)))
        #expect(try driver.stat(testCase.path) == attributes, "nothing changes")
        #expect(writes.count == 0)
    }

    /// What the FUSE driver's create, mkdir, mknod, unlink, rmdir, rename, link and symlink answer.
    @Test func namespaceChangesArePermissionErrors() throws {
        let root = Dispatcher.rootID
        let knob = try driver.stat("/knob").ino
        let changes: [NamespaceChange] = [
            .create(in: root, name: "new"), .makeDirectory(in: root, name: "new"), .remove(from: root, name: "knob"),
            .removeDirectory(from: root, name: "knob"), .rename(from: root, name: "knob", to: root, newName: "other"),
            .link(knob, into: root, name: "again"), .symlink(in: root, name: "link", target: "knob"),
        ]
        for change in changes {
            #expect(driver.dispatcher.refuse(change) == .notPermitted, "\(change)")
        }
        let unknown: UInt64 = 1 << 40
        #expect(driver.dispatcher.refuse(.create(in: unknown, name: "new")) == .staleNFSFileHandle)
        #expect(driver.dispatcher.refuse(.rename(from: root, name: "knob", to: unknown, newName: "x")) == .staleNFSFileHandle)
        #expect(try driver.list("/").contains("knob"), "nothing changed")
    }

    @Test(arguments: [1, 100, 4095, 4096])
    func writesUpToTheDefaultLimitAreAccepted(_ size: Int) async throws {
        let handle = try driver.open("/knob", flags: OpenFlags.writeOnly)
        #expect(try await driver.write(handle, Array(repeating: UInt8(ascii: "x"), count: size)) == size)
        #expect(writes.count == 1)
    }

    @Test(arguments: [4097, 8192, 1 << 20])
    func writesOverTheDefaultLimitAreInvalid(_ size: Int) async throws {
        let handle = try driver.open("/knob", flags: OpenFlags.writeOnly)
        await #expect(throws: Errno.invalidArgument) {
            try await driver.write(handle, Array(repeating: UInt8(ascii: "x"), count: size))
        }
        #expect(writes.count == 0, "the handler is not called")
    }

    @Test(arguments: [(10, true), (11, false), (4096, false)])
    func customWriteLimit(_ size: Int, _ accepted: Bool) async throws {
        let handle = try driver.open("/small", flags: OpenFlags.writeOnly)
        let outcome = await Outcome { () async throws(Errno) in
            try await driver.write(handle, Array(repeating: UInt8(ascii: "y"), count: size))
        }
        #expect(outcome == (accepted ? .value(size) : .error(.invalidArgument)))
        #expect(writes.count == (accepted ? 1 : 0))
    }

    @Test func binaryOverTheLimitIsInvalidWithoutParsing() async throws {
        let handle = try driver.open("/knob", flags: OpenFlags.writeOnly)
        await #expect(throws: Errno.invalidArgument) { try await driver.write(handle, Array(repeating: 0, count: 5000)) }
        #expect(writes.count == 0)
    }

    @Test func zeroByteWriteDoesNothing() async throws {
        let handle = try driver.open("/knob", flags: OpenFlags.writeOnly)
        #expect(try await driver.write(handle, []) == 0)
        #expect(writes.count == 0)
    }

    @Test(arguments: [OpenFlags.writeOnly, OpenFlags.readWrite, OpenFlags.writeOnly | OpenFlags.truncate])
    func readOnlyFilesRefuseWritingEvenForRoot(_ flags: Int32) throws {
        #expect(throws: Errno.permissionDenied) { try driver.open("/value", flags: flags, as: .root) }
    }

    @Test(arguments: [OpenFlags.readOnly, OpenFlags.readWrite])
    func writeOnlyFilesRefuseReading(_ flags: Int32) throws {
        #expect(throws: Errno.permissionDenied) { try driver.open("/small", flags: flags, as: .root) }
    }

    @Test func directoriesCannotBeOpenedAsFiles() throws {
        #expect(throws: Errno.isDirectory) { try driver.open("/dir") }
        #expect(throws: Errno.isDirectory) { try driver.open("/") }
    }

    @Test func writeThroughAReadOnlyOpenIsBadFileDescriptor() async throws {
        let handle = try driver.open("/knob", flags: OpenFlags.readOnly)
        await #expect(throws: Errno.badFileDescriptor) { try await driver.write(handle, bytes("1")) }
        let writeOnly = try driver.open("/knob", flags: OpenFlags.writeOnly)
        await #expect(throws: Errno.badFileDescriptor) { try await driver.read(writeOnly) }
        #expect(writes.count == 0)
    }

    struct AccessCase: Sendable, CustomTestStringConvertible {
        let path: String
        let caller: Caller
        let flags: Int32
        let allowed: Bool
        var testDescription: String { "\(path) uid \(caller.uid) gid \(caller.gid) flags \(String(flags, radix: 8))" }
    }

    // /knob 0666 root:root; /value 0444 root:root; /private 0640 1000:100.
    @Test(arguments: [
        AccessCase(path: "/knob", caller: .user(1000), flags: OpenFlags.readWrite, allowed: true),
        AccessCase(path: "/value", caller: .user(1000), flags: OpenFlags.readOnly, allowed: true),
        AccessCase(path: "/value", caller: .user(1000), flags: OpenFlags.writeOnly, allowed: false),
        AccessCase(path: "/private", caller: .user(1000, gid: 5), flags: OpenFlags.readWrite, allowed: true),
        AccessCase(path: "/private", caller: .user(2000, gid: 100), flags: OpenFlags.readOnly, allowed: true),
        AccessCase(path: "/private", caller: .user(2000, gid: 100), flags: OpenFlags.writeOnly, allowed: false),
        AccessCase(path: "/private", caller: .user(2000, gid: 200), flags: OpenFlags.readOnly, allowed: false),
        AccessCase(path: "/private", caller: .root, flags: OpenFlags.readWrite, allowed: true),
    ])
    func modeBitsApplyToOtherUsers(_ testCase: AccessCase) throws {
        let outcome = Outcome { () throws(Errno) in
            try driver.open(testCase.path, flags: testCase.flags, as: testCase.caller).file.flags
        }
        #expect(outcome == (testCase.allowed ? .value(testCase.flags) : .error(.permissionDenied)))
    }

    @Test func directoriesAreCheckedForListing() throws {
        let ownerOnly = try InProcessDriver(
            Tree {
                Directory("mine", permissions: 0o700, owner: Owner(uid: 1000, gid: 1000), "") {
                    File("f", "").read("") { _ in 1 }
                }
            })
        let directory = try ownerOnly.stat("/mine")
        #expect(throws: Errno.permissionDenied) { try ownerOnly.dispatcher.opendir(directory.ino, caller: .user(2000)) }
        try ownerOnly.dispatcher.opendir(directory.ino, caller: .user(1000))
        #expect(throws: Errno.notDirectory) { try ownerOnly.dispatcher.opendir(try ownerOnly.stat("/mine/f").ino, caller: .root) }
    }
}
