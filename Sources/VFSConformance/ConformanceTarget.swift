public import SystemPackage
public import VFSKit

/// What `stat` reports, as far as conformance cares.
public struct FileStatus: Sendable, Equatable {
    public var isDirectory: Bool
    public var permissions: UInt16
    public var uid: UInt32
    public var gid: UInt32
    public var size: Int64
    /// A symbolic link (`S_IFLNK`), as `lstat` reports it.
    public var isSymlink: Bool

    public init(isDirectory: Bool, permissions: UInt16, uid: UInt32, gid: UInt32, size: Int64, isSymlink: Bool = false) {
        self.isDirectory = isDirectory
        self.permissions = permissions
        self.uid = uid
        self.gid = gid
        self.size = size
        self.isSymlink = isSymlink
    }
}

/// A change to the namespace or to attributes, which a control filesystem refuses.
public enum Mutation: String, Sendable, CaseIterable {
    case createFile = "create"
    case makeDirectory = "mkdir"
    case unlink
    case removeDirectory = "rmdir"
    case rename
    case chmod, chown, utimes
    case truncateNonZero = "truncate to 1"
}

/// Where the conformance suite runs: a mounted tree, or the in-process driver.
/// Every method opens what it needs and closes it again.
public protocol ConformanceTarget: Sendable {
    /// `lstat`: a link as the last component is not followed.
    func stat(_ path: String) async throws(Errno) -> FileStatus
    /// `stat` through links (the kernel follows them).
    func statFollowing(_ path: String) async throws(Errno) -> FileStatus
    /// A link's target (`readlink`).
    func readlink(_ path: String) async throws(Errno) -> String
    /// `chmod` (on nodes that accept it the suite sets the mode they have: a no-op).
    func setPermissions(_ path: String, _ permissions: UInt16) async throws(Errno)
    /// `chown` (on nodes that accept it the suite sets the owner they have: a no-op).
    func setOwner(_ path: String, uid: UInt32, gid: UInt32) async throws(Errno)
    /// Names in a directory, without `.` and `..`.
    func list(_ path: String) async throws(Errno) -> [String]
    /// Opens `O_RDONLY|O_NONBLOCK` and reads the whole file with reads of `bufferSize` bytes.
    func readAll(_ path: String, bufferSize: Int) async throws(Errno) -> [UInt8]
    /// Opens `O_RDONLY|O_NONBLOCK`, reads at offset 0, then preads `size` bytes at `offset` through the same open.
    func readAfterFirst(_ path: String, offset: Int64, size: Int) async throws(Errno) -> [UInt8]
    /// Opens `O_WRONLY|O_NONBLOCK` and closes again.
    func openForWriting(_ path: String) async throws(Errno)
    /// Opens `O_WRONLY|O_NONBLOCK`, writes `bytes` once, closes.
    func write(_ path: String, _ bytes: [UInt8]) async throws(Errno) -> Int
    /// Truncates to size 0 (what `O_TRUNC` and `: > file` do).
    func truncateToZero(_ path: String) async throws(Errno)
    /// Attempts `mutation` on `path`: `create` and `mkdir` make a new entry inside the directory
    /// `path`; `rename` renames `path` to a new name beside it.
    func attempt(_ mutation: Mutation, on path: String) async throws(Errno)
    /// `poll(2)` with a zero timeout, asking for every event (`POLLIN|POLLPRI|POLLOUT|POLLRDNORM|POLLWRNORM`).
    func pollNow(_ path: String) async throws(Errno) -> PollEvents
}

extension ConformanceTarget {
    /// Targets written before links: no link to follow.
    public func statFollowing(_ path: String) async throws(Errno) -> FileStatus { try await stat(path) }
    public func readlink(_ path: String) async throws(Errno) -> String { throw .noFunction }
    public func setPermissions(_ path: String, _ permissions: UInt16) async throws(Errno) { throw .noFunction }
    public func setOwner(_ path: String, uid: UInt32, gid: UInt32) async throws(Errno) { throw .noFunction }
}
