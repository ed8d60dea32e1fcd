import Foundation
import Synchronization
import SystemPackage
import Testing

@testable import LibUKP

struct TimedOut: Error {}

/// Waits (polling, with a deadline) until `condition` holds; fails the test on timeout.
func until(
    _ what: String = "condition",
    timeout: Duration = .seconds(120),
    _ condition: () async -> Bool
) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    var spins = 0
    while await !condition() {
        guard clock.now < deadline else {
            Issue.record("timed out waiting for \(what)")
            throw TimedOut()
        }
        spins += 1
        if spins < 100 { await Task.yield() } else { try await Task.sleep(for: .milliseconds(1)) }
    }
}

/// A clock the test advances by hand; due actions run synchronously in `advance`.
final class ManualScheduler: Scheduler {
    private struct Item {
        let due: Duration
        let action: @Sendable () -> Void
    }

    private struct State {
        var now: Duration = .zero
        var items: [Item] = []
    }

    private let state = Mutex(State())

    func schedule(after delay: Duration, _ action: @escaping @Sendable () -> Void) {
        guard delay > .zero else { return action() }
        state.withLock { $0.items.append(Item(due: $0.now + delay, action: action)) }
    }

    var pending: Int { state.withLock { $0.items.count } }

    /// Moves the clock forward and runs every action that became due, in due order.
    func advance(by duration: Duration) {
        let due = state.withLock { state -> [Item] in
            state.now += duration
            let now = state.now
            let due = state.items.filter { $0.due <= now }.sorted { $0.due < $1.due }
            state.items.removeAll { $0.due <= now }
            return due
        }
        for item in due { item.action() }
    }
}

/// A platform whose fork signals the test answers one by one.
final class ScriptedPlatform: Platform {
    /// One fork signal, waiting for the test's answer.
    final class Signal: Sendable {
        let number: Int
        private let continuation: CheckedContinuation<Result<ForkOutcome, ForkFailure>, Never>

        init(number: Int, continuation: CheckedContinuation<Result<ForkOutcome, ForkFailure>, Never>) {
            self.number = number
            self.continuation = continuation
        }

        func answer(_ result: Result<ForkOutcome, ForkFailure>) { continuation.resume(returning: result) }

        /// Answers as the parent with a fresh child, which is returned.
        @discardableResult
        func succeed(creationTime: Int64 = 1_700_000_000) -> ForkedChild {
            let child = ForkedChild(id: UUID(), snapshot: UUID(), creationTime: creationTime)
            answer(.success(.parent(child)))
            return child
        }

        func fail(_ failure: ForkFailure) { answer(.failure(failure)) }
    }

    private struct State {
        var signals = 0
        var unclaimed: [Signal] = []
        var claimers: [CheckedContinuation<Signal, Never>] = []
        weak var events: (any PlatformEvents)?
        var renewal: PlatformRenewal?
    }

    private let state = Mutex(State())

    /// What every answer supplies to renew the instance (nil: nothing, like a platform without the wire extension).
    var renewal: PlatformRenewal? {
        get { state.withLock { $0.renewal } }
        set { state.withLock { $0.renewal = newValue } }
    }

    func forkWithRenewal() async throws(ForkFailure) -> ForkReply {
        ForkReply(try await fork(), renewal: renewal)
    }

    /// How many fork signals the engine has sent.
    var signals: Int { state.withLock { $0.signals } }

    /// The engine this platform reports to.
    var events: (any PlatformEvents)? { state.withLock { $0.events } }

    func attach(_ events: any PlatformEvents) { state.withLock { $0.events = events } }

    func fork() async throws(ForkFailure) -> ForkOutcome {
        let result = await withCheckedContinuation { continuation in
            let claimer = state.withLock { state -> (CheckedContinuation<Signal, Never>, Signal)? in
                state.signals += 1
                let signal = Signal(number: state.signals, continuation: continuation)
                guard !state.claimers.isEmpty else {
                    state.unclaimed.append(signal)
                    return nil
                }
                return (state.claimers.removeFirst(), signal)
            }
            if let (claimer, signal) = claimer { claimer.resume(returning: signal) }
        }
        return try result.get()
    }

    /// The next fork signal the engine sends (waits for it).
    func nextSignal() async -> Signal {
        await withCheckedContinuation { continuation in
            let signal = state.withLock { state -> Signal? in
                guard !state.unclaimed.isEmpty else {
                    state.claimers.append(continuation)
                    return nil
                }
                return state.unclaimed.removeFirst()
            }
            if let signal { continuation.resume(returning: signal) }
        }
    }
}

/// Runs `fork` in a task and waits until the engine has queued it behind the running fork.
func queuedFork(_ engine: ForkEngine, thread: Int32) async throws -> Task<UUID, any Error> {
    let before = await engine.queuedForks
    let task = Task { try await engine.fork(thread: thread) }
    try await until("fork of thread \(thread) queued") { await engine.queuedForks == before + 1 }
    return task
}

/// Runs `fork` in a task and waits until its fork signal reaches the scripted platform.
func startedFork(
    _ engine: ForkEngine,
    _ platform: ScriptedPlatform,
    thread: Int32
) async -> (Task<UUID, any Error>, ScriptedPlatform.Signal) {
    let task = Task { try await engine.fork(thread: thread) }
    return (task, await platform.nextSignal())
}

/// The errno a task failed with, or nil if it succeeded.
func errno<T>(of task: Task<T, any Error>) async -> Errno? {
    do {
        _ = try await task.value
        return nil
    } catch let error as Errno {
        return error
    } catch {
        Issue.record("unexpected error \(error)")
        return nil
    }
}
