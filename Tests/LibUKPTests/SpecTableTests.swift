import LibUKP
import Testing
import VFSKit

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The table generated from the declarations matches SPEC.md's tree table, cell for cell.
@Suite struct SpecTableTests {
    /// The first five columns of each row of a Markdown table, trimmed, header and rule dropped.
    static func rows(of markdown: String) -> [[String]] {
        markdown.split(separator: "\n")
            .filter { $0.hasPrefix("|") && !$0.hasPrefix("|---") && !$0.hasPrefix("| path ") }
            .map { line in
                let cells = line.dropFirst().dropLast().components(separatedBy: " | ")
                return cells.prefix(5).map { $0.trimmingCharacters(in: .whitespaces) }
            }
    }

    static var repository: String {
        var path = #filePath.split(separator: "/").dropLast(3).joined(separator: "/")
        path = "/" + path
        return path
    }

    static func table(in file: String) throws -> String? {
        guard let data = FileManager.default.contents(atPath: file) else { return nil }
        let text = String(decoding: data, as: UTF8.self)
        guard let start = text.range(of: "| path | mode | read | write | poll |") else { return nil }
        let rest = text[start.lowerBound...]
        let end = rest.range(of: "\n\n")?.lowerBound ?? rest.endIndex
        return String(rest[..<end])
    }

    var generated: [[String]] { Self.rows(of: SimPlatform().root.engine.tree.specTable) }

    @Test func matchesTheCopyInDocs() throws {
        let copy = try #require(try Self.table(in: Self.repository + "/docs/spec-table.md"))
        #expect(generated == Self.rows(of: copy))
        #expect(generated.count == 9)
    }

    /// SPEC.md lives beside the repository (`../shared/SPEC.md`); `docs/spec-table.md`
    /// pins its table inside the repository, so the check above runs everywhere.
    static let specPath = repository + "/../shared/SPEC.md"

    @Test(.enabled(if: FileManager.default.fileExists(atPath: specPath), "../shared/SPEC.md is not beside the repository"))
    func matchesSpecMarkdown() throws {
        let spec = try #require(try Self.table(in: Self.specPath), "SPEC.md has a tree table")
        #expect(generated == Self.rows(of: spec))
    }
}
