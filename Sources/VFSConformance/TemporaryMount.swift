public import VFSKit

#if canImport(Glibc)
import Glibc
#endif

/// Serves a dispatcher on a real kernel mount in a fresh temporary directory for the
/// duration of `body`, then unmounts — also when `body` throws.
///
/// ```swift
/// try await TemporaryMount.with(Dispatcher(tree: tree)) { mountpoint in
///     let report = await ConformanceSuite(tree: tree, owner: Owner(uid: 0, gid: 0))
///         .run(on: MountedTarget(mountpoint: mountpoint))
///     #expect(report.passed, "\(report)")
/// }
/// ```
/// Returns nil without running `body` when `/dev/fuse` is missing, after printing a loud
/// `SKIPPED` line, so a test can say it was skipped.
public enum TemporaryMount {
    /// True when this machine can mount FUSE.
    public static var isAvailable: Bool { access("/dev/fuse", R_OK | W_OK) == 0 }

    @discardableResult
    public static func with<Result: Sendable>(
        _ dispatcher: Dispatcher, options: FUSEMountOptions = FUSEMountOptions(),
        _ body: (String) async throws -> Result
    ) async throws -> Result? {
        guard isAvailable else {
            print("SKIPPED: /dev/fuse missing: kernel-mount test not run")
            return nil
        }
        var template = Array("/tmp/vfskit-mount.XXXXXX".utf8CString)
        guard let directory = mkdtemp(&template) else { throw MountError(description: "mkdtemp failed") }
        let mountpoint = String(cString: directory)
        defer { rmdir(mountpoint) }
        let server = FUSEServer(dispatcher: dispatcher, mountpoint: mountpoint, options: options)
        try server.mount()
        guard let loop = DedicatedThread.start({ server.serve() }) else {
            server.stop()
            server.serve()
            throw MountError(description: "cannot start a thread to serve \(mountpoint)")
        }
        defer {
            server.stop()
            loop.join()
        }
        var info = stat()
        for _ in 0..<500 where lstat(mountpoint, &info) != 0 { usleep(10_000) }
        return try await body(mountpoint)
    }

    struct MountError: Error, CustomStringConvertible {
        let description: String
    }
}
