import ArgumentParser
import LibUKP

/// `ukp-fuse spec`: the tree table, generated from the declarations the daemon serves.
struct Spec: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the tree table generated from the declarations (Markdown).")

    @Flag(help: "Print the simulator's control tree instead of the ukp tree.")
    var control = false

    func run() {
        let sim = SimPlatform()
        print(control ? sim.controlTree.specTable : sim.root.engine.tree.specTable, terminator: "")
    }
}
