import Foundation
import SystemPackage
import VFSKit

@testable import LibUKP

/// What one fuzz step answers, as an app (or the platform) would see it.
enum FuzzAnswer: Hashable, Sendable, CustomStringConvertible {
    /// A write's byte count.
    case count(Int)
    /// A read's text.
    case text(String)
    /// A poll's events.
    case events(PollEvents)
    case errno(Errno)
    /// A write that blocks.
    case pending
    /// An operation without an answer of its own.
    case done
    /// The operation does not apply (nothing to pick): neither side performs it.
    case skipped

    var description: String {
        switch self {
        case .count(let count): "\(count)"
        case .text(let text): text.debugDescription
        case .events(let events): events.description
        case .errno(let errno): "\(errno)"
        case .pending: "pending"
        case .done: "done"
        case .skipped: "skipped"
        }
    }
}

/// The answer to one step, and the blocked writes (by request number) it released.
struct FuzzStep: Hashable, Sendable {
    var answer: FuzzAnswer
    var completed: [Int: FuzzAnswer] = [:]
}

/// A reference model of SPEC.md's fork filesystem, for one instance, written from the
/// spec alone: forks and the queue, per-thread results, children and their status,
/// exit codes, waiters, handles, retention and becoming a child.
///
/// It also follows the VFSKit rules an app sees: a read at a later offset continues the
/// last rendering, a write to a handle opened read-only is `EBADF`, a stale handle is
/// `ESTALE` (and see `interruptedFailureIsEINTR`).
struct ReferenceModel {
    struct Configuration: Hashable, Sendable, CustomStringConvertible {
        var queueDepth: Int
        var retentionMilliseconds: Int
        var threadLimit: Int

        var engine: ForkEngine.Configuration {
            .init(forkQueueDepth: queueDepth, stoppedRetention: .milliseconds(retentionMilliseconds), threadResultLimit: threadLimit)
        }

        var description: String {
            "queueDepth: \(queueDepth), retentionMilliseconds: \(retentionMilliseconds), threadLimit: \(threadLimit)"
        }
    }

    enum Event: Hashable {
        case status(InstanceState)
        case exited(Int32)
    }

    struct Child {
        let ordinal: Int
        let id: UUID
        /// Its name in `/vm/`.
        let name: String
        var status = InstanceState.starting
        var exitCode: Int32?
        /// How many times `status` or the exit code changed (what `status` pollers compare).
        var changes = 0
        var removalDue: Int?
    }

    struct ForkRequest {
        let request: Int
        let thread: Int32
        let bytes: Int
        /// Which incarnation of this instance asked (it changes when the instance becomes a child).
        let incarnation: Int
        var interrupted = false
    }

    struct WaitRequest {
        let request: Int
        let child: UUID
    }

    struct Handle {
        let child: UUID
        let ordinal: Int
        let file: ChildFile
        let nonBlocking: Bool
        var rendering: [UInt8]?
        var seen: Int
    }

    /// SPEC.md: a started fork is not interruptible and its outcome, failure included, is the
    /// caller's answer even after an interrupt.
    static let interruptedFailureIsEINTR = false

    /// Threads whose `/fork` reads are compared after every step.
    static let threads: [Int32] = [1, 2, 3, 4, 5]
    /// How many events for a not-yet-answered child the platform may send before the answer.
    static let earlyEventLimit = 64

    let configuration: Configuration
    private(set) var children: [Child] = []
    private(set) var running: ForkRequest?
    private(set) var queue: [ForkRequest] = []
    private(set) var waits: [WaitRequest] = []
    private(set) var handles: [Handle] = []
    /// Per-thread results as `/fork` shows them, least recently used first.
    private var threadResults: [(thread: Int32, result: String)] = []
    /// The result of the last fork this instance completed, as `/fork` shows it.
    private var lastCompleted: String?
    private var isForkChild = false
    private var incarnation = 0
    private var forkInFlight = false
    private var earlyEvents: [(child: UUID, event: Event)] = []
    private var now = 0
    private(set) var nextOrdinal = 0
    private var nextRequest = 0
    /// How many fork signals the platform received.
    private(set) var signals = 0

    init(_ configuration: Configuration) {
        self.configuration = configuration
    }

    var pendingForks: [ForkRequest] { (running.map { [$0] } ?? []) + queue }
    func waitCount(for child: UUID) -> Int { waits.count { $0.child == child } }
    func child(_ id: UUID) -> Child? { children.first { $0.id == id } }

    // MARK: Steps

