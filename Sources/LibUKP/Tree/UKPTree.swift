#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SystemPackage
public import VFSKit

extension InstanceState: FileValue {
    public static var typeName: String { "state" }
}

extension ForkEngine {
    /// The ukp filesystem of this instance, as SPEC.md's tree table declares it.
    public nonisolated var tree: Tree {
        Tree("The ukp fork filesystem of one instance") {
            File("fork", permissions: 0o666, "Fork this instance; read the fork result")
                .read("the last fork result (see below)") { context in
                    self.forkResult(thread: context.threadID)
                }
                .write(Ignored.self, "triggers a fork; blocks until done") { context, _ in
                    _ = try await self.fork(thread: context.threadID)
                }
            File("generation", "This incarnation of the instance (like VMGenID): re-seed, rotate identities when it changes")
                .read("this incarnation's UUID; new in every child") { _ in self.generation }
                .poll("POLLPRI|POLLIN when it changes", .changes { _ in self.generationChanged })
            Directory("vm", "This instance's children") {
                ForEach(children, "one entry per live child UUID, in creation order",
                        entrySummary: "One child: delete-on-stop, kept for the retention period after it stops") { child in
                    let stopped = Condition(when: { _ in try child.value.waitIsOver }, signalledBy: { _ in try child.value.waitChanged })
                    let exited = Condition(when: { _ in try child.value.exitCode != nil }, signalledBy: { _ in try child.value.waitChanged })
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
