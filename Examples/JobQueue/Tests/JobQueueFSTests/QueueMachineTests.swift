import SystemPackage
import Testing

@testable import JobQueueFS

/// The queue's rules, as a value, without tasks or processes.
@Suite struct QueueMachineTests {
    let one = JobID(1)!, two = JobID(2)!, three = JobID(3)!

    @Test func jobsStartInSubmissionOrderAsSlotsFree() throws {
        var machine = QueueMachine(slots: 2)
        #expect(try machine.submit() == (one, [one]))
        #expect(try machine.submit() == (two, [two]))
        #expect(try machine.submit() == (three, []))
        #expect(machine.record(three)?.state == .queued)
        #expect(machine.exited(two, code: 5) == [three])
        #expect(machine.record(two) == QueueMachine.Record(state: .done, exitCode: 5))
        #expect(machine.record(three)?.state == .running)
        #expect(machine.exited(two, code: 0) == [], "a second exit of the same job is ignored")
    }

    @Test func raisingSlotsStartsQueuedJobsAndLoweringLetsRunningOnesFinish() throws {
        var machine = QueueMachine(slots: 1)
        _ = try machine.submit()
        _ = try machine.submit()
        _ = try machine.submit()
        #expect(try machine.setSlots(3) == [two, three])
        #expect(try machine.setSlots(1) == [])
        #expect(machine.running == [one, two, three])
        #expect(throws: Errno.invalidArgument) { try machine.setSlots(0) }
        #expect(throws: Errno.invalidArgument) { try machine.setSlots(65) }
    }

    @Test func cancelDependsOnTheState() throws {
        var machine = QueueMachine(slots: 1)
        _ = try machine.submit()
        _ = try machine.submit()
        #expect(try machine.cancel(two) == .dequeued)
        #expect(machine.record(two) == QueueMachine.Record(state: .cancelled, exitCode: nil))
        #expect(try machine.cancel(one) == .terminate)
        #expect(machine.record(one)?.state == .running, "running until its command ends")
        #expect(machine.exited(one, code: 143) == [])
        #expect(machine.record(one) == QueueMachine.Record(state: .cancelled, exitCode: 143, cancelRequested: true))
        #expect(try machine.cancel(one) == .none)
        #expect(throws: Errno.noSuchFileOrDirectory) { try machine.cancel(three) }
    }

    @Test func onlyFinishedJobsAreForgotten() throws {
        var machine = QueueMachine(slots: 1)
        _ = try machine.submit()
        _ = try machine.submit()
        #expect(throws: Errno.resourceBusy) { try machine.forget(one) }
        #expect(throws: Errno.resourceBusy) { try machine.forget(two) }
        _ = machine.exited(one, code: 0)
        try machine.forget(one)
        #expect(machine.record(one) == nil)
        #expect(throws: Errno.noSuchFileOrDirectory) { try machine.forget(one) }
        #expect(try machine.submit().id == three, "ids are never reused")
    }

    @Test func shutdownCancelsTheQueueAndStopsTheRest() throws {
        var machine = QueueMachine(slots: 1)
        _ = try machine.submit()
        _ = try machine.submit()
        let (cancelled, terminate) = machine.shutdown()
        #expect(cancelled == [two])
        #expect(terminate == [one])
        #expect(machine.exited(one, code: 143) == [])
        #expect(machine.record(one)?.state == .cancelled)
        #expect(throws: Errno.ioError) { try machine.submit() }
        #expect(try machine.setSlots(4) == [])
    }
}
