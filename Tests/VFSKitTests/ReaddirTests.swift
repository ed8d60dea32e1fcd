import SystemPackage
import Testing

@testable import VFSKit

/// Point 7: readdir in small batches, with stable cookies.
@Suite("readdir")
struct ReaddirTests {
    let entries = DynamicEntries<Int, Int>()
    let driver: InProcessDriver

    init() throws {
        let entries = entries
        driver = try InProcessDriver(
            Tree {
                Directory("d", "") {
                    File("a", "").read("") { _ in 1 }
                    Directory("b", "") {}
                    ForEach(entries, "numbered") { entry in
                        File("n", "").read("") { _ in try entry.value }
                    }
                    File("c", "").read("") { _ in 3 }
                }
            })
    }

    /// Lists with `readdir` directly, `limit` entries per call, calling `between` after each batch.
    func listing(_ ino: UInt64, limit: Int, between: (Int) -> Void = { _ in }) throws -> [DirectoryEntry] {
        var all: [DirectoryEntry] = []
        var cookie: Int64 = 0
        var batch = 0
        while true {
            let entries = try driver.dispatcher.readdir(ino, after: cookie, limit: limit)
            #expect(entries.count <= limit)
            guard let last = entries.last else { return all }
            all += entries
            cookie = last.cookie
            between(batch)
            batch += 1
        }
    }

    @Test(arguments: [1, 2, 3, 5, 128])
    func smallBatchesListEverythingOnce(_ limit: Int) throws {
        for n in 0..<7 { entries.insert(n * 10, for: n) }
        let directory = try driver.stat("/d")
        let listed = try listing(directory.ino, limit: limit)
        #expect(listed.map(\.name) == [".", "..", "a", "b", "c", "0", "1", "2", "3", "4", "5", "6"])
        #expect(listed[0].ino == directory.ino)
        #expect(listed[1].ino == Dispatcher.rootID)
        #expect(listed.map(\.isDirectory) == [true, true, false, true, false] + Array(repeating: true, count: 7))
        #expect(Set(listed.map(\.cookie)).count == listed.count, "cookies are distinct")
        #expect(listed.map(\.cookie) == listed.map(\.cookie).sorted(), "cookies increase")
        #expect(Set(listed.map(\.ino)).count == listed.count, "every entry has its own inode number")
        let c = try driver.stat("/d/c")
        #expect(listed[4].ino == c.ino)
    }

    @Test func lookedUpEntriesShowTheirInode() throws {
        entries.insert(1, for: 1)
        let directory = try driver.stat("/d")
        let one = try driver.stat("/d/1")
        let listed = try listing(directory.ino, limit: 100)
        #expect(listed.last?.name == "1")
        #expect(listed.last?.ino == one.ino)
    }

    @Test func resumingFromAnyCookie() throws {
        for n in 0..<5 { entries.insert(n, for: n) }
        let directory = try driver.stat("/d")
        let all = try listing(directory.ino, limit: 100)
        for (index, entry) in all.enumerated() {
            let rest = try driver.dispatcher.readdir(directory.ino, after: entry.cookie, limit: 100)
            #expect(rest.map(\.name) == all[(index + 1)...].map(\.name))
        }
        #expect(try driver.dispatcher.readdir(directory.ino, after: all.last!.cookie, limit: 100) == [])
        #expect(try driver.dispatcher.readdir(directory.ino, after: Int64.max / 2, limit: 100) == [])
    }

    @Test(arguments: [Int.max, Int.max - 1, 1 << 40])
    func hugeLimits(_ limit: Int) throws {
        for n in 0..<5 { entries.insert(n, for: n) }
        let directory = try driver.stat("/d")
        #expect(try driver.dispatcher.readdir(directory.ino, after: 0, limit: limit).count == 10)
        #expect(try driver.dispatcher.readdir(directory.ino, after: 6, limit: limit).map(\.name) == ["1", "2", "3", "4"])
    }

    @Test func negativeCookiesAreInvalid() throws {
        let directory = try driver.stat("/d")
        #expect(throws: Errno.invalidArgument) { try driver.dispatcher.readdir(directory.ino, after: -1, limit: 10) }
        #expect(throws: Errno.invalidArgument) { try driver.dispatcher.readdir(directory.ino, after: Int64.min, limit: 10) }
    }

    @Test func emptyDirectory() throws {
        let b = try driver.stat("/d/b")
        #expect(try listing(b.ino, limit: 1).map(\.name) == [".", ".."])
        #expect(try driver.list("/d/b") == [])
    }

    @Test func readdirOfAFileIsNotADirectory() throws {
        let a = try driver.stat("/d/a")
        #expect(throws: Errno.notDirectory) { try driver.dispatcher.readdir(a.ino, after: 0, limit: 10) }
    }

