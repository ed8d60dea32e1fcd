import Foundation
import Synchronization
import SystemPackage
import VFSKit

@testable import LibUKP

/// A platform whose fork signals the fuzzer answers one by one, without blocking the fuzzer.
final class FuzzPlatform: Platform {
    private struct State {
        var sent = 0
        var unanswered: [CheckedContinuation<Result<ForkOutcome, ForkFailure>, Never>] = []
    }

    private let state = Mutex(State())

    /// How many fork signals the engine has sent.
    var sent: Int { state.withLock { $0.sent } }

    func attach(_ events: any PlatformEvents) {}

    func fork() async throws(ForkFailure) -> ForkOutcome {
        let result = await withCheckedContinuation { continuation in
            state.withLock { state in
                state.sent += 1
                state.unanswered.append(continuation)
            }
        }
        return try result.get()
    }

    /// Answers the oldest unanswered signal; false if there is none.
    func answerOldest(_ result: Result<ForkOutcome, ForkFailure>) -> Bool {
        let continuation = state.withLock { state in state.unanswered.isEmpty ? nil : state.unanswered.removeFirst() }
        continuation?.resume(returning: result)
        return continuation != nil
    }
}

/// Where a blocked write's answer lands.
final class AnswerBox: Sendable {
    private let answer = Mutex<FuzzAnswer?>(nil)
    var value: FuzzAnswer? { answer.withLock { $0 } }
    func set(_ value: FuzzAnswer) { answer.withLock { $0 = value } }
}

/// The real engine, seen by apps only through its tree on the in-process driver; the fuzzer
/// plays the platform (fork answers, child events, becoming a child) and the clock.
final class FuzzSystem {
    private struct Pending {
        let request: Int
        let box: AnswerBox
        let task: Task<Void, Never>
    }

    /// The observer's own handles on one child's files, and what it last read from them.
    private struct Observer {
        let ordinal: Int
        let statusHandle: InProcessDriver.Handle
        let waitHandle: InProcessDriver.Handle
        var status: String
        var wait: String
    }

    /// How long to wait for an answer the model says is due before calling it missing.
    let deadline: Duration

    let scheduler = ManualScheduler()
    let platform = FuzzPlatform()
    let engine: ForkEngine
    let driver: InProcessDriver
    private var forkHandles: [Int32: InProcessDriver.Handle] = [:]
    private var forks: [Pending] = []
    private var waits: [Pending] = []
    private var handles: [InProcessDriver.Handle] = []
    private var observers: [String: Observer] = [:]
    private var ordinals: [UUID: Int] = [:]
    private var nextOrdinal = 0
    private var nextRequest = 0

    init(_ configuration: ReferenceModel.Configuration, deadline: Duration = .seconds(10)) throws {
        self.deadline = deadline
        engine = ForkEngine(platform: platform, configuration: configuration.engine, scheduler: scheduler)
        driver = try InProcessDriver(engine.tree)
        for thread in ReferenceModel.threads {
            forkHandles[thread] = try driver.open("/fork", flags: OpenFlags.readOnly, as: .thread(thread))
        }
    }

