/// Why a tree could not be mounted; each description is one line naming the problem.
public enum FUSEServerError: Error, Sendable, Equatable, CustomStringConvertible {
    case fuseDeviceMissing
    case fusermountMissing
    case mountPointMissing(String)
    case mountPointNotDirectory(String)
    case mountPointUnusable(String, errno: Int32)
    case staleMountNotCleared(String)
    /// A live mount of the same type is already there: another server of this kind.
    case mountPointInUse(String, type: String)
    case sessionCreationFailed
    case mountFailed(String)
    case alreadyMounted(String)
    /// The records of a handed-over connection (see `FUSEHandover`) cannot be kept.
    case recordsUnusable(String, errno: Int32)
    /// The handed-over descriptor could not be cloned (`FUSEHandover.HeldRequests.failed`).
    case deviceCloneFailed(errno: Int32)

    public var description: String {
        switch self {
        case .fuseDeviceMissing:
            "/dev/fuse is missing: load the fuse module or run with access to the FUSE device"
        case .fusermountMissing:
            "fusermount3 not found in PATH: install fuse3"
        case .mountPointMissing(let path):
            "mount point \(path) does not exist"
        case .mountPointNotDirectory(let path):
            "mount point \(path) is not a directory"
        case .mountPointUnusable(let path, let errno):
            "mount point \(path) is not usable: \(errnoDescription(errno))"
        case .staleMountNotCleared(let path):
            "a stale FUSE mount at \(path) could not be removed (Transport endpoint is not connected)"
        case .mountPointInUse(let path, let type):
            "\(path) is already served by a live \(type) mount (another server?): stop it or unmount it first"
        case .sessionCreationFailed:
            "libfuse could not create a session (bad mount options?)"
        case .mountFailed(let path):
            "mounting FUSE at \(path) failed"
        case .alreadyMounted(let path):
            "this server is already mounted at \(path)"
        case .recordsUnusable(let path, let errno):
            "cannot keep the connection's records in \(path): \(errnoDescription(errno))"
        case .deviceCloneFailed(let errno):
            "cannot clone the FUSE descriptor (FUSE_DEV_IOC_CLONE on /dev/fuse): \(errnoDescription(errno))"
        }
    }
}
