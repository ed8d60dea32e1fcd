import Foundation
import Synchronization
import SystemPackage
import Testing

@testable import VFSKit

/// Point 1: static and dynamic declarations, modes, owners and `stat`.
@Suite("Declarations")
struct DeclarationTests {
    static let childA = UUID(uuidString: "6f1a2b3c-4d5e-4f60-8172-8394a5b6c7d8")!
    static let childB = UUID(uuidString: "00000000-0000-4000-8000-000000000001")!

    let children = DynamicEntries<UUID, String>()
    let driver: InProcessDriver

    init() throws {
        let children = children
        driver = try InProcessDriver(
            Tree("root") {
                File("hello", "a greeting").read("the greeting") { _ in "hello" }
                File("knob", "a writable number")
                    .read("the number") { _ in 7 }
                    .write(Int.self, "sets the number") { _, _ in }
                File("secret", permissions: 0o600, owner: Owner(uid: 1000, gid: 1000), "owned by 1000")
                    .read("a secret") { _ in "s" }
                File("trigger", "write-only").write(Ignored.self, "does something") { _, _ in }
                Directory("sub", permissions: 0o750, owner: Owner(uid: 7, gid: 8), "a directory") {
                    File("inner", "nested").read("x") { _ in "inner" }
                }
                Directory("vm", "children") {
                    ForEach(children, "one entry per child", entrySummary: "a child") { child in
                        File("name", "the child's name").read("its name") { _ in try child.value }
                        File("key", "the child's key").read("its key") { _ in child.key }
                    }
                }
            }, uid: 501, gid: 20)
    }

    struct StatCase: Sendable, CustomTestStringConvertible {
        let path: String
        let mode: UInt32
        let nlink: UInt32
        let size: Int64
        let uid: UInt32
        let gid: UInt32
        var testDescription: String { path }
    }

    @Test(arguments: [
        StatCase(path: "/", mode: 0o040555, nlink: 2, size: 0, uid: 501, gid: 20),
        StatCase(path: "/hello", mode: 0o100444, nlink: 1, size: 4096, uid: 501, gid: 20),
        StatCase(path: "/knob", mode: 0o100666, nlink: 1, size: 4096, uid: 501, gid: 20),
        StatCase(path: "/secret", mode: 0o100600, nlink: 1, size: 4096, uid: 1000, gid: 1000),
        StatCase(path: "/trigger", mode: 0o100222, nlink: 1, size: 4096, uid: 501, gid: 20),
        StatCase(path: "/sub", mode: 0o040750, nlink: 2, size: 0, uid: 7, gid: 8),
        StatCase(path: "/sub/inner", mode: 0o100444, nlink: 1, size: 4096, uid: 501, gid: 20),
        StatCase(path: "/vm", mode: 0o040555, nlink: 2, size: 0, uid: 501, gid: 20),
    ])
    func statAttributes(_ expected: StatCase) throws {
        let attributes = try driver.stat(expected.path)
        #expect(attributes.mode == expected.mode)
        #expect(attributes.isDirectory == (expected.mode & 0o170000 == 0o040000))
        #expect(attributes.permissions == UInt16(expected.mode & 0o777))
        #expect(attributes.nlink == expected.nlink)
        #expect(attributes.size == expected.size)
        #expect(attributes.uid == expected.uid)
        #expect(attributes.gid == expected.gid)
        #expect(try driver.dispatcher.getattr(attributes.ino) == attributes)
    }

    @Test func dynamicEntryAttributes() throws {
        children.insert("a", for: Self.childA)
        let directory = try driver.stat("/vm/\(Self.childA.pathName)")
        #expect(directory.mode == 0o040555)
        #expect(directory.nlink == 2)
        #expect(directory.timeout == 0, "dynamic entries must not be cached by the kernel")
        let file = try driver.stat("/vm/\(Self.childA.pathName)/name")
        #expect(file.mode == 0o100444)
        #expect(file.size == 4096)
        #expect(file.timeout > 0, "a declared file inside an entry goes only with the entry")
        #expect(try driver.stat("/hello").timeout > 0, "declared nodes never change")
    }

    @Test func inodeNumbersAreDistinctAndStable() throws {
        let paths = ["/", "/hello", "/knob", "/secret", "/trigger", "/sub", "/sub/inner", "/vm"]
        let inos = try paths.map { try driver.stat($0).ino }
        #expect(Set(inos).count == paths.count)
        #expect(inos[0] == Dispatcher.rootID)
        #expect(try paths.map { try driver.stat($0).ino } == inos)
    }

    @Test func dotAndDotDot() throws {
        let sub = try driver.stat("/sub")
        let dispatcher = driver.dispatcher
        #expect(try dispatcher.lookup(parent: sub.ino, name: ".").ino == sub.ino)
        #expect(try dispatcher.lookup(parent: sub.ino, name: "..").ino == Dispatcher.rootID)
        #expect(try dispatcher.lookup(parent: Dispatcher.rootID, name: "..").ino == Dispatcher.rootID)
    }

