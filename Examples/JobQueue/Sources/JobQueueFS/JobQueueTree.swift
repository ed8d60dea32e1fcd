import SystemPackage
public import VFSKit

extension JobQueue {
    /// The queue as a control filesystem: submit commands, watch, wait for and cancel them.
    public var tree: Tree {
        Tree("A job queue: shell commands that run a few at a time") {
            File("submit", "Submit a command")
                .read("the job this open file submitted last, else the one the caller submitted last") { context in
                    context.file[LastSubmitted.self] ?? self.lastSubmission(by: context.caller.uid)
                }
                .write(String.self, "a command line for `/bin/sh -c`: queues it as jobs/<id>/") { context, command in
                    context.file[LastSubmitted.self] = try self.submit(command, by: context.caller.uid)
                }
            File("slots", "How many jobs run at once")
                .read("the number of slots") { _ in self.slots }
                .write(Int.self, "1 to 64; raising it starts queued jobs at once") { _, count in
                    try self.setSlots(count)
                }
            File("forget", "Drop a finished job")
                .write(JobID.self, "a job id: removes jobs/<id>/ (`EBUSY` while queued or running)") { _, id in
                    try self.forget(id)
                }
            Directory("jobs", "Every job not forgotten yet") {
                ForEach(jobs, "one entry per job, in submission order", entrySummary: "One job") { job in
                    let finished = Condition(
                        when: { _ in try self.state(of: job.value).isFinished }, signalledBy: { _ in try job.value.stateChanged })
                    File("command", "The command line")
                        .read("as submitted") { _ in try job.value.command }
                    File("state", "queued, running, done or cancelled")
                        .read("the job's state") { _ in try self.state(of: job.value) }
                        .poll("POLLPRI|POLLIN on every state change", .changes { _ in try job.value.stateChanged })
                    File("wait", "Wait for the job to finish; read its exit code")
                        .read("exit code once finished (128+N: killed by signal N; empty if it never ran)", once: finished) { _ in
                            try self.exitCode(of: job.value)
                        }
                        .write(Ignored.self, "blocks until the job finished", until: finished)
                        .poll("POLLIN once finished", .readable(finished))
                    File("cancel", "Cancel the job")
                        .write(Ignored.self, "a queued job never runs; a running one gets SIGTERM, SIGKILL 5 s later") { _, _ in
                            try self.cancel(job.key)
                        }
                    File("output", "What the command wrote")
                        .read("stdout and stderr, the last 64 KiB") { _ in try job.value.output }
                        .poll("POLLPRI|POLLIN when more output arrived", .changes { _ in try job.value.outputChanged })
                }
            }
        }
    }
}

/// The job an open `submit` file submitted last, so a program that writes and then reads
/// the same descriptor learns its own job's id, whoever else submits meanwhile.
enum LastSubmitted: OpenFileStorageKey {
    typealias Value = JobID
}
