import Testing

@testable import VFSKit

/// Declarations of the issue-15 features that cannot be served, rejected when the tree is built.
@Suite struct ControlFeatureValidationTests {
    static func problem(_ tree: Tree) -> String? {
        do throws(TreeValidationError) {
            _ = try Dispatcher(tree: tree)
            return nil
        } catch {
            return error.description
        }
    }

    @Test func aLinkLoopIsRejected() {
        let loop = Self.problem(
            Tree {
                Link("a", to: "b", "")
                Link("b", to: "dir/../a", "")
                Directory("dir", "") { File("f", "").read("") { _ in 1 } }
            })
        #expect(loop == "invalid tree at /a: a link loop: /a -> /b -> /a")
        #expect(Self.problem(Tree { Link("self", to: "self", "") }) == "invalid tree at /self: a link loop: /self -> /self")
        #expect(Self.problem(Tree { Link("out", to: "../../elsewhere", "") }) == nil, "leaving the tree is fine")
        #expect(Self.problem(Tree { Link("empty", to: "", "") }) == "invalid tree at /empty: a link needs a target")
    }

    @Test func conditionalNodesNeedAStateConditionWithASignal() {
        let noSignal = Self.problem(
            Tree {
                File("f", "").read("") { _ in 1 }.present(while: Condition(when: { true }, signalledBy: nil))
            })
        #expect(noSignal == "invalid tree at /f: a conditional node without a condition signal")
        let perRequest = Self.problem(
            Tree {
                File("f", "").read("") { _ in 1 }
                    .present(while: Condition(when: { _ in true }, signalledBy: { _ in ChangeSignal() }))
            })
        #expect(perRequest == "invalid tree at /f: a conditional node needs a condition over state, not the request")
        let signalless = Self.problem(
            Tree {
                File("w", "").write(Ignored.self, "", until: Condition(when: { false }, signalledBy: nil))
            })
        #expect(signalless == "invalid tree at /w: a condition without a signal")
    }

    @Test func malformedForEachDeclarations() {
        let entries = DynamicEntries<Int, Int>()
        #expect(
            Self.problem(
                Tree {
                    ForEach(entries, "", named: "gpio") { _ in File("f", "").read("") { _ in 1 } }
                }) == "invalid tree at /gpio: the name pattern \"gpio\" needs exactly one <placeholder>")
        #expect(
            Self.problem(
                Tree {
                    ForEach(each: entries, "") { _ in Directory("d", "") {} }
                }) == "invalid tree at /<n>: a ForEach entry must declare exactly one file or link")
    }
}
