import Foundation
import Synchronization
import SystemPackage
import Testing

@testable import VFSKit

struct NotAnErrno: Error {}

/// Errors from handlers, interrupted reads, and lookups racing with removals.
@Suite("Errors and races", .timeLimit(.minutes(1)))
struct ConcurrencyTests {
    @Test func handlerErrorsMapToErrnos() async throws {
        let driver = try InProcessDriver(
            Tree {
                File("custom", "")
                    .read("") { _ -> Int in throw NotAnErrno() }
                    .write(Int.self, "") { _, _ in throw NotAnErrno() }
                File("cancelled", "")
                    .read("") { _ -> Int in throw CancellationError() }
                    .write(Int.self, "") { _, _ in throw CancellationError() }
                File("errno", "")
                    .read("") { _ -> Int in throw Errno.noSuchProcess }
                    .write(Int.self, "") { _, _ in throw Errno.noSuchProcess }
            })
        for (path, expected) in [("/custom", Errno.ioError), ("/cancelled", .interrupted), ("/errno", .noSuchProcess)] {
            let handle = try driver.open(path, flags: OpenFlags.readWrite)
            let read = await Outcome { () async throws(Errno) in try await driver.read(handle) }
            let written = await Outcome { () async throws(Errno) in try await driver.write(handle, bytes("1")) }
            #expect(read == .error(expected), "\(path)")
            #expect(written == .error(expected), "\(path)")
        }
    }

    @Test func blockedReadIsInterruptible() async throws {
        let entered = Counter()
        let driver = try InProcessDriver(
            Tree {
                File("slow", "").read("") { _ async throws -> Int in
                    entered.increment()
                    try await Task.sleep(for: .seconds(60))
                    return 1
                }
            })
        let handle = try driver.open("/slow")
        let reading = Task { () async throws(Errno) -> [UInt8] in try await driver.read(handle) }
        await entered.wait(for: 1)
        reading.cancel()
        let result = await reading.result
        #expect(throws: Errno.interrupted) { try result.get() }
    }

    @Test func contextNamesTheOpenFile() async throws {
        let seen = Box<[UInt64]>([])
        let driver = try InProcessDriver(
            Tree {
                File("f", "")
                    .read("") { context in context.file.id }
                    .write(Ignored.self, "") { context, _ in seen.update { $0.append(context.file.id) } }
            })
        let first = try driver.open("/f", flags: OpenFlags.readWrite)
        let second = try driver.open("/f", flags: OpenFlags.readWrite)
        #expect(try await driver.read(first).text == "\(first.file.id)\n")
        #expect(try await driver.read(second).text == "\(second.file.id)\n")
        try await driver.write(second, bytes("x"))
        try await driver.write(first, bytes("x"))
        #expect(seen.value == [second.file.id, first.file.id])
    }

    @Test func writesAtAnyOffsetReachTheHandler() async throws {
        let written = Box<[Int]>([])
        let driver = try InProcessDriver(
            Tree {
                File("n", "").write(Int.self, "") { _, value in written.update { $0.append(value) } }
            })
        let handle = try driver.open("/n", flags: OpenFlags.writeOnly)
        #expect(try await driver.write(handle, bytes("1\n"), offset: 0) == 2)
        #expect(try await driver.write(handle, bytes("2\n"), offset: 2) == 2)
        #expect(written.value == [1, 2])
    }

    @Test func dynamicEntriesAPI() {
        let entries = DynamicEntries<Int, String>()
        entries.insert("a", for: 1)
        entries.insert("b", for: 2)
        entries.insert("c", for: 3)
        #expect(entries.keys == [1, 2, 3])
        #expect(entries.values == ["a", "b", "c"])
        #expect(entries.remove(2) == "b")
        #expect(entries.remove(2) == nil)
        entries.insert("A", for: 1)
        #expect(entries.keys == [3, 1])
        #expect(entries[1] == "A")
        entries.removeAll()
        #expect(entries.count == 0 && entries.keys.isEmpty)
    }

    /// Lookups, opens and reads racing with insertions and removals see either a live
    /// entry with the right content, or ENOENT/ESTALE; never another entry's value.
    @Test func lookupsRacingWithRemovals() async throws {
        let entries = DynamicEntries<Int, Int>()
        let driver = try InProcessDriver(
            Tree {
                Directory("d", "") {
                    ForEach(entries, "") { entry in
                        File("value", "").read("") { _ in try entry.value }
                    }
                }
            })
        let keys = 0..<20
        let wrong = Box<[String]>([])
        let successes = Counter()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for round in 0..<300 {
                    let key = round % keys.count
                    entries.remove(key)
                    entries.insert(key * 1000 + round, for: key)
                    if round % 7 == 0 { await Task.yield() }
                }
            }
            for worker in 0..<4 {
                group.addTask {
                    for step in 0..<300 {
                        let key = (step * 7 + worker) % keys.count
                        do throws(Errno) {
                            let handle = try driver.open("/d/\(key)/value")
                            defer { driver.close(handle) }
                            let text = try await driver.read(handle).text
                            guard let value = Int(text.dropLast()), value / 1000 == key else {
                                wrong.update { $0.append("\(key): \(text)") }
                                continue
                            }
                            successes.increment()
                        } catch {
                            if error != .noSuchFileOrDirectory && error != .staleNFSFileHandle {
                                wrong.update { $0.append("\(key): \(error)") }
                            }
                        }
                        if step % 5 == 0 { await Task.yield() }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(wrong.value.isEmpty)
        #expect(successes.count > 0)
        for key in keys {
            #expect(try await driver.readText("/d/\(key)/value") == "\(entries[key]!)\n")
        }
    }
}
