#if canImport(Glibc)
import Glibc
#endif

/// The environment the server process starts with: the supervisor's, with glibc's
/// per-thread caches of freed blocks cut from seven blocks per size to four (the tunable
/// `glibc.malloc.tcache_count`, which glibc reads only when a process starts).
///
/// Each thread keeps its cached blocks for itself, out of reach of `malloc_trim`. After
/// 100,000 children came and went, the few thousand blocks kept so lie scattered across
/// the heap and pin its pages: 2–5 MiB stayed resident (22–24 MiB after cleanup, with an
/// idle server of 18). Four blocks per size keep the fast path of the common
/// allocate-and-free runs and pin half as many pages.
///
/// Hooks and other programs the server starts get the daemon's own environment: the server
/// puts `GLIBC_TUNABLES` back as it found it (`restoreInherited()`). A `tcache_count` the
/// daemon was started with is kept.
enum ServerEnvironment {
    static let tunables = "GLIBC_TUNABLES"
    static let tunable = "glibc.malloc.tcache_count"
    static let cacheCount = 4
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
