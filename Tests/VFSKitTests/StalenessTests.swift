import Foundation
import Synchronization
import SystemPackage
import Testing

@testable import VFSKit

final class FakeChild: Sendable {
    let status = Box("Running")
    let changed = ChangeSignal()
    let grandchildren = DynamicEntries<Int, String>()
}

/// Point 6: inode numbers are never reused; removed entries make their handles stale.
@Suite("Identity and staleness", .timeLimit(.minutes(1)))
struct StalenessTests {
    let children = DynamicEntries<UUID, FakeChild>()
    let writes = Counter()
    let driver: InProcessDriver
    let key = UUID(uuidString: "11111111-2222-4333-8444-555555555555")!
    var path: String { "/vm/" + key.pathName }

    init() throws {
        let children = children
        let writes = writes
        driver = try InProcessDriver(
            Tree {
                Directory("vm", "") {
                    ForEach(children, "children") { child in
                        File("status", "")
                            .read("") { _ in try child.value.status.value }
                            .poll("", .changes { _ in try child.value.changed })
                        File("knob", "")
                            .read("") { _ in 0 }
                            .write(Ignored.self, "") { _, _ in writes.increment() }
                        Directory("sub", "") {
                            File("deep", "").read("") { _ in "deep" }
                        }
                        Directory("nested", "") {
                            ForEach((try? child.value.grandchildren) ?? DynamicEntries(), "grandchildren") { grandchild in
                                File("name", "").read("") { _ in try grandchild.value }
                            }
                        }
                    }
                }
            })
    }

    /// The kernel may cache every node that exists as long as its directory, also the declared
    /// files inside a dynamic entry (one lookup fewer per open of `/vm/<uuid>/wait`); only the
    /// name of a node whose existence changes on its own — a dynamic entry — is never cached.
    /// Attributes are cached for every node (the driver drops them when the node goes).
    @Test func onlyDynamicEntriesAreUncached() throws {
        let child = FakeChild()
        children.insert(child, for: key)
        child.grandchildren.insert("g", for: 7)
        #expect(try driver.stat("/vm").timeout == 3600)
        #expect(try driver.stat(path).timeout == 0)
        #expect(try driver.stat(path + "/status").timeout == 3600)
        #expect(try driver.stat(path + "/sub/deep").timeout == 3600)
        #expect(try driver.stat(path + "/nested").timeout == 3600)
        #expect(try driver.stat(path + "/nested/7").timeout == 0)
        #expect(try driver.stat(path + "/nested/7/name").timeout == 3600)
        for node in ["/vm", path, path + "/status", path + "/nested/7", path + "/nested/7/name"] {
            #expect(try driver.stat(node).attributeTimeout == 3600, "\(node)")
        }
    }

    /// Every node that goes and that a lookup gave out is reported, the entry and what was
    /// looked up under it, before the removal returns (so a driver can drop the attributes
    /// the kernel cached); siblings made with them but never looked up are not. A nested
    /// entry may be reported twice (with its own death and with its enclosing entry's).
    @Test func goneNodesAreReportedBeforeTheRemovalReturns() throws {
        let gone = Box<[UInt64]>([])
        driver.dispatcher.onNodesGone { inos in gone.update { $0 += inos } }
        let child = FakeChild()
        child.grandchildren.insert("g", for: 7)
        children.insert(child, for: key)
        let inos = try [path, path + "/status", path + "/nested", path + "/nested/7", path + "/nested/7/name"].map {
            try driver.stat($0).ino
        }
        let vm = try driver.stat("/vm").ino
        children.remove(key)
        #expect(Set(gone.value).isSuperset(of: inos))
        #expect(!gone.value.contains(vm))
        #expect(Set(gone.value) == Set(inos), "never looked up (knob, sub): the kernel holds nothing of them")
    }

