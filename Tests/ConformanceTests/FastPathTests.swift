import LibUKP
import Testing

@testable import VFSKit

/// Every read handler of the ukp tree is synchronous, so reads are answered on the FUSE
/// worker thread without a task (docs/benchmarks.md: the ≤ 1.2× latency target needs it).
@Suite struct FastPathTests {
    static func readers(in nodes: [Node], at path: String) -> [(String, Bool)] {
        nodes.flatMap { node -> [(String, Bool)] in
            let nodePath = path + "/" + node.name
            switch node.kind {
            case .file(let behavior):
                return behavior.reader.map { [(nodePath, $0.renderNow != nil)] } ?? []
            case .directory(let content):
                return readers(in: content.children, at: nodePath)
            case .dynamic(let source):
                return readers(in: source.exampleContent(), at: path + "/" + source.placeholder)
            case .link:
                return []
            }
        }
    }

    @Test func ukpReadsTakeTheSynchronousPath() {
        let readers = Self.readers(in: SimPlatform().root.engine.tree.content, at: "")
        #expect(readers.count == 6)
        for (path, isSynchronous) in readers {
            #expect(isSynchronous, "\(path) has an async read handler")
        }
    }

    @Test func anAsyncReaderStillWorks() async throws {
        let tree = Tree {
            File("slow", "A reader that suspends").read("a value") { _ async in
                await Task.yield()
                return 42
            }
        }
        let readers = Self.readers(in: tree.content, at: "")
        #expect(readers.map(\.1) == [false])
        let driver = try InProcessDriver(tree)
        #expect(try await driver.readText("/slow") == "42\n")
    }
}
