import Collections
import SystemPackage

/// The queue's rules as a value, with no I/O: which job runs next, and what submit,
/// cancel, exit, forget and a change of slots do in each state. `JobQueue` holds it
/// under a lock and carries out its answers (start a command, stop one).
struct QueueMachine {
    struct Record: Equatable {
        var state: JobState
        var exitCode: Int32?
        /// `cancel` reached the job while it ran: it ends `cancelled`, whatever its exit.
        var cancelRequested = false
    }

    /// What `cancel` asks of the caller.
    enum CancelOutcome: Equatable {
        /// Nothing: the job had finished already.
        case none
        /// The job left the queue without running; it is `cancelled` now.
        case dequeued
        /// The job is running: stop its command; `exited` follows.
        case terminate
    }

    static let slotRange = 1...64

    private(set) var slots: Int
    private(set) var records: [JobID: Record] = [:]
    private(set) var pending: Deque<JobID> = []
    private(set) var running: Set<JobID> = []
    private(set) var isShutDown = false
    private var nextID = 1

    init(slots: Int) {
        precondition(Self.slotRange.contains(slots), "slots must be in \(Self.slotRange)")
        self.slots = slots
    }

    func record(_ id: JobID) -> Record? { records[id] }

    /// Queues a new job; answers its id and the jobs to start now (maybe the new one).
    mutating func submit() throws(Errno) -> (id: JobID, start: [JobID]) {
        guard !isShutDown else { throw .ioError }
        let id = JobID(nextID)!
        nextID += 1
        records[id] = Record(state: .queued)
        pending.append(id)
        return (id, startWhileSlotsFree())
    }

    mutating func cancel(_ id: JobID) throws(Errno) -> CancelOutcome {
        guard let record = records[id] else { throw .noSuchFileOrDirectory }
        switch record.state {
        case .done, .cancelled:
            return .none
        case .queued:
            pending.removeAll { $0 == id }
            records[id]?.state = .cancelled
            return .dequeued
        case .running:
            records[id]?.cancelRequested = true
            return .terminate
        }
    }

    /// A running job's command ended with `code`; answers the jobs to start in its slot.
    mutating func exited(_ id: JobID, code: Int32) -> [JobID] {
        guard running.remove(id) != nil, var record = records[id] else { return [] }
        record.state = record.cancelRequested ? .cancelled : .done
        record.exitCode = code
        records[id] = record
        return startWhileSlotsFree()
    }

    /// Answers the jobs that start because slots were raised.
    mutating func setSlots(_ count: Int) throws(Errno) -> [JobID] {
        guard Self.slotRange.contains(count) else { throw .invalidArgument }
        slots = count
        return startWhileSlotsFree()
    }

    /// Drops a finished job's record: `ENOENT` for an unknown job, `EBUSY` for a live one.
    mutating func forget(_ id: JobID) throws(Errno) {
        guard let record = records[id] else { throw .noSuchFileOrDirectory }
        guard record.state.isFinished else { throw .resourceBusy }
        records[id] = nil
    }

    /// Cancels every queued job and asks every running one to stop; nothing starts after
    /// this. Answers the jobs now cancelled and the jobs to stop.
    mutating func shutdown() -> (cancelled: [JobID], terminate: [JobID]) {
        isShutDown = true
        let cancelled = Array(pending)
        pending.removeAll()
        for id in cancelled { records[id]?.state = .cancelled }
        for id in running { records[id]?.cancelRequested = true }
        return (cancelled, running.sorted())
    }

    private mutating func startWhileSlotsFree() -> [JobID] {
        var started: [JobID] = []
        while !isShutDown, running.count < slots, let id = pending.popFirst() {
            running.insert(id)
            records[id]?.state = .running
            started.append(id)
        }
        return started
    }
}