    /// Each registered poll watches the entry's removal; closing the file stops watching,
    /// so a long-lived entry polled through many short-lived opens keeps nothing of them.
    @Test func closedPollersLeaveNothingOnTheEntry() throws {
        let child = FakeChild()
        children.insert(child, for: key)
        let token = try #require(try driver.dispatcher.tree.vnode(driver.stat(path + "/status").ino).token)
        let before = token.deathHandlerCount
        for _ in 0..<100 {
            let handle = try driver.open(path + "/status")
            _ = try driver.dispatcher.poll(handle.file, caller: handle.caller, waker: CountingWaker())
            _ = try driver.dispatcher.poll(handle.file, caller: handle.caller, waker: CountingWaker())
            #expect(token.deathHandlerCount == before + 1, "one removal watch per polled open file")
            driver.close(handle)
        }
        #expect(token.deathHandlerCount == before)
        let polled = try driver.open(path + "/status")
        let waker = CountingWaker()
        _ = try driver.dispatcher.poll(polled.file, caller: polled.caller, waker: waker)
        children.remove(key)
        #expect(waker.count == 1, "removal still wakes a registered poller")
    }

    @Test func inodeNumbersAreNeverReused() throws {
        children.insert(FakeChild(), for: key)
        let first = try driver.stat(path)
        let firstFile = try driver.stat(path + "/status")
        children.remove(key)
        #expect(throws: Errno.noSuchFileOrDirectory) { try driver.stat(path) }
        children.insert(FakeChild(), for: key)
        let second = try driver.stat(path)
        let secondFile = try driver.stat(path + "/status")
        #expect(second.ino != first.ino)
        #expect(secondFile.ino != firstFile.ino)
        #expect(throws: Errno.staleNFSFileHandle) { try driver.dispatcher.getattr(first.ino) }
        #expect(throws: Errno.staleNFSFileHandle) { try driver.dispatcher.getattr(firstFile.ino) }
        #expect(try driver.dispatcher.getattr(second.ino) == second)
    }

    @Test func replacingAnEntryInvalidatesTheOldOne() async throws {
        children.insert(FakeChild(), for: key)
        let old = try driver.stat(path)
        let handle = try driver.open(path + "/status")
        let replacement = FakeChild()
        replacement.status.value = "Template"
        children.insert(replacement, for: key)
        await #expect(throws: Errno.staleNFSFileHandle) { try await driver.read(handle) }
        #expect(throws: Errno.staleNFSFileHandle) { try driver.dispatcher.getattr(old.ino) }
        #expect(try driver.stat(path).ino != old.ino)
        #expect(try await driver.readText(path + "/status") == "Template\n")
    }

