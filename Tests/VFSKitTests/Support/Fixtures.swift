import Synchronization
import SystemPackage
import Testing

@testable import VFSKit

extension Caller {
    static func user(_ uid: UInt32, gid: UInt32 = 100, thread: Int32 = 4242) -> Caller {
        Caller(uid: uid, gid: gid, threadID: thread)
    }
}

/// A value shared between a test and its handlers.
final class Box<Value: Sendable>: Sendable {
    private let storage: Mutex<Value>
    init(_ value: Value) { storage = Mutex(value) }
    var value: Value {
        get { storage.withLock { $0 } }
        set { storage.withLock { $0 = newValue } }
    }
    @discardableResult
    func update<R: Sendable>(_ body: (inout Value) -> R) -> R { storage.withLock { body(&$0) } }
}

/// A latch that handlers await; opening it releases every waiter. A waiting task
/// that is cancelled stops waiting and learns it (`wait()` returns false).
final class Gate: Sendable {
    private struct State {
        var isOpen = false
        var nextID: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Bool, Never>] = [:]
    }

    private let state = Mutex(State())

    var waiterCount: Int { state.withLock { $0.waiters.count } }

    func open() {
        let waiters = state.withLock { state in
            state.isOpen = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: true) }
    }

    /// True once opened; false if the waiting task was cancelled first.
    func wait() async -> Bool {
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let now = state.withLock { state -> Bool? in
                    if state.isOpen { return true }
                    if Task.isCancelled { return false }
                    state.waiters[id] = continuation
                    return nil
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume(returning: false)
        }
    }
}

/// Counts events and lets a test await a count.
final class Counter: Sendable {
    private struct State {
        var count = 0
        var waiters: [(target: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private let state = Mutex(State())

    var count: Int { state.withLock { $0.count } }

    func increment() {
        let ready = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.count += 1
            let count = state.count
            let ready = state.waiters.filter { $0.target <= count }.map(\.continuation)
            state.waiters.removeAll { $0.target <= count }
            return ready
        }
        for waiter in ready { waiter.resume() }
    }

    /// Returns once the count reached `target`.
    func wait(for target: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if state.count >= target { return true }
                state.waiters.append((target, continuation))
                return false
            }
            if now { continuation.resume() }
        }
    }
}

/// A poll waker that counts how often it fired.
final class CountingWaker: PollWaker {
    private let fired = Atomic(0)
    var count: Int { fired.load(ordering: .acquiring) }
    func wake() { fired.add(1, ordering: .acquiringAndReleasing) }
}

extension Array where Element == UInt8 {
    var text: String { String(decoding: self, as: UTF8.self) }
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Runs `body`; fails the test if it has not finished within `seconds`.
func withTimeout<T: Sendable>(
    _ seconds: Double = 10, sourceLocation: SourceLocation = #_sourceLocation,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            return nil
        }
        guard let first = try await group.next(), let value = first else {
            group.cancelAll()
            Issue.record("timed out after \(seconds) s", sourceLocation: sourceLocation)
            throw CancellationError()
        }
        group.cancelAll()
        return value
    }
}

/// The outcome of an operation that throws `Errno`, comparable in expectations.
enum Outcome<Value: Equatable & Sendable>: Equatable, Sendable, CustomStringConvertible {
    case value(Value)
    case error(Errno)

    init(_ body: () throws(Errno) -> Value) {
        do throws(Errno) { self = .value(try body()) } catch { self = .error(error) }
    }

    init(_ body: () async throws(Errno) -> Value) async {
        do throws(Errno) { self = .value(try await body()) } catch { self = .error(error) }
    }

    var description: String {
        switch self {
        case .value(let value): "value(\(value))"
        case .error(let errno): "error(\(errno))"
        }
    }
}

/// Polls `condition` (yielding, then sleeping 1 ms) until it holds; fails the test after `timeout`.
func until(_ what: String, timeout: Duration = .seconds(60), _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    var spins = 0
    while !condition() {
        try #require(ContinuousClock.now < deadline, "timed out waiting for \(what)")
        spins += 1
        if spins < 100 { await Task.yield() } else { try await Task.sleep(for: .milliseconds(1)) }
    }
}

/// The errno a task failed with; nil when it succeeded or failed otherwise.
func errnoOf<T>(_ task: Task<T, any Error>) async -> Errno? {
    do {
        _ = try await task.value
        return nil
    } catch {
        return error as? Errno
    }
}

/// Lets other work run for a moment, then tells whether `task` is still unfinished.
func stillBlocked<T: Sendable>(_ task: Task<T, any Error>) async -> Bool {
    let finished = Atomic(false)
    let watcher = Task {
        _ = try? await task.value
        finished.store(true, ordering: .releasing)
    }
    for _ in 0..<50 { await Task.yield() }
    try? await Task.sleep(for: .milliseconds(2))
    watcher.cancel()
    return !finished.load(ordering: .acquiring)
}
