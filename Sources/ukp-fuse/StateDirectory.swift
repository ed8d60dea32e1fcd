#if canImport(Glibc)
import Glibc
#endif

/// What the instance must not forget, in one directory per mount point (`--state-dir`,
/// by default `/run/ukp/<escaped mount point>`), so that two daemons never share one:
///
/// - `supervisor.pid`: the supervisor, for `ukp-fuse upgrade`;
/// - `fuse/ukp/`, `fuse/control/`: each connection's records (its `FUSE_INIT`, the node
///   ids and pollers the kernel knows), for a server that takes the connection over;
/// - the engine's and the simulator's state (see LibUKP's `StateJournal`).
///
/// A clean stop (SIGTERM, SIGINT) empties it: the next start begins afresh, as before.
struct StateDirectory: Sendable {
    let path: String

    /// The directory for `mountpoint` under `/run/ukp/`, escaped as `systemd-escape --path`
    /// does (`/uk/libukp` → `uk-libukp`).
    static func defaultPath(for mountpoint: String) -> String {
        var escaped = ""
        let trimmed = mountpoint.split(separator: "/").joined(separator: "/")
        for (index, byte) in trimmed.utf8.enumerated() {
            switch byte {
            case UInt8(ascii: "/"): escaped += "-"
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"):
                escaped.append(Character(Unicode.Scalar(byte)))
            case UInt8(ascii: ".") where index > 0: escaped += "."
            default: escaped += "\\x" + String(byte, radix: 16)
            }
        }
        return "/run/ukp/" + (escaped.isEmpty ? "-" : escaped)
    }

    /// The records of the connection mounted for `tree` (`ukp` or `control`).
    func records(of tree: String) -> String { path + "/fuse/" + tree }

    var supervisorPIDFile: String { path + "/supervisor.pid" }

    /// Creates the directory (mode 0700) and its parents.
    func create() throws(MountPoint.CreationError) {
        try MountPoint.createDirectory(path, mode: 0o700, what: "state directory")
    }

    /// Empties a connection's records: a fresh mount starts without any.
    func clearRecords(of tree: String) throws(MountPoint.CreationError) {
        let records = self.records(of: tree)
        Self.removeContents(of: records)
        try MountPoint.createDirectory(records, mode: 0o700, what: "state directory")
    }

    /// Empties the whole directory (a clean stop).
    func clear() { Self.removeContents(of: path) }

    private static func removeContents(of directory: String) {
        guard let handle = opendir(directory) else { return }
        defer { closedir(handle) }
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name != ".", name != ".." else { continue }
            let child = directory + "/" + name
            if entry.pointee.d_type == UInt8(DT_DIR) {
                removeContents(of: child)
                rmdir(child)
            } else {
                unlink(child)
            }
        }
    }
}
