#if canImport(Glibc)
import Glibc
#endif

/// Mount point chores: create it, and know when the mount answers.
enum MountPoint {
    struct CreationError: Error, CustomStringConvertible {
        let description: String
    }

    /// Creates the directory and its parents if missing (a stale mount is left to the server).
    static func create(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST && errno != ENOTCONN {
                let reason = String(cString: strerror(errno))
                throw CreationError(description: "cannot create mount point \(path): \(prefix): \(reason)")
            }
        }
    }

    /// Blocks until `stat` on the mount point is answered by the server.
    static func waitUntilAnswering(_ path: String) {
        var info = stat()
        for _ in 0..<500 {
            if stat(path, &info) == 0 { return }
            usleep(10_000)
        }
    }
}

/// Runs blocking work (a FUSE session loop) on its own thread, off the cooperative pool.
enum DedicatedThread {
    static func run(_ body: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let work = Box {
                body()
                continuation.resume()
            }
            var thread = pthread_t()
            let context = Unmanaged.passRetained(work).toOpaque()
            let created = pthread_create(&thread, nil, { context in
                let work = Unmanaged<Box>.fromOpaque(context!).takeRetainedValue()
                work.body()
                return nil
            }, context)
            if created == 0 {
                pthread_detach(thread)
            } else {
                Unmanaged<Box>.fromOpaque(context).release()
                body()
                continuation.resume()
            }
        }
    }

    private final class Box: Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
}