    mutating func apply(_ operation: FuzzOperation) -> FuzzStep {
        var step = FuzzStep(answer: .done)
        switch operation {
        case .fork(let thread, let bytes):
            step.answer = fork(thread: thread, bytes: bytes)
        case .answer(let answer):
            guard let request = running else { return FuzzStep(answer: .skipped) }
            running = nil
            step.completed[request.request] = finish(request, answer, &step)
            if !queue.isEmpty { start(queue.removeFirst()) }
        case .interruptFork(let pick):
            let pending = pendingForks
            guard !pending.isEmpty else { return FuzzStep(answer: .skipped) }
            let target = pending[pick % pending.count]
            if running?.request == target.request {
                running?.interrupted = true  // a started fork is not interruptible
            } else {
                queue.removeAll { $0.request == target.request }
                step.completed[target.request] = .errno(.interrupted)
            }
        case .wait(let ordinal, _):
            let request = takeRequest()
            let id = FuzzIDs.child(ordinal)
            guard let child = child(id) else { return FuzzStep(answer: .errno(.noSuchFileOrDirectory)) }
            step.answer = wait(request, on: child)
        case .interruptWait(let pick):
            guard !waits.isEmpty else { return FuzzStep(answer: .skipped) }
            let target = waits.remove(at: pick % waits.count)
            step.completed[target.request] = .errno(.interrupted)
        case .status(let ordinal, let state):
            deliver(.status(state), to: FuzzIDs.child(ordinal), &step)
        case .exit(let ordinal, let code):
            deliver(.exited(code), to: FuzzIDs.child(ordinal), &step)
        case .open(let ordinal, let file, let nonBlocking):
            let id = FuzzIDs.child(ordinal)
            guard let child = child(id) else { return FuzzStep(answer: .errno(.noSuchFileOrDirectory)) }
            handles.append(Handle(child: id, ordinal: ordinal, file: file, nonBlocking: nonBlocking, seen: child.changes))
        case .read(let pick, let offset):
            guard !handles.isEmpty else { return FuzzStep(answer: .skipped) }
            step.answer = read(handle: pick % handles.count, offset: offset)
        case .poll(let pick):
            guard !handles.isEmpty else { return FuzzStep(answer: .skipped) }
            step.answer = poll(handles[pick % handles.count])
        case .write(let pick):
            guard !handles.isEmpty else { return FuzzStep(answer: .skipped) }
            let request = takeRequest()
            let handle = handles[pick % handles.count]
            guard let child = child(handle.child) else { return FuzzStep(answer: .errno(.staleNFSFileHandle)) }
            guard handle.file == .wait else { return FuzzStep(answer: .errno(.badFileDescriptor)) }
            step.answer = wait(request, on: child)
        case .close(let pick):
            guard !handles.isEmpty else { return FuzzStep(answer: .skipped) }
            handles.remove(at: pick % handles.count)
        case .advance(let milliseconds):
            now += milliseconds
            children.removeAll { child in child.removalDue.map { $0 <= now } ?? false }
        case .becameChild:
            becomeChild(&step)
        case .lookup:
            step.answer = .errno(.noSuchFileOrDirectory)
        }
        return step
    }

    private mutating func takeRequest() -> Int {
        defer { nextRequest += 1 }
        return nextRequest
    }

    // MARK: /fork

    private mutating func fork(thread: Int32, bytes: Int) -> FuzzAnswer {
        let request = ForkRequest(request: takeRequest(), thread: thread, bytes: bytes, incarnation: incarnation)
        if bytes > 4096 { return .errno(.invalidArgument) }
        if bytes == 0 { return .count(0) }
        if running == nil {
            start(request)
            return .pending
        }
        guard queue.count < configuration.queueDepth else { return .errno(.resourceBusy) }
        queue.append(request)
        return .pending
    }

    private mutating func start(_ request: ForkRequest) {
        running = request
        signals += 1
        forkInFlight = true
        earlyEvents = []
    }

    /// The platform answered the running fork: its write's answer.
    private mutating func finish(_ request: ForkRequest, _ answer: ForkAnswer, _ step: inout FuzzStep) -> FuzzAnswer {
        let result: FuzzAnswer
        switch answer {
        case .parent:
            let ordinal = nextOrdinal
            nextOrdinal += 1
            if request.incarnation == incarnation {
                insertChild(ordinal, &step)
                record(FuzzIDs.child(ordinal), thread: request.thread)
                result = .count(request.bytes)
            } else {
                result = .errno(.ioError)  // the parent's fork: its child is not this instance's
            }
        case .signalFailed:
            forkFinished()
            result = .errno(.ioError)
        case .rejected(let errno):
            forkFinished()
            result = .errno(errno)
        case .child:
            becomeChild(&step)
            record(.zero, thread: request.thread)
            result = .count(request.bytes)
        }
        if Self.interruptedFailureIsEINTR, request.interrupted, case .errno = result { return .errno(.interrupted) }
        return result
    }

    private mutating func forkFinished() {
        forkInFlight = false
        earlyEvents = []
    }

    private mutating func insertChild(_ ordinal: Int, _ step: inout FuzzStep) {
        let id = FuzzIDs.child(ordinal)
        let early = earlyEvents.filter { $0.child == id }.map(\.event)
        forkFinished()
        children.append(Child(ordinal: ordinal, id: id, name: id.name))
        for event in early where children.last?.id == id { apply(event, to: children.count - 1, &step) }
    }

    private mutating func record(_ id: UUID, thread: Int32) {
        let result = id.line
        lastCompleted = result
        if let index = threadResults.firstIndex(where: { $0.thread == thread }) {
            threadResults.remove(at: index)
        } else if threadResults.count >= configuration.threadLimit {
            threadResults.removeFirst()
        }
        threadResults.append((thread, result))
    }