    @Test func staticListing() throws {
        #expect(try driver.list("/") == ["hello", "knob", "secret", "trigger", "sub", "vm"])
        #expect(try driver.list("/sub") == ["inner"])
        #expect(try driver.list("/vm") == [])
    }

    @Test func staticContent() async throws {
        #expect(try await driver.readText("/hello") == "hello\n")
        #expect(try await driver.readText("/sub/inner") == "inner\n")
    }

    @Test func listingFollowsInsertionOrder() throws {
        let keys = (0..<20).map { _ in UUID() }
        for key in keys.shuffled().sorted(by: { $0.uuidString > $1.uuidString }) {
            children.insert(key.pathName, for: key)
        }
        let inserted = keys.sorted(by: { $0.uuidString > $1.uuidString })
        #expect(try driver.list("/vm") == inserted.map(\.pathName))
        #expect(children.keys == inserted)

        // Re-inserting a key moves it to the end; removing one closes the gap.
        children.insert("again", for: inserted[0])
        children.remove(inserted[5])
        let expected = Array(inserted[1..<5]) + Array(inserted[6...]) + [inserted[0]]
        #expect(try driver.list("/vm") == expected.map(\.pathName))
        #expect(children.count == 19)
        #expect(children[inserted[0]] == "again")
        #expect(children[inserted[5]] == nil)
    }

    @Test func dynamicEntryContent() async throws {
        children.insert("alpha", for: Self.childA)
        children.insert("beta", for: Self.childB)
        #expect(try driver.list("/vm/\(Self.childA.pathName)") == ["name", "key"])
        #expect(try await driver.readText("/vm/\(Self.childA.pathName)/name") == "alpha\n")
        #expect(try await driver.readText("/vm/\(Self.childB.pathName)/name") == "beta\n")
        #expect(try await driver.readText("/vm/\(Self.childB.pathName)/key") == "00000000-0000-4000-8000-000000000001\n")
    }

    /// Names that do not name a live entry; none may reach a handler or crash.
    static let badNames: [String] = [
        DeclarationTests.childA.uuidString,  // uppercase: not canonical
        "{\(DeclarationTests.childA.pathName)}",
        DeclarationTests.childA.pathName + "\n",
        " " + DeclarationTests.childA.pathName,
        DeclarationTests.childA.pathName + "/name",
        DeclarationTests.childA.pathName + "/..",
        String(DeclarationTests.childA.pathName.dropLast()),
        DeclarationTests.childB.pathName,  // well formed, not live
        "not-a-uuid",
        "",
        "...",
        "/",
        "a\0b",
        String(repeating: "a", count: 10_000),
        String(repeating: "0", count: 10_000),
    ]

    struct Name: Sendable, CustomTestStringConvertible {
        let name: String
        var testDescription: String {
            name.count > 40 ? "\(String(reflecting: String(name.prefix(8))))… (\(name.count) characters)" : String(reflecting: name)
        }
    }

    @Test(arguments: badNames.map(Name.init))
    func malformedNamesAreNotFound(_ badName: Name) throws {
        let name = badName.name
        children.insert("alpha", for: Self.childA)
        let vm = try driver.stat("/vm")
        let outcome = Outcome { () throws(Errno) in try driver.dispatcher.lookup(parent: vm.ino, name: name).ino }
        #expect(outcome == .error(.noSuchFileOrDirectory) || outcome == .error(.invalidArgument))
        // Declared directories refuse them too.
        let root = Outcome { () throws(Errno) in try driver.dispatcher.lookup(parent: Dispatcher.rootID, name: name).ino }
        #expect(root == .error(.noSuchFileOrDirectory) || root == .error(.invalidArgument))
    }

    @Test func lookupOfAFileNameInsideAFileIsNotADirectory() throws {
        let hello = try driver.stat("/hello")
        #expect(throws: Errno.notDirectory) { try driver.dispatcher.lookup(parent: hello.ino, name: "x") }
        #expect(throws: Errno.noSuchFileOrDirectory) { try driver.stat("/nope") }
        #expect(throws: Errno.noSuchFileOrDirectory) { try driver.stat("/sub/nope") }
    }

    @Test func liveEntryIsFoundByItsCanonicalName() throws {
        children.insert("alpha", for: Self.childA)
        let vm = try driver.stat("/vm")
        let found = try driver.dispatcher.lookup(parent: vm.ino, name: Self.childA.pathName)
        #expect(found.isDirectory)
        #expect(try driver.dispatcher.lookup(parent: vm.ino, name: Self.childA.pathName).ino == found.ino)
    }
}

/// A key that counts how often it is compared and parsed, to show lookup does not scan.
struct CountedKey: PathKey {
    static let comparisons = Atomic(0)
    static let parses = Atomic(0)
    let number: Int

    init(_ number: Int) { self.number = number }
    var pathName: String { "k\(number)" }
    init?(pathName: String) {
        CountedKey.parses.add(1, ordering: .relaxed)
        guard pathName.hasPrefix("k"), let number = Int(pathName.dropFirst()) else { return nil }
        self.number = number
    }
    static var placeholder: String { "<k>" }
    static var example: CountedKey { CountedKey(0) }
    static func == (a: CountedKey, b: CountedKey) -> Bool {
        comparisons.add(1, ordering: .relaxed)
        return a.number == b.number
    }
    func hash(into hasher: inout Hasher) { hasher.combine(number) }
}

