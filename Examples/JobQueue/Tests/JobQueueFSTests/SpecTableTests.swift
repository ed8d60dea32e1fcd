import JobQueueFS
import Testing
import VFSKit

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The tree's table, generated from the declarations, pinned by a golden file (also in README.md).
@Suite struct SpecTableTests {
    static let golden = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("spec.md")

    @Test func specTableMatchesTheGoldenFile() throws {
        let table = JobQueue(runner: ScriptedRunner()).tree.specTable
        let expected = try String(contentsOf: Self.golden, encoding: .utf8)
        #expect(table == expected, "regenerate with: jobqueue-fuse --spec > \(Self.golden.path)")
    }
}