    /// Performs one operation; `expected` (the model's answer) and `model` (after the step)
    /// only tell how long to wait for asynchronous effects, never what to answer.
    func perform(_ operation: FuzzOperation, expected: FuzzStep, model: ReferenceModel) async -> FuzzStep {
        var step = FuzzStep(answer: .done)
        switch operation {
        case .fork(let thread, let bytes):
            let before = (platform.sent, await engine.queuedForks)
            let pending = startWrite(.thread(thread), bytes: bytes) { [driver] caller throws(Errno) in
                try driver.open("/fork", flags: OpenFlags.writeOnly, as: caller)
            }
            let blocks = expected.answer == .pending
            _ = await settle(deadline) {
                if pending.box.value != nil { return true }
                guard blocks else { return false }
                if self.platform.sent > before.0 { return true }
                return await self.engine.queuedForks > before.1
            }
            step.answer = pending.box.value ?? .pending
            if step.answer == .pending { forks.append(pending) }
        case .answer(let answer):
            let outcome: Result<ForkOutcome, ForkFailure>
            switch answer {
            case .parent:
                let ordinal = nextOrdinal
                nextOrdinal += 1
                ordinals[FuzzIDs.child(ordinal)] = ordinal
                outcome = .success(
                    .parent(
                        ForkedChild(
                            id: FuzzIDs.child(ordinal), snapshot: FuzzIDs.snapshot(ordinal), creationTime: FuzzIDs.creationTime(ordinal))))
            case .signalFailed: outcome = .failure(.signalFailed)
            case .rejected(let errno): outcome = .failure(.rejected(errno))
            case .child: outcome = .success(.child)
            }
            if !platform.answerOldest(outcome) {
                _ = await settle(deadline) { self.platform.answerOldest(outcome) }
            }
        case .interruptFork(let pick):
            let pending = forks.sorted { $0.request < $1.request }
            guard !pending.isEmpty else { return FuzzStep(answer: .errno(.badMessage)) }
            pending[pick % pending.count].task.cancel()
        case .wait(let ordinal, let thread):
            let id = FuzzIDs.child(ordinal)
            let pending = startWrite(.thread(thread), bytes: 2) { [driver] caller throws(Errno) in
                try driver.open("/vm/\(id.name)/wait", flags: OpenFlags.writeOnly, as: caller)
            }
            let expectedWaiters = expected.answer == .pending ? model.waitCount(for: id) : -1
            _ = await settle(deadline) {
                pending.box.value != nil || self.engine.children[id]?.waiterCount == expectedWaiters
            }
            step.answer = pending.box.value ?? .pending
            if step.answer == .pending { waits.append(pending) }
        case .interruptWait(let pick):
            let pending = waits.sorted { $0.request < $1.request }
            guard !pending.isEmpty else { return FuzzStep(answer: .errno(.badMessage)) }
            pending[pick % pending.count].task.cancel()
        case .status(let ordinal, let state):
            engine.childStatusChanged(FuzzIDs.child(ordinal), to: state)
        case .exit(let ordinal, let code):
            engine.childExited(FuzzIDs.child(ordinal), code: code)
        case .open(let ordinal, let file, let nonBlocking):
            let flags = (file == .wait ? OpenFlags.readWrite : OpenFlags.readOnly) | (nonBlocking ? OpenFlags.nonBlocking : 0)
            do throws(Errno) {
                handles.append(try driver.open("/vm/\(FuzzIDs.child(ordinal).name)/\(file.rawValue)", flags: flags, as: .thread(1)))
            } catch {
                step.answer = .errno(error)
            }
        case .read(let pick, let offset):
            guard !handles.isEmpty else { return FuzzStep(answer: .errno(.badMessage)) }
            let handle = handles[pick % handles.count]
            do throws(Errno) {
                step.answer = .text(String(decoding: try await driver.read(handle, offset: Int64(offset)), as: UTF8.self))
            } catch {
                step.answer = .errno(error)
            }
        case .poll(let pick):
            guard !handles.isEmpty else { return FuzzStep(answer: .errno(.badMessage)) }
            do throws(Errno) {
                step.answer = .events(try driver.poll(handles[pick % handles.count]))
            } catch {
                step.answer = .errno(error)
            }
        case .write(let pick):
            guard !handles.isEmpty else { return FuzzStep(answer: .errno(.badMessage)) }
            let handle = handles[pick % handles.count]
            let pending = startWrite(handle.caller, bytes: 2) { _ throws(Errno) in handle }
            let id = model.handles[pick % model.handles.count].child
            let expectedWaiters = expected.answer == .pending ? model.waitCount(for: id) : -1
            _ = await settle(deadline) {
                pending.box.value != nil || self.engine.children[id]?.waiterCount == expectedWaiters
            }
            step.answer = pending.box.value ?? .pending
            if step.answer == .pending { waits.append(pending) }
        case .close(let pick):
            guard !handles.isEmpty else { return FuzzStep(answer: .errno(.badMessage)) }
            driver.close(handles.remove(at: pick % handles.count))
        case .advance(let milliseconds):
            scheduler.advance(by: .milliseconds(milliseconds))
        case .becameChild:
            await engine.becameChild()
        case .lookup(let name):
            do throws(Errno) {
                _ = try driver.stat("/vm/" + name.name(newest: ordinals.max { $0.value < $1.value }?.key))
                step.answer = .done
            } catch {
                step.answer = .errno(error)
            }
        }
        step.completed = await completions(expected: expected.completed)
        // Let the effects the model predicts (the next queued fork starting, a cancelled request
        // leaving the queue) happen before anything is observed.
        switch operation {
        case .fork, .answer, .interruptFork, .becameChild:
            _ = await settle(deadline) {
                await self.engine.queuedForks == model.queue.count && self.platform.sent == model.signals
            }
        default:
            break
        }
        return step
    }

    /// The blocked writes that finished: those the model says finish now (awaited, up to
    /// the deadline) and any other that already has.
    private func completions(expected: [Int: FuzzAnswer]) async -> [Int: FuzzAnswer] {
        var completed: [Int: FuzzAnswer] = [:]
        for pending in forks + waits {
            if expected[pending.request] != nil { _ = await settle(deadline) { pending.box.value != nil } }
            if let answer = pending.box.value { completed[pending.request] = answer }
        }
        for request in expected.keys where completed[request] == nil { completed[request] = .pending }
        forks.removeAll { completed[$0.request] != nil }
        waits.removeAll { completed[$0.request] != nil }
        return completed
    }

