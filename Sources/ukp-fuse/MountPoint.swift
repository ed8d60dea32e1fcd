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
