import Foundation
import Synchronization
import Testing
import VFSKit

/// Kernel tests need /dev/fuse (and root or fusermount3 rights); without it they are
/// skipped, loudly.
enum KernelFixture {
    static let isAvailable: Bool = {
        if access("/dev/fuse", F_OK) == 0 { return true }
        print("SKIPPED: /dev/fuse missing — the FUSE kernel tests (FUSETests) did not run")
        return false
    }()

    static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Compiled once per test run: Tests/kernel/fuseclient.c and the C baseline server.
    /// (Built before any tree is served, so blocking here holds up no handler.)
    static let cPrograms: Result<(client: String, baseline: String), FixtureError> = {
        let directory = NSTemporaryDirectory() + "vfskit-fuse-tests-\(getpid())"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let client = directory + "/fuseclient"
        let baseline = directory + "/c-server"
        let root = repositoryRoot.path
        let builds = [
            "cc -O2 -pthread -o \(client) \(root)/Tests/kernel/fuseclient.c",
            "cc -O2 $(pkg-config --cflags fuse3) -o \(baseline) \(root)/Benchmarks/c-baseline/server.c $(pkg-config --libs fuse3)",
        ]
        for command in builds where system(command) != 0 {
            return .failure(FixtureError("failed: \(command)"))
        }
        return .success((client, baseline))
    }()

    static var client: String { get throws { try cPrograms.get().client } }
    static var baseline: String { get throws { try cPrograms.get().baseline } }

    /// Whether a FUSE file system is mounted at `path` (per /proc/mounts).
    static func isMounted(_ path: String) -> Bool {
        guard let mounts = try? String(contentsOfFile: "/proc/mounts", encoding: .utf8) else { return false }
        return mounts.split(separator: "\n").contains { line in
            let fields = line.split(separator: " ")
            return fields.count > 2 && fields[1] == path && fields[2].hasPrefix("fuse")
        }
    }

    static func makeMountPoint() -> String {
        var template = Array((NSTemporaryDirectory() + "vfskit-mnt.XXXXXX").utf8CString)
        return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }

    /// Waits up to `timeout` seconds for `condition`.
    static func eventually(timeout: Double = 10, _ condition: () -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A tree served on a real mount by an in-process `FUSEServer` on its own thread.
/// `close()` (called by `withMountedTree` in every outcome) stops it and checks
/// the mount is gone, detaching it as a last resort.
final class MountedTree: Sendable {
    let path: String
    let server: FUSEServer
    private let finished = DispatchSemaphore(value: 0)

    init(_ tree: Tree, options: FUSEMountOptions = FUSEMountOptions(fsname: "vfskit-test", subtype: "vfskit-test")) throws {
        path = KernelFixture.makeMountPoint()
        let dispatcher = try Dispatcher(tree: tree, uid: getuid(), gid: getgid())
        server = FUSEServer(dispatcher: dispatcher, mountpoint: path, options: options)
        do {
            try server.mount()
        } catch {
            rmdir(path)
            throw error
        }
        let server = server
        let finished = finished
        let threadName = threadName
        Thread.detachNewThread {
            // libfuse's workers inherit this name, which lets a test count them.
            Thread.current.name = threadName
            server.serve()
            finished.signal()
        }
    }

    /// The name of the serving thread and of every thread libfuse starts from it.
    var threadName: String { "fuse-" + String(path.suffix(6)) }

    /// Threads of this process serving this mount (libfuse's workers, the serving
    /// thread and its stop helper).
    var servingThreads: Int {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.filter { task in
            let comm = (try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8)) ?? ""
            return comm.trimmingCharacters(in: .whitespacesAndNewlines) == threadName
        }.count
    }

    func file(_ name: String) -> String { path + "/" + name }

    /// Stops serving; true when serve() returned and the mount is gone.
    @discardableResult
    func close() -> Bool {
        server.stop()
        let stopped = finished.wait(timeout: .now() + 15) == .success
        if KernelFixture.isMounted(path) { _ = umount2(path, Int32(MNT_DETACH)) }
        rmdir(path)
        return stopped
    }
}

/// Mounts `tree`, runs `body`, and unmounts whatever happens.
func withMountedTree<R>(_ tree: Tree, _ body: (MountedTree) async throws -> R) async throws -> R {
    let mounted = try MountedTree(tree)
    do {
        let result = try await body(mounted)
        #expect(mounted.close(), "serve() did not return after stop()")
        #expect(!KernelFixture.isMounted(mounted.path))
        return result
    } catch {
        mounted.close()
        throw error
    }
}

/// Set once a child process has exited.
final class ExitFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}

/// A finished child process.
struct ProcessResult: Sendable {
    var status: Int32
    var stdout: String
    var stderr: String

    /// Runs a program, killing it after `timeout` seconds. Waits without holding a
    /// thread of the concurrency pool: the served tree's handlers need those.
    static func run(_ arguments: [String], timeout: Double = 30) async -> ProcessResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let exited = AsyncStream<Void>.makeStream()
        let hasExited = ExitFlag()
        process.terminationHandler = { _ in
            hasExited.set()
            exited.continuation.finish()
        }
        do {
            try process.run()
        } catch {
            return ProcessResult(status: -1, stdout: "", stderr: "\(error)")
        }
        // Our copies of the write ends: closing them lets the reads see EOF.
        try? out.fileHandleForWriting.close()
        try? err.fileHandleForWriting.close()
        let pid = process.processIdentifier
        let watchdog = Task {
            try await Task.sleep(for: .seconds(timeout))
            kill(pid, SIGKILL)
        }
        // Drain the pipes while the process runs (a full pipe would block it).
        async let output = Self.drain(out.fileHandleForReading.fileDescriptor, until: hasExited)
        async let errors = Self.drain(err.fileHandleForReading.fileDescriptor, until: hasExited)
        for await _ in exited.stream {}
        watchdog.cancel()
        return ProcessResult(
            status: process.terminationReason == .exit ? process.terminationStatus : -process.terminationStatus,
            stdout: await output, stderr: await errors)
    }

    /// Reads until EOF, or until the process has exited and the pipe is empty: a
    /// fusermount3 that libfuse forked meanwhile (auto_unmount) may hold a copy of the
    /// write end for the rest of the test run, so EOF alone could never come.
    private static func drain(_ fd: Int32, until exited: ExitFlag) async -> String {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var bytes: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 65536)
                while true {
                    var request = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                    let ready = poll(&request, 1, 50)
                    if ready > 0 {
                        let count = read(fd, &buffer, buffer.count)
                        if count <= 0 { break }
                        bytes += buffer[0..<count]
                    } else if ready == 0 && exited.isSet {
                        break
                    }
                }
                continuation.resume(returning: String(decoding: bytes, as: UTF8.self))
            }
        }
    }

    static func shell(_ script: String, timeout: Double = 30) async -> ProcessResult {
        await run(["/bin/sh", "-c", script], timeout: timeout)
    }

    static func python(_ script: String, _ arguments: [String] = [], timeout: Double = 30) async -> ProcessResult {
        await run(["/usr/bin/env", "python3", "-c", script] + arguments, timeout: timeout)
    }
}

/// Parses `key=value` pairs from a line of client output.
func fields(_ line: String) -> [String: String] {
    var result: [String: String] = [:]
    for pair in line.split(whereSeparator: { $0 == " " || $0 == "\n" }) where pair.contains("=") {
        let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        result[String(parts[0])] = String(parts[1])
    }
    return result
}
