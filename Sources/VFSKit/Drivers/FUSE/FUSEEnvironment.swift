import Glibc

/// What mounting needs from the machine, checked up front so that each
/// failure is one line naming the problem rather than a libfuse message.
enum FUSEEnvironment {
    /// - Parameter type: the type this server mounts as (`fuse.<subtype>`): a live mount of
    ///   the same type already at the mount point is another server of this kind, refused.
    static func check(mountpoint: String, type: String) throws(FUSEServerError) {
        guard access("/dev/fuse", F_OK) == 0 else { throw .fuseDeviceMissing }
        guard let fusermount = fusermountPath() else { throw .fusermountMissing }
        var info = stat()
        var fs = statvfs()
        // statvfs always asks the server; stat may answer from cached attributes
        if statvfs(mountpoint, &fs) != 0, errno == ENOTCONN {
            clearStaleMount(mountpoint, fusermount: fusermount)
        }
        guard stat(mountpoint, &info) == 0 else {
            switch errno {
            case ENOENT: throw .mountPointMissing(mountpoint)
            case ENOTCONN: throw .staleMountNotCleared(mountpoint)
            case let code: throw .mountPointUnusable(mountpoint, errno: code)
            }
        }
        guard info.st_mode & S_IFMT == S_IFDIR else { throw .mountPointNotDirectory(mountpoint) }
        if MountTable.type(mountedAt: mountpoint) == type { throw .mountPointInUse(mountpoint, type: type) }
    }

    /// libfuse looks in /usr/bin first, then PATH.
    static func fusermountPath() -> String? {
        let path = (getenv("PATH").map { String(cString: $0) } ?? "").split(separator: ":").map(String.init)
        for directory in ["/usr/bin", "/bin"] + path {
            let candidate = directory + "/fusermount3"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// A server that died without unmounting leaves "Transport endpoint is
    /// not connected": detach it (`fusermount3 -u -z`, then `umount -l` as root).
    static func clearStaleMount(_ mountpoint: String, fusermount: String) {
        if run([fusermount, "-u", "-z", mountpoint]) == 0 { return }
        _ = umount2(mountpoint, Int32(MNT_DETACH))
    }

    /// Runs a program and waits; its exit status, or -1.
    static func run(_ arguments: [String]) -> Int32 {
        let argv = arguments.map { strdup($0) } + [nil]
        defer { for string in argv { free(string) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, argv[0]!, nil, nil, argv, environ) == 0 else { return -1 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return status & 0x7f == 0 ? (status >> 8) & 0xff : -1
    }
}
