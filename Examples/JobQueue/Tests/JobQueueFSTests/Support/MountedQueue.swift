import Foundation
import Glibc
import JobQueueFS
import Synchronization
import SystemPackage
import VFSKit

/// A queue served on a real FUSE mount by `FUSEServer` on a thread of its own.
/// `close()` stops it, and detaches the mount if it is somehow still there; a watchdog
/// stops the server after `watchdog` seconds, so a stuck test fails instead of hanging.
final class MountedQueue: Sendable {
    /// Kernel tests need /dev/fuse; without it they are skipped, loudly.
    static let isAvailable: Bool = {
        if access("/dev/fuse", F_OK) == 0 { return true }
        print("SKIPPED: /dev/fuse missing — the JobQueueFS kernel tests did not run")
        return false
    }()

    private static let mounting = Mutex(())

    let path: String
    let server: FUSEServer
    private let served = DispatchSemaphore(value: 0)
    private let closed = Atomic(false)

    init(_ queue: JobQueue, watchdog seconds: Double = 60) throws {
        var template = Array((NSTemporaryDirectory() + "jobqueue-mnt.XXXXXX").utf8CString)
        path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        let dispatcher = try Dispatcher(tree: queue.tree, uid: getuid(), gid: getgid())
        let server = FUSEServer(
            dispatcher: dispatcher, mountpoint: path,
            options: FUSEMountOptions(fsname: "jobqueue-test", subtype: "jobqueue-test"))
        self.server = server
        do {
            // One mount at a time: libfuse's socket to each fusermount3 helper is inherited by
            // helpers forked meanwhile, and two helpers holding each other's socket never exit.
            try Self.mounting.withLock { _ throws(FUSEServerError) in try server.mount() }
        } catch {
            rmdir(path)
            throw error
        }
        let served = served
        Thread.detachNewThread {
            server.serve()
            served.signal()
        }
        let deadline = Date().addingTimeInterval(seconds)
        Thread.detachNewThread { [self] in
            while Date() < deadline {
                if closed.load(ordering: .acquiring) { return }
                usleep(50_000)
            }
            print("jobqueue kernel test: watchdog stopped the server at \(path)")
            server.stop()
        }
    }

    func file(_ relative: String) -> String { path + "/" + relative }

    /// Stops serving and removes the mount point; true when the mount went away cleanly.
    @discardableResult
    func close() -> Bool {
        closed.store(true, ordering: .releasing)
        server.stop()
        let stopped = served.wait(timeout: .now() + 15) == .success
        let leftOver = Self.isMounted(path)
        if leftOver { umount2(path, Int32(MNT_DETACH)) }
        rmdir(path)
        return stopped && !leftOver
    }

    static func isMounted(_ path: String) -> Bool {
        guard let mounts = try? String(contentsOfFile: "/proc/mounts", encoding: .utf8) else { return false }
        return mounts.split(separator: "\n").contains { $0.split(separator: " ").dropFirst().first.map(String.init) == path }
    }
}

/// Runs blocking system calls on a thread of their own, never on the concurrency pool.
func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread.detachNewThread { continuation.resume(returning: body()) }
    }
}

/// Plain file I/O through Glibc, as any client of the mount would do it.
enum Posix {
    static func open(_ path: String, _ flags: Int32) throws(Errno) -> Int32 {
        let fd = Glibc.open(path, flags | O_CLOEXEC)
        guard fd >= 0 else { throw Errno(rawValue: errno) }
        return fd
    }

    static func write(_ fd: Int32, _ text: String) -> Result<Int, Errno> {
        let count = Array(text.utf8).withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        return count < 0 ? .failure(Errno(rawValue: errno)) : .success(count)
    }

    static func pread(_ fd: Int32) -> Result<String, Errno> {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let count = Glibc.pread(fd, &buffer, buffer.count, 0)
        return count < 0 ? .failure(Errno(rawValue: errno)) : .success(String(decoding: buffer[..<count], as: UTF8.self))
    }

    /// `echo text > path`.
    static func writeFile(_ path: String, _ text: String) -> Result<Int, Errno> {
        do {
            let fd = try open(path, O_WRONLY | O_TRUNC)
            defer { close(fd) }
            return write(fd, text)
        } catch {
            return .failure(error)
        }
    }

    /// `cat path`.
    static func readFile(_ path: String) -> Result<String, Errno> {
        do {
            let fd = try open(path, O_RDONLY)
            defer { close(fd) }
            return pread(fd)
        } catch {
            return .failure(error)
        }
    }

    /// The revents `poll(2)` answers for one descriptor.
    static func poll(_ fd: Int32, _ events: Int32, timeoutMilliseconds: Int32) -> Int32 {
        var entry = pollfd(fd: fd, events: Int16(events), revents: 0)
        let ready = Glibc.poll(&entry, 1, timeoutMilliseconds)
        return ready < 0 ? -errno : Int32(entry.revents)
    }

    /// `ls path`, without `.` and `..`.
    static func list(_ path: String) -> [String] {
        guard let directory = opendir(path) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
