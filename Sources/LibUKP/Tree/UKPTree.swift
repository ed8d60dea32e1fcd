import SystemPackage
public import VFSKit

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension InstanceState: FileValue {
    public static var typeName: String { "state" }
}

extension ForkEngine {
    /// The ukp filesystem of this instance, as SPEC.md's tree table declares it.
    public nonisolated var tree: Tree { UKPTree.declaration(of: self) }
}

/// SPEC.md's tree table, declared.
enum UKPTree {
    /// The tree `engine` serves; with no engine, the tree's shape alone (its handlers answer
    /// `ESTALE`, `vm/` is empty): what describes an instance that does not exist, such as
    /// the example entry of the sim control tree's `instances/<uuid>/libukp/`.
    static func declaration(of engine: ForkEngine?) -> Tree {
        @Sendable func live() throws(Errno) -> ForkEngine {
            guard let engine else { throw .staleNFSFileHandle }
            return engine
        }
        return Tree("The ukp fork filesystem of one instance") {
            File("fork", permissions: 0o666, "Fork this instance; read the fork result")
                .read("the last fork result (see below)") { context in
                    try live().forkResult(thread: context.threadID)
                }
                .write(Ignored.self, "triggers a fork; blocks until done") { context, _ in
                    _ = try await live().fork(thread: context.threadID, request: context.requestID)
                }
            File("generation", "This incarnation of the instance (like VMGenID): re-seed, rotate identities when it changes")
                .read("this incarnation's UUID; new in every child") { _ in try live().generation }
                .poll("POLLPRI|POLLIN when it changes", .changes { _ in try live().generationChanged })
            Directory("vm", "This instance's children") {
                ForEach(
                    engine?.children ?? DynamicEntries(), "one entry per live child UUID, in creation order",
                    entrySummary: "One child: delete-on-stop, kept for the retention period after it stops"
                ) { child in
                    let stopped = Condition(when: { _ in try child.value.waitIsOver }, signalledBy: { _ in try child.value.waitChanged })
                    let exited = Condition(
                        when: { _ in try child.value.exitCode != nil }, signalledBy: { _ in try child.value.waitChanged })
                    File("snapshot", "Fixed at the child's creation")
                        .read("snapshot UUID the child came from") { _ in try child.value.snapshot }
                    File("creation_time", "Fixed at the child's creation")
                        .read("Unix seconds of the child's creation") { _ in try child.value.creationTime }
                    File("status", "Starting, Running, Draining, Stopping, Stopped or Template")
                        .read("current state name") { _ in try child.value.status }
                        .poll("POLLPRI|POLLIN on every state change", .changes { _ in try child.value.statusChanged })
                    File("wait", permissions: 0o666, "Wait for the child to stop; read its exit code")
                        .read("exit code, once the child stopped", once: exited) { _ in try child.value.exitCode }
                        .write(Ignored.self, "blocks until the child stopped", until: stopped)
                        .poll("POLLIN once the exit code is available", .readable(exited))
                }
            }
        }
    }
}
