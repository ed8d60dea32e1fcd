import Glibc
import VFSKit

/// `vfs-bench-server [-n N] [-t MAX_THREADS] MOUNTPOINT`: serves `benchTree`
/// in the foreground until SIGINT/SIGTERM, like Benchmarks/c-baseline/server.c.
enum BenchServer {
    static func run(_ arguments: [String]) -> Int32 {
        var entryCount: UInt64 = 0
        var maxThreads = 10
        var mountpoint: String?
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "-n": entryCount = iterator.next().flatMap { UInt64($0) } ?? 0
            case "-t": maxThreads = iterator.next().flatMap { Int($0) } ?? 10
            default: mountpoint = argument
            }
        }
        guard let mountpoint else {
            log("usage: vfs-bench-server [-n N] [-t MAX_THREADS] MOUNTPOINT")
            return 2
        }
        let entries = DynamicEntries<UUIDName, Void>()
        for i in 0..<entryCount { entries.insert((), for: .numbered(i)) }
        let server: FUSEServer
        do {
            let dispatcher = try Dispatcher(tree: benchTree(entries: entries), uid: getuid(), gid: getgid())
            server = FUSEServer(
                dispatcher: dispatcher, mountpoint: mountpoint,
                options: FUSEMountOptions(fsname: "vfsbench", subtype: "vfsbench", maxThreads: maxThreads))
            try server.mount()
        } catch {
            log("vfs-bench-server: \(error)")
            return 1
        }
        log("vfs-bench-server: serving \(mountpoint)")
        server.serve(untilSignalled: [SIGINT, SIGTERM])
        return 0
    }

    static func log(_ message: String) {
        let line = message + "\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
    }
}