@Suite("Dynamic lookup is O(1)")
struct DynamicLookupTests {
    @Test func lookupDoesNotScan() throws {
        let entries = DynamicEntries<CountedKey, Int>()
        for number in 0..<10_000 { entries.insert(number, for: CountedKey(number)) }
        let driver = try InProcessDriver(
            Tree {
                Directory("d", "") {
                    ForEach(entries, "entries") { entry in
                        File("n", "").read("") { _ in try entry.value }
                    }
                }
            })
        let directory = try driver.stat("/d")
        CountedKey.comparisons.store(0, ordering: .relaxed)
        CountedKey.parses.store(0, ordering: .relaxed)
        for number in [0, 5_000, 9_999] {
            _ = try driver.dispatcher.lookup(parent: directory.ino, name: "k\(number)")
        }
        #expect(throws: Errno.noSuchFileOrDirectory) { try driver.dispatcher.lookup(parent: directory.ino, name: "k10000") }
        // A scan would compare thousands of keys; a hash lookup a handful.
        #expect(CountedKey.comparisons.load(ordering: .relaxed) < 40)
        #expect(CountedKey.parses.load(ordering: .relaxed) <= 8)
    }
}

/// Keys whose names are no valid file name are neither listed nor found.
@Suite("Dynamic names")
struct DynamicNameTests {
    @Test func keysThatAreNoFileNameAreInvisible() async throws {
        let entries = DynamicEntries<String, Int>()
        let driver = try InProcessDriver(
            Tree {
                Directory("d", "") {
                    File("declared", "").read("") { _ in 0 }
                    ForEach(entries, "named entries") { entry in
                        File("n", "").read("") { _ in try entry.value }
                    }
                }
            })
        let bad = ["a/b", "", ".", "..", "nul\0", String(repeating: "x", count: 256), "declared"]
        entries.insert(1, for: "first")
        for (index, name) in bad.enumerated() { entries.insert(100 + index, for: name) }
        entries.insert(2, for: "last")
        entries.insert(3, for: String(repeating: "y", count: 255))
        #expect(try driver.list("/d") == ["declared", "first", "last", String(repeating: "y", count: 255)])
        for batch in [1, 2, 3] {
            #expect(try driver.list("/d", batch: batch).count == 4, "filtering does not end a listing early")
        }
        let directory = try driver.stat("/d")
        for name in bad where name != "." && name != ".." {
            let outcome = Outcome { () throws(Errno) in try driver.dispatcher.lookup(parent: directory.ino, name: name).ino }
            if name == "declared" {
                #expect(outcome == .value(try driver.stat("/d/declared").ino), "the declared file wins")
            } else {
                #expect(outcome == .error(.noSuchFileOrDirectory), "\(String(reflecting: name.prefix(10)))")
            }
        }
        #expect(try await driver.readText("/d/first/n") == "1\n")
        #expect(try await driver.readText("/d/" + String(repeating: "y", count: 255) + "/n") == "3\n")
    }

    /// Only bad keys: a batch that lists nothing must not look like the end of the listing.
    @Test func aListingOfOnlyHiddenKeysThenAGoodOne() throws {
        let entries = DynamicEntries<String, Int>()
        let driver = try InProcessDriver(
            Tree {
                ForEach(entries, "") { _ in File("n", "").read("") { _ in 1 } }
            })
        for index in 0..<10 { entries.insert(index, for: "bad/\(index)") }
        entries.insert(10, for: "good")
        #expect(try driver.list("/", batch: 3) == ["good"])
    }
}

/// The result builder's control flow and embedding one tree in another.
@Suite("Builder")
struct BuilderTests {
    static func tree(verbose: Bool, names: [String]) -> Tree {
        let inner = Tree {
            File("inner", "").read("") { _ in "embedded" }
        }
        return Tree {
            if verbose {
                File("verbose", "").read("") { _ in 1 }
            }
            if names.isEmpty {
                File("none", "").read("") { _ in 0 }
            } else {
                File("some", "").read("") { _ in names.count }
            }
            for name in names {
                File(name, "").read("") { _ in name }
            }
            Directory("embedded", "") {
                inner.nodes
            }
        }
    }

    @Test(arguments: [(true, ["a", "b"]), (false, []), (false, ["c"])])
    func controlFlow(_ verbose: Bool, _ names: [String]) async throws {
        let driver = try InProcessDriver(Self.tree(verbose: verbose, names: names))
        let expected = (verbose ? ["verbose"] : []) + [names.isEmpty ? "none" : "some"] + names + ["embedded"]
        #expect(try driver.list("/") == expected)
        for name in names { #expect(try await driver.readText("/" + name) == name + "\n") }
        #expect(try await driver.readText("/embedded/inner") == "embedded\n")
    }
}
