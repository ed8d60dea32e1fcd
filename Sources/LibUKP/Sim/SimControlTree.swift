import SystemPackage
public import VFSKit

extension SimPlatform {
    /// The simulator's control tree (SPEC.md, "The simulator's control tree"): play the
    /// platform and the children's apps through files.
    public var controlTree: Tree {
        Tree("The sim platform's control tree") {
            Directory("instances", "Every live instance, the root included") {
                ForEach(
                    instances, "one entry per live instance, the root included",
                    entrySummary: "One simulated instance"
                ) { instance in
                    File("status", permissions: 0o644, "The instance's state")
                        .read("the instance's state") { _ in try instance.value.status }
                        .write(InstanceState.self, "a state name: move it there (`Running`, `Draining`, `Stopping`, `Template`)") {
                            _, state in
                            try self.setStatus(instance.key, to: state)
                        }
                        .poll("POLLPRI|POLLIN on every state change", .changes { _ in try instance.value.statusChanged })
                    File("exit", permissions: 0o644, "The instance's exit")
                        .read("exit code once stopped") { _ in try instance.value.exitCode }
                        .write(Int32.self, "an integer: the instance exits with that code (`Draining`, `Stopping`, `Stopped`)") {
                            context, code in
                            try await self.exit(instance.key, code: code, request: context.requestID)
                        }
                    // Deferred: declaring it makes the instance's engine (see `SimInstance.engine`).
                    Directory.deferred("libukp", "That instance's own ukp tree, exactly as its app sees it at /uk/libukp") {
                        UKPTree.declaration(of: (try? instance.value)?.engine).nodes
                    }
                }
            }
            File("fail_next_forks", permissions: 0o644, "Injected fork failures")
                .read("how many forks will still fail") { _ in self.failNextForks }
                .write(Int.self, "N: the next N platform fork signals fail (`EIO`)") { _, count in
                    guard count >= 0 else { throw Errno.invalidArgument }
                    self.failNextForks = count
                }
            File("fork_latency_ms", permissions: 0o644, "Simulated fork duration")
                .read("the simulated fork duration") { _ in Int(self.forkLatency.milliseconds) }
                .write(Int.self, "a number of milliseconds") { _, milliseconds in
                    self.forkLatency = try Self.duration(milliseconds: milliseconds)
                }
            File("boot_latency_ms", permissions: 0o644, "How long a new child stays Starting")
                .read("how long a new child stays `Starting`") { _ in Int(self.bootLatency.milliseconds) }
                .write(Int.self, "a number of milliseconds") { _, milliseconds in
                    self.bootLatency = try Self.duration(milliseconds: milliseconds)
                }
        }
    }

    private static func duration(milliseconds: Int) throws(Errno) -> Duration {
        guard (0...86_400_000).contains(milliseconds) else { throw .invalidArgument }
        return .milliseconds(milliseconds)
    }
}
