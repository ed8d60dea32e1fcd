import Dispatch
import Glibc
import JobQueueFS
import VFSKit

/// `jobqueue-fuse [--slots N] MOUNTPOINT` serves a job queue in the foreground until
/// SIGINT/SIGTERM; `jobqueue-fuse --spec` prints its tree. On exit, queued jobs are
/// cancelled and running ones stopped.
enum JobQueueServer {
    static let usage = """
        usage: jobqueue-fuse [--slots N] MOUNTPOINT   serve a job queue at MOUNTPOINT (slots: 1 by default)
               jobqueue-fuse --spec                   print the tree's files
        """

    static func run(_ arguments: [String]) -> Int32 {
        var slots = 1
        var mountpoint: String?
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--spec":
                print(JobQueue().tree.specTable, terminator: "")
                return 0
            case "--slots":
                guard let value = iterator.next().flatMap({ Int($0) }), (1...64).contains(value) else {
                    log("jobqueue-fuse: --slots takes a number from 1 to 64")
                    return 2
                }
                slots = value
            case "-h", "--help":
                print(usage)
                return 0
            default:
                guard mountpoint == nil, !argument.hasPrefix("-") else {
                    log(usage)
                    return 2
                }
                mountpoint = argument
            }
        }
        guard let mountpoint else {
            log(usage)
            return 2
        }

        let queue = JobQueue(slots: slots)
        let server: FUSEServer
        do {
            let dispatcher = try Dispatcher(tree: queue.tree, uid: getuid(), gid: getgid())
            server = FUSEServer(
                dispatcher: dispatcher, mountpoint: mountpoint,
                options: FUSEMountOptions(fsname: "jobqueue", subtype: "jobqueue"))
            try server.mount()
        } catch {
            log("jobqueue-fuse: \(error)")
            return 1
        }
        print("jobqueue-fuse: serving \(mountpoint)")
        fflush(nil)
        server.serve(untilSignalled: [SIGINT, SIGTERM])

        let stopped = DispatchSemaphore(value: 0)
        Task {
            await queue.shutdown()
            stopped.signal()
        }
        stopped.wait()
        return 0
    }

    static func log(_ message: String) {
        let line = message + "\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
    }
}
