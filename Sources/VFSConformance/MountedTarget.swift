public import SystemPackage
public import VFSKit

#if canImport(Glibc)
import Glibc
#endif

/// Runs the conformance suite on a mounted tree with ordinary system calls.
public struct MountedTarget: ConformanceTarget {
    /// The mount point; suite paths (`/a/b`) are taken relative to it.
    public let mountpoint: String

    public init(mountpoint: String) {
        self.mountpoint = mountpoint
    }

    private func full(_ path: String) -> String {
        path == "/" ? mountpoint : mountpoint + path
    }

    private static func check(_ result: Int32) throws(Errno) {
        if result < 0 { throw Errno(rawValue: errno) }
    }

    private func open(_ path: String, _ flags: Int32) throws(Errno) -> Int32 {
        let fd = Glibc.open(full(path), flags)
        try Self.check(fd)
        return fd
    }

    public func stat(_ path: String) async throws(Errno) -> FileStatus {
        var info = Glibc.stat()
        try Self.check(lstat(full(path), &info))
        return Self.status(info)
    }

    public func statFollowing(_ path: String) async throws(Errno) -> FileStatus {
        var info = Glibc.stat()
        try Self.check(followingStat(full(path), &info))
        return Self.status(info)
    }

    private static func status(_ info: Glibc.stat) -> FileStatus {
        FileStatus(
            isDirectory: info.st_mode & S_IFMT == S_IFDIR, permissions: UInt16(info.st_mode & 0o7777),
            uid: info.st_uid, gid: info.st_gid, size: Int64(info.st_size), isSymlink: info.st_mode & S_IFMT == S_IFLNK)
    }

    public func readlink(_ path: String) async throws(Errno) -> String {
        var buffer = [CChar](repeating: 0, count: 4097)
        let count = Glibc.readlink(full(path), &buffer, 4096)
        if count < 0 { throw Errno(rawValue: errno) }
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public func setPermissions(_ path: String, _ permissions: UInt16) async throws(Errno) {
        try Self.check(chmod(full(path), mode_t(permissions)))
    }

    public func setOwner(_ path: String, uid: UInt32, gid: UInt32) async throws(Errno) {
        try Self.check(lchown(full(path), uid, gid))
    }

    public func list(_ path: String) async throws(Errno) -> [String] {
        guard let directory = opendir(full(path)) else { throw Errno(rawValue: errno) }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    public func readAll(_ path: String, bufferSize: Int) async throws(Errno) -> [UInt8] {
        let fd = try open(path, O_RDONLY | O_NONBLOCK)
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: bufferSize)
        while true {
            let count = Glibc.read(fd, &buffer, bufferSize)
            if count < 0 { throw Errno(rawValue: errno) }
            if count == 0 { return bytes }
            bytes += buffer[0..<count]
        }
    }

    public func readAfterFirst(_ path: String, offset: Int64, size: Int) async throws(Errno) -> [UInt8] {
        let fd = try open(path, O_RDONLY | O_NONBLOCK)
        defer { close(fd) }
        var first: UInt8 = 0
        if pread(fd, &first, 1, 0) < 0 { throw Errno(rawValue: errno) }
        var buffer = [UInt8](repeating: 0, count: max(size, 1))
        let count = pread(fd, &buffer, size, off_t(offset))
        if count < 0 { throw Errno(rawValue: errno) }
        return Array(buffer[0..<count])
    }

    public func openForWriting(_ path: String) async throws(Errno) {
        close(try open(path, O_WRONLY | O_NONBLOCK))
    }

    public func write(_ path: String, _ bytes: [UInt8]) async throws(Errno) -> Int {
        let fd = try open(path, O_WRONLY | O_NONBLOCK)
        defer { close(fd) }
        let count = Glibc.write(fd, bytes, bytes.count)
        if count < 0 { throw Errno(rawValue: errno) }
        return count
    }

    public func truncateToZero(_ path: String) async throws(Errno) {
        try Self.check(truncate(full(path), 0))
    }

    public func attempt(_ mutation: Mutation, on path: String) async throws(Errno) {
        let target = full(path)
        let sibling = target + ".conformance-\(getpid())"
        let inside = target + "/vfs-conformance-\(getpid())"
        switch mutation {
        case .createFile:
            let fd = Glibc.open(inside, O_WRONLY | O_CREAT | O_EXCL, 0o644)
            if fd >= 0 {
                close(fd)
                unlink(inside)
            }
            try Self.check(fd)
        case .makeDirectory:
            let result = mkdir(inside, 0o755)
            if result == 0 { rmdir(inside) }
            try Self.check(result)
        case .unlink: try Self.check(unlink(target))
        case .removeDirectory: try Self.check(rmdir(target))
        case .rename: try Self.check(rename(target, sibling))
        case .chmod: try Self.check(chmod(target, 0o777))
        case .chown: try Self.check(chown(target, 12345, 12345))
        case .utimes: try Self.check(utimes(target, nil))
        case .truncateNonZero: try Self.check(truncate(target, 1))
        }
    }

    public func pollNow(_ path: String) async throws(Errno) -> PollEvents {
        let fd = try open(path, O_RDONLY | O_NONBLOCK)
        defer { close(fd) }
        var request = pollfd(fd: fd, events: Int16(POLLIN | POLLPRI | POLLOUT | POLLRDNORM | POLLWRNORM), revents: 0)
        try Self.check(poll(&request, 1, 0))
        return PollEvents(rawValue: UInt32(UInt16(bitPattern: request.revents)))
    }
}

/// `stat(2)`, which the conformance target's own `stat` method hides inside it.
private func followingStat(_ path: String, _ info: inout Glibc.stat) -> Int32 {
    stat(path, &info)
}
