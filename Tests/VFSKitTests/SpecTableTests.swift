import Foundation
import SystemPackage
import Testing

@testable import VFSKit

enum Phase: String, FileValue {
    case running = "Running"
    case stopped = "Stopped"
}

/// Point 8: the spec table generated from the declarations, and the validator.
@Suite("Spec table and validation")
struct SpecTableTests {
    static func smallTree(_ children: DynamicEntries<UUID, Int> = DynamicEntries()) -> Tree {
        Tree("The root") {
            File("fork", "Fork this instance")
                .read("the last fork result") { _ in UUID?.none }
                .write(Ignored.self, "triggers a fork; blocks until done") { _, _ in }
            Directory("vm", "Children") {
                ForEach(children, "one entry per live child UUID, in creation order", entrySummary: "One child") { child in
                    File("status", "The child's state")
                        .read("current state name") { _ in Phase.running }
                        .poll("POLLPRI|POLLIN on every state change", .changes { _ in ChangeSignal() })
                    File("wait", permissions: 0o600, "Waits for the child")
                        .read("exit code, once stopped") { _ in Int?.none }
                        .write(Ignored.self, "blocks until the child stopped") { _, _ in }
                }
            }
        }
    }

    static let golden = """
        | path | mode | read | write | poll | type | description |
        |---|---|---|---|---|---|---|
        | `/` | dir 0555 | `fork`, `vm` | — | — | — | The root |
        | `/fork` | file 0666 | the last fork result | triggers a fork; blocks until done | — | uuid? / any | Fork this instance |
        | `/vm/` | dir 0555 | one entry per live child UUID, in creation order | — | — | — | Children |
        | `/vm/<uuid>/` | dir 0555 | `status`, `wait` | — | — | — | One child |
        | `/vm/<uuid>/status` | file 0444 | current state name | — | POLLPRI\\|POLLIN on every state change | Phase / — | The child's state |
        | `/vm/<uuid>/wait` | file 0600 | exit code, once stopped | blocks until the child stopped | — | integer? / any | Waits for the child |

        """

    @Test func goldenSpecTable() {
        let table = Self.smallTree().specTable
        #expect(table == Self.golden)
        if table != Self.golden { print(table) }
    }

    @Test func specTableDoesNotDependOnLiveEntries() {
        let children = DynamicEntries<UUID, Int>()
        children.insert(1, for: UUID())
        #expect(Self.smallTree(children).specTable == Self.golden)
    }

    @Test func specRows() {
        let rows = Self.smallTree().specRows
        #expect(rows.map(\.path) == ["/", "/fork", "/vm/", "/vm/<uuid>/", "/vm/<uuid>/status", "/vm/<uuid>/wait"])
        #expect(rows.map(\.mode) == ["dir 0555", "file 0666", "dir 0555", "dir 0555", "file 0444", "file 0600"])
        #expect(rows.allSatisfy { $0.cells.count == 7 })
    }

    @Test func pipesInTextAreEscaped() {
        let tree = Tree {
            File("f", "a | b").read("x | y") { _ in 1 }
        }
        let line = tree.specTable.split(separator: "\n").last.map(String.init) ?? ""
        #expect(line.components(separatedBy: " | ").count == 7, "\(line)")
        #expect(line.contains("x \\| y") && line.contains("a \\| b"))
        let plain = Tree { File("g", "").read("POLLPRI|POLLIN") { _ in 1 } }
        let row = plain.specRows.first { $0.path == "/g" }
        #expect(row?.read == "POLLPRI|POLLIN", "help text stays plain text")
        #expect(row?.cells[2] == "POLLPRI\\|POLLIN", "the renderer escapes it for Markdown")
    }

    // MARK: - Validation

    struct InvalidTree: Sendable, CustomTestStringConvertible {
        let testDescription: String
        let path: String
        let tree: @Sendable () -> Tree
    }

    static let invalidTrees: [InvalidTree] =
        [
            InvalidTree(testDescription: "duplicate file names", path: "/a") {
                Tree {
                    File("a", "").read("") { _ in 1 }
                    File("a", "").read("") { _ in 2 }
                }
            },
            InvalidTree(testDescription: "a file and a directory with one name", path: "/d/x") {
                Tree {
                    Directory("d", "") {
                        File("x", "").read("") { _ in 1 }
                        Directory("x", "") {}
                    }
                }
            },
            InvalidTree(testDescription: "poll without read", path: "/p") {
                Tree {
                    File("p", "").write(Ignored.self, "") { _, _ in }.poll("", .changes { _ in ChangeSignal() })
                }
            },
            InvalidTree(testDescription: "file without handlers", path: "/d/empty") {
                Tree {
                    Directory("d", "") { File("empty", "") }
                }
            },
            InvalidTree(testDescription: "two ForEach in one directory", path: "/d") {
                Tree {
                    Directory("d", "") {
                        ForEach(DynamicEntries<Int, Int>(), "") { _ in File("x", "").read("") { _ in 1 } }
                        ForEach(DynamicEntries<UUID, Int>(), "") { _ in File("y", "").read("") { _ in 1 } }
                    }
                }
            },
            InvalidTree(testDescription: "bad file in a ForEach entry", path: "/d/<n>/x") {
                Tree {
                    Directory("d", "") {
                        ForEach(DynamicEntries<Int, Int>(), "") { _ in
                            File("x", "").read("") { _ in 1 }
                            File("x", "").read("") { _ in 1 }
                        }
                    }
                }
            },
            InvalidTree(testDescription: "zero write limit", path: "/w") {
                Tree { File("w", "").write(Ignored.self, "") { _, _ in }.writeLimit(0) }
            },
            InvalidTree(testDescription: "bad file in a ForEach at the root", path: "/<uuid>/x") {
                Tree {
                    ForEach(DynamicEntries<UUID, Int>(), "") { _ in File("x", "") }
                }
            },
        ]
        + ["", ".", "..", "a/b", "/", "nul\0", String(repeating: "n", count: 256)].map { name in
            InvalidTree(testDescription: "bad name \(String(reflecting: name.prefix(10)))", path: "/d/" + name) {
                Tree {
                    Directory("d", "") {
                        File(name, "").read("") { _ in 1 }
                    }
                }
            }
        } + [
            InvalidTree(testDescription: "bad directory name", path: "/..") {
                Tree { Directory("..", "") {} }
            }
        ]

    @Test(arguments: invalidTrees)
    func validatorRejects(_ invalid: InvalidTree) {
        let error = #expect(throws: TreeValidationError.self) { try Dispatcher(tree: invalid.tree()) }
        #expect(error?.path == invalid.path)
        #expect(error?.description.hasPrefix("invalid tree at \(invalid.path): ") == true)
        #expect(throws: TreeValidationError.self) { try InProcessDriver(invalid.tree()) }
    }

    @Test func validTreesAreAccepted() throws {
        _ = try Dispatcher(tree: Self.smallTree())
        _ = try Dispatcher(tree: Tree {})
        _ = try Dispatcher(
            tree: Tree {
                File(String(repeating: "n", count: 255), "").read("") { _ in 1 }
                File("...", "").read("") { _ in 1 }
                Directory("a", "") { File("a", "").read("") { _ in 1 } }
                ForEach(DynamicEntries<Int, Int>(), "") { _ in File("a", "").read("") { _ in 1 } }
            })
    }
}
