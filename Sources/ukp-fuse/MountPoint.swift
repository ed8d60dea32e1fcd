#if canImport(Glibc)
import Glibc
#endif

/// Mount point chores: create it, and know when the mount answers.
enum MountPoint {
    struct CreationError: Error, CustomStringConvertible {
        let description: String
    }

    /// Creates the directory and its parents if missing (a stale mount is left to the server).
    static func create(_ path: String) throws(CreationError) {
        try createDirectory(path, mode: 0o755, what: "mount point")
    }

    /// Creates `path` and its parents if missing; `what` names it in the error.
    static func createDirectory(_ path: String, mode: mode_t, what: String) throws(CreationError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, mode) != 0 && errno != EEXIST && errno != ENOTCONN {
                let reason = String(cString: strerror(errno))
                throw CreationError(description: "cannot create \(what) \(path): \(prefix): \(reason)")
            }
        }
    }

    /// Blocks until `stat` on the mount point is answered by a server; false after `timeout` seconds.
    @discardableResult
    static func waitUntilAnswering(_ path: String, timeout: Double = 5) -> Bool {
        var info = stat()
        for _ in 0..<Int(timeout * 100) {
            if stat(path, &info) == 0 { return true }
            usleep(10_000)
        }
        return false
    }
}