    @Test func everyHandleUnderARemovedEntryIsStale() async throws {
        let child = FakeChild()
        children.insert(child, for: key)
        let directory = try driver.stat(path)
        let sub = try driver.stat(path + "/sub")
        let deep = try driver.stat(path + "/sub/deep")
        let status = try driver.open(path + "/status")
        let knob = try driver.open(path + "/knob", flags: OpenFlags.readWrite)
        let deepHandle = try driver.open(path + "/sub/deep")
        #expect(try await driver.read(status).text == "Running\n")
        let statusIno = try driver.stat(path + "/status").ino
        let vm = try driver.stat("/vm")

        children.remove(key)

        for handle in [status, knob, deepHandle] {
            await #expect(throws: Errno.staleNFSFileHandle) { try await driver.read(handle) }
            await #expect(throws: Errno.staleNFSFileHandle) { try await driver.read(handle, size: 3, offset: 2) }
            #expect(throws: Errno.staleNFSFileHandle) { try driver.poll(handle) }
            #expect(throws: Errno.staleNFSFileHandle) {
                try driver.dispatcher.poll(handle.file, caller: .root, waker: CountingWaker())
            }
        }
        await #expect(throws: Errno.staleNFSFileHandle) { try await driver.write(knob, bytes("1")) }
        #expect(writes.count == 0)
        for ino in [directory.ino, sub.ino, deep.ino, statusIno] {
            #expect(throws: Errno.staleNFSFileHandle) { try driver.dispatcher.getattr(ino) }
            #expect(throws: Errno.staleNFSFileHandle) { try driver.dispatcher.setattr(ino, size: 0, otherChanges: false) }
            #expect(throws: Errno.staleNFSFileHandle) { try driver.dispatcher.open(ino, flags: 0, caller: .root) }
        }
        for ino in [directory.ino, sub.ino] {
            #expect(throws: Errno.staleNFSFileHandle) { try driver.dispatcher.readdir(ino, after: 0, limit: 10) }
            #expect(throws: Errno.staleNFSFileHandle) { try driver.dispatcher.readdir(ino, after: 2, limit: 10) }
            #expect(throws: Errno.staleNFSFileHandle) { try driver.dispatcher.lookup(parent: ino, name: "status") }
            #expect(throws: Errno.staleNFSFileHandle) { try driver.dispatcher.opendir(ino, caller: .root) }
        }
        #expect(throws: Errno.noSuchFileOrDirectory) { try driver.dispatcher.lookup(parent: vm.ino, name: key.pathName) }
        #expect(try driver.list("/vm") == [])
        // The entry's value is gone for handlers too.
        #expect(child.status.value == "Running")
    }

    @Test func staleHandlesStayStaleAfterReinsertion() async throws {
        children.insert(FakeChild(), for: key)
        let handle = try driver.open(path + "/status")
        children.remove(key)
        children.insert(FakeChild(), for: key)
        await #expect(throws: Errno.staleNFSFileHandle) { try await driver.read(handle) }
        #expect(try await driver.readText(path + "/status") == "Running\n")
    }

    @Test func removeAllMakesEverythingStale() async throws {
        let keys = (0..<50).map { _ in UUID() }
        for key in keys { children.insert(FakeChild(), for: key) }
        let handles = try keys.map { try driver.open("/vm/\($0.pathName)/status") }
        let inos = try keys.map { try driver.stat("/vm/\($0.pathName)").ino }
        children.removeAll()
        #expect(children.count == 0)
        #expect(try driver.list("/vm") == [])
        for handle in handles {
            await #expect(throws: Errno.staleNFSFileHandle) { try await driver.read(handle) }
        }
        for ino in inos {
            #expect(throws: Errno.staleNFSFileHandle) { try driver.dispatcher.getattr(ino) }
        }
        for key in keys {
            #expect(throws: Errno.noSuchFileOrDirectory) { try driver.stat("/vm/\(key.pathName)") }
        }
    }

    @Test func aBlockedPollerLearnsOfTheRemoval() async throws {
        children.insert(FakeChild(), for: key)
        let handle = try driver.open(path + "/status")
        let polled = try driver.open(path + "/status")
        let waker = CountingWaker()
        #expect(try driver.dispatcher.poll(polled.file, caller: polled.caller, waker: waker) == [])
        let waiting = Task { () async throws(Errno) -> PollEvents in try await driver.waitUntilReady(handle) }
        try await Task.sleep(for: .milliseconds(10))
        children.remove(key)
        #expect(waker.count == 1, "a registered poll is woken when its entry goes away")
        let result = await waiting.result
        #expect(throws: Errno.staleNFSFileHandle) { try result.get() }
    }

    @Test func removalIsReportedToTheDriver() throws {
        let removed = Box<[(UInt64, String)]>([])
        driver.dispatcher.onEntryRemoved { parent, name in removed.update { $0.append((parent, name)) } }
        children.insert(FakeChild(), for: key)
        let other = UUID()
        children.insert(FakeChild(), for: other)
        _ = try driver.stat(path)
        let vm = try driver.stat("/vm")
        children.remove(key)
        children.remove(other)  // never looked up: the kernel knows nothing of it
        #expect(removed.value.map(\.0) == [vm.ino])
        #expect(removed.value.map(\.1) == [key.pathName])
    }

    /// Many removals with a removal handler installed (each removal calls it once).
    @Test func manyRemovalsReachTheHandler() throws {
        let removed = Counter()
        driver.dispatcher.onEntryRemoved { _, _ in removed.increment() }
        let keys = (0..<20_000).map { _ in UUID() }
        for key in keys {
            children.insert(FakeChild(), for: key)
            _ = try driver.stat("/vm/" + key.pathName)
            children.remove(key)
        }
        #expect(removed.count == keys.count)
    }

    @Test func removingAnEnclosingEntryMakesNestedEntriesStale() async throws {
        let child = FakeChild()
        child.grandchildren.insert("g", for: 7)
        children.insert(child, for: key)
        let nested = path + "/nested/7"
        let directory = try driver.stat(nested)
        let handle = try driver.open(nested + "/name")
        #expect(try await driver.read(handle).text == "g\n")
        children.remove(key)
        await #expect(throws: Errno.staleNFSFileHandle) { try await driver.read(handle) }
        #expect(throws: Errno.staleNFSFileHandle) { try driver.poll(handle) }
        #expect(throws: Errno.staleNFSFileHandle) { try driver.dispatcher.getattr(directory.ino) }
    }

    @Test func replacingTheEntryWakesItsPollers() async throws {
        let child = FakeChild()
        child.grandchildren.insert("g", for: 7)
        children.insert(child, for: key)
        let handle = try driver.open(path + "/status")
        let waker = CountingWaker()
        #expect(try driver.dispatcher.poll(handle.file, caller: handle.caller, waker: waker) == [])
        children.insert(FakeChild(), for: key)  // replaced: the old entry is gone
        #expect(waker.count == 1)
        #expect(throws: Errno.staleNFSFileHandle) { try driver.poll(handle) }
    }

    @Test func pollingAgainDoesNotPileUpRemovalWatches() async throws {
        children.insert(FakeChild(), for: key)
        let handle = try driver.open(path + "/status")
        for _ in 0..<100 {
            _ = try driver.dispatcher.poll(handle.file, caller: handle.caller, waker: CountingWaker())
        }
        let last = CountingWaker()
        _ = try driver.dispatcher.poll(handle.file, caller: handle.caller, waker: last)
        children.remove(key)
        #expect(last.count == 1)
    }

    @Test func removingANestedEntry() async throws {
        let child = FakeChild()
        child.grandchildren.insert("g", for: 7)
        child.grandchildren.insert("h", for: 8)
        children.insert(child, for: key)
        #expect(try driver.list(path + "/nested") == ["7", "8"])
        let handle = try driver.open(path + "/nested/7/name")
        child.grandchildren.remove(7)
        await #expect(throws: Errno.staleNFSFileHandle) { try await driver.read(handle) }
        #expect(try driver.list(path + "/nested") == ["8"])
        #expect(try await driver.readText(path + "/nested/8/name") == "h\n")
        #expect(try await driver.readText(path + "/status") == "Running\n", "the enclosing entry lives on")
    }

    @Test func valueOfARemovedEntryIsStaleForHandlers() async throws {
        let gate = Gate()
        let entered = Counter()
        let entries = DynamicEntries<Int, String>()
        let driver = try InProcessDriver(
            Tree {
                ForEach(entries, "") { entry in
                    File("slow", "").read("") { _ async throws(Errno) -> String in
                        entered.increment()
                        _ = await gate.wait()
                        return try entry.value
                    }
                }
            })
        entries.insert("x", for: 1)
        let handle = try driver.open("/1/slow")
        let reading = Task { () async throws(Errno) -> [UInt8] in try await driver.read(handle) }
        await entered.wait(for: 1)
        entries.remove(1)
        gate.open()
        let result = await reading.result
        #expect(throws: Errno.staleNFSFileHandle) { try result.get() }
    }
}