    @Test(arguments: [1, 2, 7])
    func cookiesAreStableWhileEntriesComeAndGo(_ limit: Int) throws {
        for n in 0..<40 { entries.insert(n, for: n) }
        let directory = try driver.stat("/d")
        var removed: Set<Int> = []
        var moved: Set<Int> = []
        var added: Set<Int> = []
        var next = 1000
        let listed = try listing(directory.ino, limit: limit) { batch in
            // (A directory growing at its end as fast as it is listed would never end: stop after a while.)
            guard batch < 12 else { return }
            // Remove the first live entry (usually behind the cursor) and one ahead of it,
            // append a new one, and now and then move an entry to the end by re-inserting it.
            let live = entries.keys
            if let behind = live.first {
                entries.remove(behind)
                removed.insert(behind)
            }
            if live.count > 4 {
                entries.remove(live[live.count - 3])
                removed.insert(live[live.count - 3])
            }
            entries.insert(next, for: next)
            added.insert(next)
            next += 1
            if batch % 5 == 0, let target = entries.keys.dropFirst(2).first {
                entries.insert(target, for: target)
                moved.insert(target)
            }
        }
        let names = listed.map(\.name)
        #expect(Array(names.prefix(5)) == [".", "..", "a", "b", "c"])
        let numbers = names.dropFirst(5).map { Int($0)! }
        let steady = Set(0..<40).subtracting(removed).subtracting(moved)
        for number in steady {
            #expect(numbers.filter { $0 == number }.count == 1, "entry \(number) lived throughout: exactly once")
        }
        for number in Set(numbers) where !moved.contains(number) {
            #expect(numbers.filter { $0 == number }.count == 1, "entry \(number) listed twice")
        }
        for number in numbers {
            #expect(number < 40 || added.contains(number))
        }
        #expect(listed.map(\.cookie) == listed.map(\.cookie).sorted(), "cookies never go back")
        #expect(!steady.isEmpty && !removed.isEmpty && !moved.isEmpty)
    }

    @Test func noSkipsNoDuplicatesWithoutMoves() throws {
        for n in 0..<100 { entries.insert(n, for: n) }
        let directory = try driver.stat("/d")
        var removedDuringListing: Set<Int> = []
        var addedDuringListing: Set<Int> = []
        var next = 1000
        let listed = try listing(directory.ino, limit: 3) { batch in
            guard batch < 30 else { return }
            let live = entries.keys
            // Remove the entry just listed and one far ahead; append a new one.
            let victim = live[(batch * 7) % live.count]
            entries.remove(victim)
            removedDuringListing.insert(victim)
            entries.insert(next, for: next)
            addedDuringListing.insert(next)
            next += 1
        }
        let numbers = listed.map(\.name).compactMap(Int.init)
        #expect(Set(numbers).count == numbers.count, "no duplicates")
        for survivor in Set(0..<100).subtracting(removedDuringListing) {
            #expect(numbers.contains(survivor), "surviving entry \(survivor) was skipped")
        }
        for number in numbers {
            #expect(number < 100 || addedDuringListing.contains(number))
        }
        // Entries appear in insertion order.
        let original = numbers.filter { $0 < 100 }
        #expect(original == original.sorted())
    }

    @Test func tenThousandEntries() async throws {
        let count = 10_000
        for n in 0..<count { entries.insert(n, for: n) }
        let names = try driver.list("/d")
        #expect(names.count == count + 3)
        #expect(names.dropFirst(3).map { Int($0)! } == Array(0..<count))
        let directory = try driver.stat("/d")
        let listed = try listing(directory.ino, limit: 4096)
        #expect(listed.count == count + 5)
        #expect(try await driver.readText("/d/9999/n") == "9999\n")
        #expect(try await driver.readText("/d/0/n") == "0\n")
    }

    /// The listing's names are kept beside the entries: after any mix of inserts, replacing
    /// inserts, removals and `removeAll`, `ls` shows exactly the live keys in order.
    @Test func listingFollowsEveryChange() throws {
        var generator = SystemRandomNumberGenerator()
        let directory = try driver.stat("/d")
        var reference: [Int] = []
        for step in 0..<2_000 {
            let key = Int.random(in: 0..<60, using: &generator)
            switch Int.random(in: 0..<10, using: &generator) {
            case 0..<5:
                entries.insert(step, for: key)
                reference.removeAll { $0 == key }
                reference.append(key)
            case 5..<9:
                entries.remove(key)
                reference.removeAll { $0 == key }
            default:
                if step % 7 == 0 {
                    entries.removeAll()
                    reference.removeAll()
                }
            }
            if step % 50 == 0 || step == 1_999 {
                let listed = try listing(directory.ino, limit: Int.random(in: 1...8, using: &generator))
                #expect(listed.dropFirst(5).map(\.name) == reference.map(String.init), "step \(step)")
                #expect(entries.keys == reference)
            }
        }
    }

    /// Removals leave holes that are swept out in bulk: a listing resumed across a sweep
    /// neither skips nor repeats a survivor.
    @Test func aListingResumesAcrossTheSweepOfRemovedEntries() throws {
        for n in 0..<1_000 { entries.insert(n, for: n) }
        let directory = try driver.stat("/d")
        let first = try driver.dispatcher.readdir(directory.ino, after: 0, limit: 105)
        #expect(first.last?.name == "99")
        for n in 0..<1_000 where n % 10 != 0 { entries.remove(n) }  // oldest first, as children exit
        var rest: [String] = []
        var cookie = first.last!.cookie
        while case let batch = try driver.dispatcher.readdir(directory.ino, after: cookie, limit: 7), let last = batch.last {
            rest += batch.map(\.name)
            cookie = last.cookie
        }
        #expect(rest == stride(from: 100, to: 1_000, by: 10).map(String.init))
        #expect(entries.keys == Array(stride(from: 0, to: 1_000, by: 10)))
        #expect(entries.count == 100)
    }

}
