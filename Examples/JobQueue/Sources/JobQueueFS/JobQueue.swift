import Synchronization
public import SystemPackage
public import VFSKit

/// A queue of shell commands that run a few at a time: the state behind the tree.
///
/// All state sits in one `QueueMachine` under one lock, with the tasks that run commands;
/// signals happen outside the lock. Callers blocked in `wait` are the tree's business:
/// their writes are parked until the job's `stateChanged` finds it finished.
public final class JobQueue: Sendable {
    /// One entry per job not yet forgotten: the tree's `jobs/` directory.
    public let jobs = DynamicEntries<JobID, Job>()
    private let runner: any JobRunner
    private let state: Mutex<State>

    private struct State {
        var machine: QueueMachine
        var tasks: [JobID: Task<Void, Never>] = [:]
        var lastSubmission: [UInt32: JobID] = [:]
    }

    /// - Parameters:
    ///   - slots: how many jobs run at once (1 to 64).
    ///   - runner: what runs a command; `ShellRunner()` runs it with `/bin/sh -c`.
    public init(slots: Int = 1, runner: any JobRunner = ShellRunner()) {
        self.runner = runner
        state = Mutex(State(machine: QueueMachine(slots: slots)))
    }

    // MARK: - Reading

    public var slots: Int { state.withLock { $0.machine.slots } }

    /// The job's state; `ESTALE` once it was forgotten.
    public func state(of job: Job) throws(Errno) -> JobState {
        try record(job).state
    }

    /// The exit code once the command ended; nil while queued or running, or when it never ran.
    public func exitCode(of job: Job) throws(Errno) -> Int32? {
        try record(job).exitCode
    }

    /// The job `uid` submitted last (nil if none, or if it was forgotten).
    public func lastSubmission(by uid: UInt32) -> JobID? {
        state.withLock { state in
            state.lastSubmission[uid].flatMap { state.machine.record($0) == nil ? nil : $0 }
        }
    }

    private func record(_ job: Job) throws(Errno) -> QueueMachine.Record {
        guard let record = state.withLock({ $0.machine.record(job.id) }) else { throw .staleNFSFileHandle }
        return record
    }

    // MARK: - Changing

    /// Queues `command` (one line for `/bin/sh -c`); `EINVAL` when it is blank.
    @discardableResult
    public func submit(_ command: String, by uid: UInt32 = 0) throws(Errno) -> JobID {
        guard command.contains(where: { !$0.isWhitespace }) else { throw .invalidArgument }
        let (id, started) = try state.withLock { state throws(Errno) -> (JobID, [Job]) in
            let (id, start) = try state.machine.submit()
            jobs.insert(Job(id: id, command: command, submitter: uid), for: id)
            state.lastSubmission[uid] = id
            return (id, launch(start, in: &state))
        }
        signalStateChanged(started)
        return id
    }

    /// A queued job never runs; a running one is stopped. A finished job is left alone.
    public func cancel(_ id: JobID) throws(Errno) {
        let (outcome, task) = try state.withLock {
            state throws(Errno) -> (QueueMachine.CancelOutcome, Task<Void, Never>?) in
            let outcome = try state.machine.cancel(id)
            return (outcome, outcome == .terminate ? state.tasks[id] : nil)
        }
        // Cancellation handlers run inline: outside the lock, so a runner may call back.
        task?.cancel()
        if outcome == .dequeued { jobs[id]?.stateChanged.signal() }
    }

    /// Sets how many jobs run at once (1 to 64, else `EINVAL`); raising it starts queued jobs.
    public func setSlots(_ count: Int) throws(Errno) {
        let started = try state.withLock { state throws(Errno) in
            launch(try state.machine.setSlots(count), in: &state)
        }
        signalStateChanged(started)
    }

    /// Removes a finished job and its directory: handles open under it answer `ESTALE`.
    /// `ENOENT` for an unknown job, `EBUSY` while it is queued or running.
    public func forget(_ id: JobID) throws(Errno) {
        try state.withLock { state throws(Errno) in try state.machine.forget(id) }
        jobs.remove(id)
    }

    /// Cancels every queued job, stops every running one, and returns once their commands
    /// ended. Nothing is accepted or started afterwards.
    public func shutdown() async {
        let (cancelled, tasks) = state.withLock { state in
            let (cancelled, terminate) = state.machine.shutdown()
            return (cancelled, terminate.compactMap { state.tasks[$0] })
        }
        for id in cancelled { jobs[id]?.stateChanged.signal() }
        for task in tasks {
            task.cancel()
            await task.value
        }
    }

    // MARK: - Running

    /// Starts a task per job; called under the lock (a new task does not run inline).
    private func launch(_ ids: [JobID], in state: inout State) -> [Job] {
        ids.compactMap { id in
            guard let job = jobs[id] else { return nil }
            state.tasks[id] = Task { [runner] in
                let code = await runner.run(job.command, output: job.appendOutput)
                self.exited(job, code: code)
            }
            return job
        }
    }

    private func exited(_ job: Job, code: Int32) {
        let started = state.withLock { state in
            let start = state.machine.exited(job.id, code: code)
            state.tasks[job.id] = nil
            return launch(start, in: &state)
        }
        signalStateChanged([job] + started)
    }

    private func signalStateChanged(_ jobs: [Job]) {
        for job in jobs { job.stateChanged.signal() }
    }
}
