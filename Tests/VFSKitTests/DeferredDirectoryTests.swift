import Foundation
import Synchronization
import Testing

@testable import VFSKit

/// `Directory.deferred`: its content is declared on first use, once.
@Suite struct DeferredDirectoryTests {
    /// Counts the declarations of live entries' content (not the example entry's).
    final class Declarations: Sendable {
        let count = Atomic(0)

        func costly(_ entry: DynamicEntry<UUID, Int>) -> [Node] {
            if (try? entry.value) != nil { count.add(1, ordering: .relaxed) }
            return File("inner", "a file").read("one") { _ in 1 }.nodes
        }
    }

    @Test func aDeferredDirectoryIsDeclaredWhenFirstUsedAndOnce() async throws {
        let declarations = Declarations()
        let entries = DynamicEntries<UUID, Int>()
        let driver = try InProcessDriver(
            Tree("root") {
                Directory("vm", "children") {
                    ForEach(entries, "one entry per child", entrySummary: "a child") { entry in
                        File("cheap", "declared with the entry").read("its value") { _ in try entry.value }
                        Directory.deferred("costly", "declared on first use") { declarations.costly(entry) }
                    }
                }
            })
        let child = UUID()
        entries.insert(7, for: child)
        #expect(try driver.list("/vm/\(child.pathName)") == ["cheap", "costly"])
        #expect(try await driver.readText("/vm/\(child.pathName)/cheap") == "7\n")
        #expect(try driver.stat("/vm/\(child.pathName)/costly").isDirectory)
        #expect(declarations.count.load(ordering: .relaxed) == 0, "listed, looked up, its sibling read: not declared")
        #expect(try driver.list("/vm/\(child.pathName)/costly") == ["inner"])
        #expect(try await driver.readText("/vm/\(child.pathName)/costly/inner") == "1\n")
        #expect(declarations.count.load(ordering: .relaxed) == 1, "declared once")
    }
}
