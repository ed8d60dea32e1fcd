import Foundation
import Synchronization
import SystemPackage
import Testing
import VFSKit

@testable import LibUKP

extension Caller {
    /// Root on thread `thread`.
    static func thread(_ thread: Int32) -> Caller { Caller(uid: 0, gid: 0, threadID: thread) }
}

/// One ukp tree as an app sees it, through the in-process driver.
struct App {
    let driver: InProcessDriver

    init(_ tree: Tree) throws {
        driver = try InProcessDriver(tree)
    }

    /// `echo … > path` from `thread`, with `count` bytes: the write's answer.
    func write(_ path: String, bytes count: Int = 2, thread: Int32 = 1) async -> Result<Int, Errno> {
        await result { () async throws(Errno) -> Int in
            let handle = try driver.open(path, flags: OpenFlags.writeOnly | OpenFlags.truncate, as: .thread(thread))
            defer { driver.close(handle) }
            return try await driver.write(handle, Self.payload(count))
        }
    }

    /// The write in a task of its own, so the test can see it block, cancel it, await it.
    func startWrite(_ path: String, bytes count: Int = 2, thread: Int32 = 1) -> Task<Int, any Error> {
        Task.immediate {
            let handle = try driver.open(path, flags: OpenFlags.writeOnly, as: .thread(thread))
            defer { driver.close(handle) }
            return try await driver.write(handle, Self.payload(count))
        }
    }

    /// `cat path` from `thread`: the file's text, or the errno.
    func read(_ path: String, thread: Int32 = 1, flags: Int32 = OpenFlags.readOnly) async -> Result<String, Errno> {
        await result { () async throws(Errno) -> String in
            let handle = try driver.open(path, flags: flags, as: .thread(thread))
            defer { driver.close(handle) }
            return String(decoding: try await driver.read(handle), as: UTF8.self)
        }
    }

    /// `cat path`, failing the test on an error.
    func text(_ path: String, thread: Int32 = 1) async throws -> String {
        try await read(path, thread: thread).get()
    }

    func list(_ path: String) -> Result<[String], Errno> {
        Result { () throws(Errno) -> [String] in try driver.list(path) }
    }

    func lookup(_ path: String) -> Result<Attributes, Errno> {
        Result { () throws(Errno) -> Attributes in try driver.stat(path) }
    }

    /// Reads an open handle at `offset`.
    func read(_ handle: InProcessDriver.Handle, offset: Int64 = 0, size: Int = 4096) async -> Result<String, Errno> {
        await result { () async throws(Errno) -> String in
            String(decoding: try await driver.read(handle, size: size, offset: offset), as: UTF8.self)
        }
    }

    func write(_ handle: InProcessDriver.Handle, bytes count: Int = 2) async -> Result<Int, Errno> {
        await write(handle, Self.payload(count))
    }

    func write(_ handle: InProcessDriver.Handle, _ bytes: [UInt8]) async -> Result<Int, Errno> {
        await result { () async throws(Errno) -> Int in try await driver.write(handle, bytes) }
    }

    func poll(_ handle: InProcessDriver.Handle) -> Result<PollEvents, Errno> {
        Result { () throws(Errno) -> PollEvents in try driver.poll(handle) }
    }

    /// ASCII bytes of the given length (what `echo` writes, padded).
    static func payload(_ count: Int) -> [UInt8] {
        guard count > 0 else { return [] }
        return Array(repeating: UInt8(ascii: "1"), count: count - 1) + [UInt8(ascii: "\n")]
    }

    private func result<T>(_ body: () async throws(Errno) -> T) async -> Result<T, Errno> {
        do throws(Errno) { return .success(try await body()) } catch { return .failure(error) }
    }
}

extension UUID {
    /// The name `/vm/` lists and `/fork` shows (without the newline).
    var name: String { uuidString.lowercased() }
    /// What `/fork` reads for this UUID.
    var line: String { name + "\n" }
}

/// Whether a task has finished, without awaiting it.
final class Finished: Sendable {
    private let done = Atomic(false)
    var value: Bool { done.load(ordering: .acquiring) }
    func set() { done.store(true, ordering: .releasing) }
}

/// The errno a driver task failed with (nil if it succeeded).
func errnoOf<T>(_ task: Task<T, any Error>) async -> Errno? {
    await errno(of: task)
}

/// Yields a little so that work started elsewhere can run, then checks the task is still blocked.
func stillBlocked<T>(_ task: Task<T, any Error>, rounds: Int = 50) async -> Bool {
    let finished = Finished()
    let watcher = Task {
        _ = try? await task.value
        finished.set()
    }
    for _ in 0..<rounds { await Task.yield() }
    try? await Task.sleep(for: .milliseconds(2))
    watcher.cancel()
    return !finished.value
}

/// Yields a little, then checks a task that cannot fail is still running.
func stillBlocked<T: Sendable>(_ task: Task<T, Never>, rounds: Int = 50) async -> Bool {
    await stillBlocked(Task<T, any Error> { await task.value }, rounds: rounds)
}

/// Whether a task has finished, without waiting for it.
func finished<T: Sendable>(_ task: Task<T, Never>) async -> Bool {
    let done = Finished()
    let watcher = Task {
        _ = await task.value
        done.set()
    }
    for _ in 0..<10 { await Task.yield() }
    _ = watcher
    return done.value
}