    /// Starts a write in a task of its own (a blocked app thread); its answer lands in the box.
    private func startWrite(
        _ caller: Caller,
        bytes: Int,
        open: @escaping @Sendable (Caller) throws(Errno) -> InProcessDriver.Handle
    ) -> Pending {
        let request = nextRequest
        nextRequest += 1
        let box = AnswerBox()
        let driver = self.driver
        let task = Task.immediate {
            do throws(Errno) {
                let handle = try open(caller)
                let count = try await driver.write(handle, App.payload(bytes))
                box.set(.count(count))
            } catch {
                box.set(.errno(error))
            }
        }
        return Pending(request: request, box: box, task: task)
    }

    /// Reads everything an app can see, as `ReferenceModel.observe` describes it.
    ///
    /// Each child's `status` and `wait` are watched the way a monitoring app does it: through
    /// handles kept open, polled every step and re-read from offset 0 only when the poll says
    /// so (`POLLPRI` for `status`, `POLLIN` for `wait`). A change the engine does not signal
    /// therefore shows up as a stale value.
    func observe(order: [Int32]) async -> FuzzObservation {
        var reads: [String] = []
        reads.reserveCapacity(order.count)
        for thread in order { reads.append(await text(forkHandles[thread]!)) }
        let vm: [String]
        do throws(Errno) { vm = try driver.list("/vm") } catch { vm = ["\(error)"] }
        var children: [FuzzObservation.ChildView] = []
        children.reserveCapacity(vm.count)
        for name in vm {
            guard var observer = await observer(name) else {
                children.append(.init(ordinal: -1, status: "cannot open", wait: name))
                continue
            }
            if poll(observer.statusHandle).contains(.pri) { observer.status = await text(observer.statusHandle) }
            if observer.wait.isEmpty, poll(observer.waitHandle).contains(.in) { observer.wait = await text(observer.waitHandle) }
            observers[name] = observer
            children.append(.init(ordinal: observer.ordinal, status: observer.status, wait: observer.wait))
        }
        if observers.count > vm.count {
            let live = Set(vm)
            for (name, observer) in observers where !live.contains(name) {
                driver.close(observer.statusHandle)
                driver.close(observer.waitHandle)
                observers[name] = nil
            }
        }
        return FuzzObservation(readers: order, forkReads: reads, vm: vm, children: children, signals: platform.sent)
    }

    /// The observer of a listed child, opened (and read once) when first seen.
    private func observer(_ name: String) async -> Observer? {
        if let observer = observers[name] { return observer }
        do throws(Errno) {
            let status = try driver.open("/vm/\(name)/status", as: .thread(1))
            let wait = try driver.open("/vm/\(name)/wait", as: .thread(1))
            return Observer(
                ordinal: UUID(uuidString: name).flatMap { ordinals[$0] } ?? -1,
                statusHandle: status, waitHandle: wait, status: await text(status), wait: await text(wait))
        } catch {
            return nil
        }
    }

    private func poll(_ handle: InProcessDriver.Handle) -> PollEvents {
        do throws(Errno) { return try driver.poll(handle) } catch { return [.err] }
    }

    private func text(_ handle: InProcessDriver.Handle) async -> String {
        do throws(Errno) {
            return String(decoding: try await driver.read(handle), as: UTF8.self)
        } catch {
            return "\(error)"
        }
    }

    /// Releases every blocked task (the run is over).
    func tearDown() async {
        for pending in waits { pending.task.cancel() }
        await engine.shutdown()
        while platform.answerOldest(.failure(.signalFailed)) {}
        for pending in forks + waits { await pending.task.value }
        for handle in handles + Array(forkHandles.values) { driver.close(handle) }
        for observer in observers.values {
            driver.close(observer.statusHandle)
            driver.close(observer.waitHandle)
        }
    }
}

/// Waits until `condition` holds: a few yields first (the usual case), then short sleeps up
/// to `deadline`. False on timeout.
func settle(_ deadline: Duration, _ condition: () async -> Bool) async -> Bool {
    if await condition() { return true }
    for _ in 0..<64 {
        await Task.yield()
        if await condition() { return true }
    }
    let clock = ContinuousClock()
    let end = clock.now + deadline
    while clock.now < end {
        try? await Task.sleep(for: .microseconds(100))
        if await condition() { return true }
    }
    return false
}
