#if canImport(Glibc)
import Glibc
#endif

/// The environment the server process starts with: the supervisor's, with glibc's
/// per-thread caches of freed blocks turned off (the tunable `glibc.malloc.tcache_count=0`,
/// which glibc reads only when a process starts).
///
/// Each thread keeps its cached blocks for itself, out of reach of `malloc_trim`. After
/// 100,000 children and three rounds of 10,000 waiters came and went, the blocks kept so lie
/// scattered across the heap and pin its pages: 22.9–23.2 MiB stayed resident with four
/// blocks per size, 21.5–21.7 with none (idle: 18.4; glibc's default of seven: up to 24). The
/// cost, measured side by side: sequential sim forks 10,135–10,599/s with four and
/// 9,892–10,458/s with none, `status` pread latency the same (7.0 vs 6.8 µs), 4-thread reads
/// within this machine's noise (0.88 vs 0.82 of C in one run): a request's few allocations
/// are cheap either way next to its trip through the kernel.
///
/// Hooks and other programs the server starts get the daemon's own environment: the server
/// puts `GLIBC_TUNABLES` back as it found it (`restoreInherited()`). A `tcache_count` the
/// daemon was started with is kept.
enum ServerEnvironment {
    static let tunables = "GLIBC_TUNABLES"
    static let tunable = "glibc.malloc.tcache_count"
    static let cacheCount = 0
    /// What `GLIBC_TUNABLES` was in the supervisor ("" when unset), for the server to put back.
    static let inherited = "UKP_FUSE_INHERITED_GLIBC_TUNABLES"

    /// The server's environment, from the supervisor's `KEY=value` entries.
    static func forServer(_ environment: [String]) -> [String] {
        let own = [tunables + "=", inherited + "="]
        let original = environment.last { $0.hasPrefix(own[0]) }.map { String($0.dropFirst(own[0].count)) } ?? ""
        var tuned = original
        if !original.contains(tunable) {
            tuned = (original.isEmpty ? "" : original + ":") + "\(tunable)=\(cacheCount)"
        }
        let kept = environment.filter { entry in !own.contains { entry.hasPrefix($0) } }
        return kept + [own[0] + tuned, own[1] + original]
    }

    /// The supervisor's environment (`environ`), as `KEY=value` entries.
    static var current: [String] {
        var entries: [String] = []
        var entry = environ
        while let pointer = entry.pointee {
            entries.append(String(cString: pointer))
            entry += 1
        }
        return entries
    }

    /// In the server, before any other thread reads the environment: `GLIBC_TUNABLES` as the
    /// supervisor had it (glibc read the tuned value when the process started).
    static func restoreInherited() {
        guard let saved = getenv(inherited).map({ String(cString: $0) }) else { return }
        if saved.isEmpty { unsetenv(tunables) } else { setenv(tunables, saved, 1) }
        unsetenv(inherited)
    }
}
