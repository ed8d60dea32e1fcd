import CFUSE
import Glibc

/// A kernel FUSE mount and its `/dev/fuse` descriptor, owned by a supervisor that serves
/// nothing itself: servers take the connection over (`FUSEHandover`).
///
/// Mounting is libfuse's (`fuse_session_mount`: `mount(2)` as root, `fusermount3`
/// otherwise, `auto_unmount` so that the mount goes when the supervisor dies), on a session
/// that never runs a loop.
public final class FUSEMount: @unchecked Sendable {
    public let mountpoint: String
    /// The connection's descriptor. It is close-on-exec: a server gets it as a copy
    /// (`dup2`), so that no other child of the supervisor (another mount's `fusermount3`)
    /// holds the connection open after the supervisor is gone.
    public let descriptor: Int32
    private let session: OpaquePointer

    /// Mounts at `mountpoint` (clearing a stale mount there first), with `options`.
    public init(at mountpoint: String, options: FUSEMountOptions) throws(FUSEServerError) {
        try FUSEEnvironment.check(mountpoint: mountpoint, type: "fuse." + options.subtype)
        let arguments = ["vfskit", "-o", options.optionString]
        let strings = arguments.map { strdup($0) }
        defer { for string in strings { free(string) } }
        var argv = strings
        var ops = fuse_lowlevel_ops()
        let session = argv.withUnsafeMutableBufferPointer { argv -> OpaquePointer? in
            var args = fuse_args(argc: Int32(argv.count), argv: argv.baseAddress, allocated: 0)
            defer { fuse_opt_free_args(&args) }
            return fuse_session_new(&args, &ops, MemoryLayout<fuse_lowlevel_ops>.size, nil)
        }
        guard let session else { throw .sessionCreationFailed }
        guard fuse_session_mount(session, mountpoint) == 0 else {
            fuse_session_destroy(session)
            throw .mountFailed(mountpoint)
        }
        let fd = fuse_session_fd(session)
        self.mountpoint = mountpoint
        self.descriptor = fd
        self.session = session
    }

    /// Wakes the loop of a server that is stopping (`FUSEServer.stop()` in a server that took
    /// the connection over): sends it one request, from a thread of this process, every
    /// 50 ms until `isStopped` says so. The last one may stay unanswered until `unmount()`.
    public func wakeServer(until isStopped: @escaping @Sendable () -> Bool) {
        let mountpoint = self.mountpoint
        DedicatedThread.detach {
            var info = statvfs()
            while !isStopped() {
                _ = statvfs(mountpoint, &info)
                usleep(50_000)
            }
        }
    }

    /// Unmounts: callers still waiting on the connection fail (`ENOTCONN`).
    public func unmount() {
        fuse_session_unmount(session)
        fuse_session_destroy(session)
    }
}
