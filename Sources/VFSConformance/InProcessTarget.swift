public import SystemPackage
public import VFSKit

/// Runs the conformance suite on the in-process driver, through the same dispatcher
/// the FUSE driver uses.
public struct InProcessTarget: ConformanceTarget {
    public let driver: InProcessDriver
    public let caller: Caller

    public init(driver: InProcessDriver, caller: Caller = .root) {
        self.driver = driver
        self.caller = caller
    }

    private static let readOnlyNonBlocking = OpenFlags.readOnly | OpenFlags.nonBlocking
    private static let writeOnlyNonBlocking = OpenFlags.writeOnly | OpenFlags.nonBlocking

    public func stat(_ path: String) async throws(Errno) -> FileStatus {
        Self.status(try driver.lstat(path))
    }

    public func statFollowing(_ path: String) async throws(Errno) -> FileStatus {
        Self.status(try driver.stat(path))
    }

    private static func status(_ attributes: Attributes) -> FileStatus {
        FileStatus(
            isDirectory: attributes.isDirectory, permissions: attributes.permissions,
            uid: attributes.uid, gid: attributes.gid, size: attributes.size, isSymlink: attributes.isSymlink)
    }

    public func readlink(_ path: String) async throws(Errno) -> String {
        try driver.readlink(path)
    }

    public func setPermissions(_ path: String, _ permissions: UInt16) async throws(Errno) {
        try driver.setattr(path, AttributeChange(permissions: permissions), as: caller)
    }

    public func setOwner(_ path: String, uid: UInt32, gid: UInt32) async throws(Errno) {
        try driver.setattr(path, AttributeChange(uid: uid, gid: gid), as: caller)
    }

    public func list(_ path: String) async throws(Errno) -> [String] {
        try driver.list(path, as: caller)
    }

    public func readAll(_ path: String, bufferSize: Int) async throws(Errno) -> [UInt8] {
        let handle = try driver.open(path, flags: Self.readOnlyNonBlocking, as: caller)
        defer { driver.close(handle) }
        var bytes: [UInt8] = []
        while true {
            let chunk = try await driver.read(handle, size: bufferSize, offset: Int64(bytes.count))
            if chunk.isEmpty { return bytes }
            bytes += chunk
        }
    }

    public func readAfterFirst(_ path: String, offset: Int64, size: Int) async throws(Errno) -> [UInt8] {
        let handle = try driver.open(path, flags: Self.readOnlyNonBlocking, as: caller)
        defer { driver.close(handle) }
        _ = try await driver.read(handle, size: 1, offset: 0)
        return try await driver.read(handle, size: size, offset: offset)
    }

    public func openForWriting(_ path: String) async throws(Errno) {
        driver.close(try driver.open(path, flags: Self.writeOnlyNonBlocking, as: caller))
    }

    public func write(_ path: String, _ bytes: [UInt8]) async throws(Errno) -> Int {
        let handle = try driver.open(path, flags: Self.writeOnlyNonBlocking, as: caller)
        defer { driver.close(handle) }
        return try await driver.write(handle, bytes)
    }

    public func truncateToZero(_ path: String) async throws(Errno) {
        _ = try driver.dispatcher.setattr(try driver.stat(path).ino, size: 0, otherChanges: false)
    }

    /// Namespace changes go through `Dispatcher.refuse(_:)`, as the FUSE driver's do.
    public func attempt(_ mutation: Mutation, on path: String) async throws(Errno) {
        let ino = try driver.lstat(path).ino
        let parent = try driver.stat(Self.parent(of: path)).ino
        let name = String(path.split(separator: "/").last ?? "")
        let change: NamespaceChange
        switch mutation {
        case .chmod, .chown, .utimes:
            _ = try driver.dispatcher.setattr(ino, size: nil, otherChanges: true)
            return
        case .truncateNonZero:
            _ = try driver.dispatcher.setattr(ino, size: 1, otherChanges: false)
            return
        case .createFile: change = .create(in: ino, name: "vfs-conformance-new")
        case .makeDirectory: change = .makeDirectory(in: ino, name: "vfs-conformance-new")
        case .unlink: change = .remove(from: parent, name: name)
        case .removeDirectory: change = .removeDirectory(from: parent, name: name)
        case .rename: change = .rename(from: parent, name: name, to: parent, newName: name + ".renamed")
        }
        throw driver.dispatcher.refuse(change)
    }

    private static func parent(of path: String) -> String {
        "/" + path.split(separator: "/").dropLast().joined(separator: "/")
    }

    public func pollNow(_ path: String) async throws(Errno) -> PollEvents {
        let handle = try driver.open(path, flags: Self.readOnlyNonBlocking, as: caller)
        defer { driver.close(handle) }
        return try driver.poll(handle)
    }
}
