import CDaemon
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Starts the server process: `descriptors` become its fds 3, 4, …; it closes every other
/// descriptor beyond stderr, and starts with default signal dispositions, no signal blocked,
/// and `environment` (`KEY=value` entries).
enum ProcessSpawner {
    static func spawn(_ command: [String], descriptors: [Int32], environment: [String]) -> Result<pid_t, Errno> {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // Move them high first, so that dup2 onto 3, 4, … never overwrites one not yet moved.
        let parked = descriptors.enumerated().map { Int32(1000 + $0.offset) }
        for (descriptor, high) in zip(descriptors, parked) { posix_spawn_file_actions_adddup2(&actions, descriptor, high) }
        for (index, high) in parked.enumerated() { posix_spawn_file_actions_adddup2(&actions, high, Int32(3 + index)) }
        _ = cdaemon_spawn_close_from(&actions, Int32(3 + descriptors.count))

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var all = sigset_t()
        sigfillset(&all)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = command.map { strdup($0) } + [nil]
        defer { for string in argv { free(string) } }
        let envp = environment.map { strdup($0) } + [nil]
        defer { for string in envp { free(string) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, argv[0]!, &actions, &attributes, argv, envp)
        return result == 0 ? .success(pid) : .failure(Errno(rawValue: result))
    }
}