    /// What `/fork` reads for `thread` (a read is a use, for the least-recently-used order).
    mutating func readFork(thread: Int32) -> String {
        if let index = threadResults.firstIndex(where: { $0.thread == thread }) {
            let entry = threadResults.remove(at: index)
            threadResults.append(entry)
            return entry.result
        }
        return lastCompleted ?? (isForkChild ? UUID.zero.line : "")
    }

    // MARK: Children

    private mutating func deliver(_ event: Event, to id: UUID, _ step: inout FuzzStep) {
        if let index = children.firstIndex(where: { $0.id == id }) {
            apply(event, to: index, &step)
        } else if forkInFlight, earlyEvents.count < Self.earlyEventLimit {
            earlyEvents.append((id, event))
        }
    }

    private mutating func apply(_ event: Event, to index: Int, _ step: inout FuzzStep) {
        var child = children[index]
        let wasStopped = child.status == .stopped
        switch event {
        case .status(let state):
            guard !wasStopped, child.status != state else { return }
            child.status = state
        case .exited(let code):
            guard child.exitCode == nil else { return }
            child.status = .stopped
            child.exitCode = code
        }
        child.changes += 1
        children[index] = child
        guard !wasStopped, child.status == .stopped else { return }
        for wait in waits where wait.child == child.id { step.completed[wait.request] = .count(2) }
        waits.removeAll { $0.child == child.id }
        if configuration.retentionMilliseconds == 0 {
            children.remove(at: index)
        } else {
            children[index].removalDue = now + configuration.retentionMilliseconds
        }
    }

    private mutating func wait(_ request: Int, on child: Child) -> FuzzAnswer {
        if child.status == .stopped { return .count(2) }
        waits.append(WaitRequest(request: request, child: child.id))
        return .pending
    }

    private mutating func becomeChild(_ step: inout FuzzStep) {
        incarnation += 1
        for request in queue { step.completed[request.request] = .errno(.ioError) }
        queue = []
        for wait in waits { step.completed[wait.request] = .errno(.ioError) }
        waits = []
        children = []
        forkFinished()
        threadResults = []
        lastCompleted = UUID.zero.line
        isForkChild = true
    }

    // MARK: Handles

    private mutating func read(handle index: Int, offset: Int) -> FuzzAnswer {
        var handle = handles[index]
        guard let child = child(handle.child) else { return .errno(.staleNFSFileHandle) }
        if offset == 0 || handle.rendering == nil {
            switch handle.file {
            case .snapshot: handle.rendering = Array(FuzzIDs.snapshot(handle.ordinal).line.utf8)
            case .creationTime: handle.rendering = Array("\(FuzzIDs.creationTime(handle.ordinal))\n".utf8)
            case .status:
                handle.seen = child.changes
                handle.rendering = Array((child.status.rawValue + "\n").utf8)
            case .wait:
                guard let code = child.exitCode else {
                    if handle.nonBlocking { return .errno(.resourceTemporarilyUnavailable) }
                    handle.rendering = []
                    break
                }
                handle.rendering = Array("\(code)\n".utf8)
            }
            handles[index] = handle
        }
        let bytes = handle.rendering!
        return .text(offset < bytes.count ? String(decoding: bytes[offset...], as: UTF8.self) : "")
    }

    private func poll(_ handle: Handle) -> FuzzAnswer {
        guard let child = child(handle.child) else { return .errno(.staleNFSFileHandle) }
        switch handle.file {
        case .snapshot, .creationTime: return .events(.in)
        case .status: return .events(child.changes != handle.seen ? [.in, .pri] : [])
        case .wait: return .events(child.exitCode != nil ? .in : [])
        }
    }

    // MARK: Observation

    /// Everything an app can read after a step: `/fork` for each thread (in `order`),
    /// `/vm/`, and each child's `status` and `wait`.
    mutating func observe(order: [Int32]) -> FuzzObservation {
        FuzzObservation(
            readers: order,
            forkReads: order.map { readFork(thread: $0) },
            vm: children.map(\.name),
            children: children.map { child in
                FuzzObservation.ChildView(
                    ordinal: child.ordinal, status: child.status.rawValue + "\n", wait: child.exitCode.map { "\($0)\n" } ?? "")
            },
            signals: signals)
    }
}

/// What an app sees of the whole tree after a step (and how many fork signals the platform got).
struct FuzzObservation: Hashable, Sendable, CustomStringConvertible {
    struct ChildView: Hashable, Sendable {
        var ordinal: Int
        var status: String
        var wait: String
    }

    /// The threads that read `/fork`, in order, and what each read.
    var readers: [Int32]
    var forkReads: [String]
    var vm: [String]
    var children: [ChildView]
    var signals: Int

    var description: String {
        let children = children.map { "#\($0.ordinal) status \($0.status.debugDescription) wait \($0.wait.debugDescription)" }
        let reads = zip(readers, forkReads).map { "thread \($0) \($1.debugDescription)" }
        return
            "/fork [\(reads.joined(separator: ", "))]; /vm \(vm); children [\(children.joined(separator: ", "))]; fork signals \(signals)"
    }
}
