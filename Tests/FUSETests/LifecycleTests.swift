import Foundation
import Testing
import VFSKit

extension KernelTests {
    /// Mounting, stopping, crashing, and what is left at the mount point.
    @Suite(.timeLimit(.minutes(2)))
    struct Lifecycle {
        /// stop() answers every blocked caller with EIO, then unmounts.
        @Test func stopAnswersBlockedWritersWithEIOAndUnmounts() async throws {
            let fixture = KernelTestTree()
            let mount = try MountedTree(fixture.tree)
            let writer = Process()
            let errors = Pipe()
            writer.executableURL = URL(fileURLWithPath: "/bin/sh")
            writer.arguments = ["-c", "echo 1 > \(mount.file("wait"))"]
            writer.standardError = errors
            do {
                try writer.run()
            } catch {
                mount.close()
                throw error
            }
            #expect(await KernelFixture.eventually { fixture.gate.waiting == 1 })
            #expect(mount.close(), "serve() did not return")
            writer.waitUntilExit()
            let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(writer.terminationStatus != 0)
            #expect(message.contains("Input/output error") || message.contains("I/O error"), "\(message)")
            #expect(!KernelFixture.isMounted(mount.path))
        }

        /// A server killed with SIGKILL leaves no mount behind (libfuse's auto_unmount).
        @Test func crashedServerLeavesNoMount() async throws {
            let baseline = try KernelFixture.baseline
            let path = KernelFixture.makeMountPoint()
            defer { rmdir(path) }
            let server = Process()
            server.executableURL = URL(fileURLWithPath: baseline)
            server.arguments = [path]
            try server.run()
            defer {
                if server.isRunning { kill(server.processIdentifier, SIGKILL) }
                if KernelFixture.isMounted(path) { _ = umount2(path, Int32(MNT_DETACH)) }
            }
            #expect(await KernelFixture.eventually { KernelFixture.isMounted(path) })
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
            #expect(await KernelFixture.eventually { !KernelFixture.isMounted(path) }, "mount left behind after a crash")
        }

        /// A dead mount ("Transport endpoint is not connected") at the mount point is
        /// cleared at start-up.
        @Test func staleMountIsClearedAtMount() async throws {
            let baseline = try KernelFixture.baseline
            let path = KernelFixture.makeMountPoint()
            let server = Process()
            server.executableURL = URL(fileURLWithPath: baseline)
            server.arguments = ["-S", path]  // no auto_unmount: its death leaves a stale mount
            try server.run()
            defer {
                if server.isRunning { kill(server.processIdentifier, SIGKILL) }
                if KernelFixture.isMounted(path) { _ = umount2(path, Int32(MNT_DETACH)) }
                rmdir(path)
            }
            #expect(await KernelFixture.eventually { KernelFixture.isMounted(path) })
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
            var info = stat()
            #expect(stat(path, &info) != 0 && errno == ENOTCONN, "expected a stale mount")

            let dispatcher = try Dispatcher(tree: KernelTestTree().tree)
            let fuse = FUSEServer(dispatcher: dispatcher, mountpoint: path)
            try fuse.mount()
            let done = DispatchSemaphore(value: 0)
            Thread.detachNewThread {
                fuse.serve()
                done.signal()
            }
            let cat = await ProcessResult.run(["/bin/cat", path + "/status"])
            fuse.stop()
            #expect(done.wait(timeout: .now() + 15) == .success)
            #expect(cat.stdout == "Running\n")
            #expect(!KernelFixture.isMounted(path))
        }

        /// A second server of the same type on a served mount point is refused (it would
        /// hide the first); the first keeps serving.
        @Test func aMountPointServedByAnotherServerIsRefused() async throws {
            let first = try MountedTree(KernelTestTree().tree)
            defer { first.close() }
            #expect(await KernelFixture.eventually { KernelFixture.isMounted(first.path) })
            let second = FUSEServer(
                dispatcher: try Dispatcher(tree: KernelTestTree().tree), mountpoint: first.path,
                options: FUSEMountOptions(fsname: "vfskit-test", subtype: "vfskit-test"))
            #expect(throws: FUSEServerError.mountPointInUse(first.path, type: "fuse.vfskit-test")) { try second.mount() }
            let cat = await ProcessResult.run(["/bin/cat", first.file("status")])
            #expect(cat.stdout == "Running\n")
        }

        @Test func unusableMountPointsAreOneLineErrors() throws {
            let dispatcher = try Dispatcher(tree: KernelTestTree().tree)
            let missing = "/nonexistent/vfskit-\(getpid())"
            #expect(throws: FUSEServerError.mountPointMissing(missing)) {
                try FUSEServer(dispatcher: dispatcher, mountpoint: missing).mount()
            }
            let file = NSTemporaryDirectory() + "vfskit-file-\(getpid())"
            _ = FileManager.default.createFile(atPath: file, contents: Data())
            defer { unlink(file) }
            #expect(throws: FUSEServerError.mountPointNotDirectory(file)) {
                try FUSEServer(dispatcher: dispatcher, mountpoint: file).mount()
            }
            for error in [
                FUSEServerError.mountPointMissing(missing), .mountPointNotDirectory(file), .fuseDeviceMissing, .fusermountMissing,
                .staleMountNotCleared(file), .mountPointInUse(file, type: "fuse.x"),
            ] {
                #expect(!error.description.contains("\n"))
                #expect(!error.description.isEmpty)
            }
        }

        /// By default only the mounting user may use the tree; `allowOther` opens it to
        /// everyone, still under the kernel's mode checks (`default_permissions`).
        @Test(arguments: [false, true])
        func allowOther(_ allowOther: Bool) async throws {
            guard getuid() == 0 else { return }  // needs another user to try with
            let options = FUSEMountOptions(allowOther: allowOther, fsname: "vfskit-test", subtype: "vfskit-test")
            let mount = try MountedTree(KernelTestTree().tree, options: options)
            let nobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
            let read = await ProcessResult.run(nobody + ["/bin/cat", mount.file("status")])
            let writeOpen = await ProcessResult.run(nobody + ["/bin/sh", "-c", "echo hi > \(mount.file("note"))"])
            let writeReadOnly = await ProcessResult.run(nobody + ["/bin/sh", "-c", "echo hi > \(mount.file("status"))"])
            #expect(mount.close())
            if allowOther {
                #expect(read.stdout == "Running\n", "\(read.stderr)")
                #expect(writeOpen.status == 0, "\(writeOpen.stderr)")
                #expect(writeReadOnly.status != 0 && writeReadOnly.stderr.contains("Permission denied"), "\(writeReadOnly.stderr)")
            } else {
                #expect(read.status != 0 && read.stderr.contains("Permission denied"), "\(read.stdout) \(read.stderr)")
                #expect(writeOpen.status != 0)
            }
        }

        /// stop() before serve() and twice in a row are harmless.
        @Test func stopIsIdempotent() async throws {
            let mount = try MountedTree(KernelTestTree().tree)
            mount.server.stop()
            mount.server.stop()
            #expect(mount.close())
            #expect(!KernelFixture.isMounted(mount.path))
        }
    }
}
