import Synchronization

@testable import VFSKit

/// A tree with every issue-15 feature: links (fixed, computed, into a dynamic entry), a
/// ForEach of files with a name pattern, a conditional file, a file that accepts chmod/chown.
final class ControlFeatures: Sendable {
    let counters = DynamicEntries<Int, Box<Int>>()
    let mode = Box("off")
    let modeChanged = ChangeSignal()
    let tickled = ChangeSignal()

    func tree(profile: TreeProfile) -> Tree {
        let mode = mode
        let modeChanged = modeChanged
        let tickled = tickled
        return Tree("features", profile: profile) {
            File("mode", "on or off")
                .read("the mode") { _ in mode.value }
                .write(String.self, "on or off") { _, text in
                    mode.value = text
                    modeChanged.signal()
                }
                .poll("after a change", .changes { _ in tickled })
            File("extra", "Only while on")
                .read("42") { _ in 42 }
                .present(while: Condition(when: { mode.value == "on" }, signalledBy: modeChanged))
            File("shared", "chmod and chown allowed")
                .read("1") { _ in 1 }
                .write(Int.self, "anything") { _, _ in }
                .allowing([.mode, .owner])
            Directory("counters", "One file per counter") {
                ForEach(each: counters, "one file per counter", named: "c<n>") { counter in
                    File("", "a counter").read("its value") { _ in try counter.value.value }
                }
            }
            Link("to-mode", to: "mode", "A fixed link")
            Link("up", to: "counters/../mode", "Through a directory and back")
            Link("first", "A computed link to the first counter") {
                guard let first = self.counters.keys.first else { throw Errno.noSuchFileOrDirectory }
                return "counters/c\(first)"
            }
        }
    }
}
