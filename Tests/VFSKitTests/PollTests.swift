import Synchronization
import SystemPackage
import Testing

@testable import VFSKit

/// Point 5: declared readiness and exact wake-ups.
@Suite("Poll", .timeLimit(.minutes(1)))
struct PollTests {
    let status = Box("Starting")
    let statusChanged = ChangeSignal()
    let exitCode = Box<Int?>(nil)
    let exited = ChangeSignal()
    let driver: InProcessDriver

    init() throws {
        let status = status
        let statusChanged = statusChanged
        let exitCode = exitCode
        let exited = exited
        driver = try InProcessDriver(
            Tree {
                File("status", "")
                    .read("state") { _ in status.value }
                    .poll("on every change", .changes { _ in statusChanged })
                File("wait", "")
                    .read("exit code") { _ in exitCode.value }
                    .poll("once exited", .readable(when: { _ in exitCode.value != nil }, signalledBy: { _ in exited }))
                File("plain", "").read("") { _ in 1 }
                File("knob", "").read("") { _ in 1 }.write(Ignored.self, "") { _, _ in }
                File("sink", "").write(Ignored.self, "") { _, _ in }
            })
    }

    func setStatus(_ value: String) {
        status.value = value
        statusChanged.signal()
    }

    @Test func changesFollowTheSysfsConvention() async throws {
        let handle = try driver.open("/status")
        #expect(try driver.poll(handle) == [], "not ready after open")
        setStatus("Running")
        #expect(try driver.poll(handle) == [.in, .pri])
        #expect(try driver.poll(handle) == [.in, .pri], "polling does not consume the change")
        #expect(try await driver.read(handle, size: 3, offset: 0).text == "Run")
        #expect(try driver.poll(handle) == [], "a read at offset 0 catches up")
        setStatus("Draining")
        #expect(try await driver.read(handle, size: 3, offset: 3).text == "nin")
        #expect(try driver.poll(handle) == [.in, .pri], "a read at a later offset does not catch up")
        #expect(try await driver.read(handle).text == "Draining\n")
        #expect(try driver.poll(handle) == [])
    }

    @Test func eachOpenTracksItsOwnChanges() async throws {
        let first = try driver.open("/status")
        setStatus("Running")
        let second = try driver.open("/status")
        #expect(try driver.poll(first) == [.in, .pri])
        #expect(try driver.poll(second) == [], "opened after the change")
        _ = try await driver.read(first)
        setStatus("Stopping")
        #expect(try driver.poll(first) == [.in, .pri])
        #expect(try driver.poll(second) == [.in, .pri])
    }

    @Test func readableWhenConditionHolds() throws {
        let handle = try driver.open("/wait")
        #expect(try driver.poll(handle) == [])
        exited.signal()
        #expect(try driver.poll(handle) == [])
        exitCode.value = 3
        #expect(try driver.poll(handle) == [.in], "evaluated on every poll")
        exited.signal()
        #expect(try driver.poll(handle) == [.in])
        let late = try driver.open("/wait")
        #expect(try driver.poll(late) == [.in], "ready at once for a late poller")
    }

    @Test func filesWithoutDeclaredReadinessAreAlwaysReady() throws {
        #expect(try driver.poll(try driver.open("/plain")) == [.in])
        #expect(try driver.poll(try driver.open("/knob", flags: OpenFlags.readWrite)) == [.in, .out])
        #expect(try driver.poll(try driver.open("/sink", flags: OpenFlags.writeOnly)) == [.out])
    }

    @Test func wakerFiresExactlyWhenReadinessChanges() throws {
        let handle = try driver.open("/wait")
        let dispatcher = driver.dispatcher
        let waker = CountingWaker()
        #expect(try dispatcher.poll(handle.file, caller: handle.caller, waker: waker) == [])
        exited.signal()
        exited.signal()
        #expect(waker.count == 0, "a signal that leaves readiness unchanged does not wake")
        exitCode.value = 0
        exited.signal()
        #expect(waker.count == 1)
        exited.signal()
        #expect(waker.count == 1, "a waker fires once")

        // Registered while ready: woken when it stops being ready, not before.
        let second = CountingWaker()
        #expect(try dispatcher.poll(handle.file, caller: handle.caller, waker: second) == [.in])
        exited.signal()
        #expect(second.count == 0)
        exitCode.value = nil
        exited.signal()
        #expect(second.count == 1)
        #expect(waker.count == 1)
    }

    @Test func changesWakerFiresOnceOnTheFirstChange() async throws {
        let handle = try driver.open("/status")
        let dispatcher = driver.dispatcher
        let waker = CountingWaker()
        #expect(try dispatcher.poll(handle.file, caller: handle.caller, waker: waker) == [])
        #expect(waker.count == 0)
        setStatus("Running")
        #expect(waker.count == 1)
        setStatus("Draining")
        #expect(waker.count == 1)

        // Still ready: a new registration is not woken by further changes.
        let second = CountingWaker()
        #expect(try dispatcher.poll(handle.file, caller: handle.caller, waker: second) == [.in, .pri])
        setStatus("Stopping")
        #expect(second.count == 0)

        // After reading, the next change wakes again.
        _ = try await driver.read(handle)
        let third = CountingWaker()
        #expect(try dispatcher.poll(handle.file, caller: handle.caller, waker: third) == [])
        setStatus("Stopped")
        #expect(third.count == 1)
    }

    @Test func aNewWakerReplacesTheOldOne() throws {
        let handle = try driver.open("/status")
        let dispatcher = driver.dispatcher
        let old = CountingWaker()
        let new = CountingWaker()
        _ = try dispatcher.poll(handle.file, caller: handle.caller, waker: old)
        _ = try dispatcher.poll(handle.file, caller: handle.caller, waker: new)
        setStatus("Running")
        #expect(old.count == 0)
        #expect(new.count == 1)
    }

    @Test func releaseDropsTheRegistration() throws {
        let handle = try driver.open("/status")
        let waker = CountingWaker()
        _ = try driver.dispatcher.poll(handle.file, caller: handle.caller, waker: waker)
        driver.close(handle)
        setStatus("Running")
        #expect(waker.count == 0)
    }

    @Test func aChangeBeforeRegistrationIsReportedNotLost() throws {
        let handle = try driver.open("/status")
        setStatus("Running")
        let waker = CountingWaker()
        #expect(try driver.dispatcher.poll(handle.file, caller: handle.caller, waker: waker) == [.in, .pri])
        #expect(waker.count == 0)
    }

    @Test func waitUntilReadyReturnsAfterTheSignal() async throws {
        let handle = try driver.open("/status")
        let waiting = Task { try await driver.waitUntilReady(handle) }
        try await Task.sleep(for: .milliseconds(10))
        setStatus("Running")
        #expect(try await waiting.value == [.in, .pri])
        #expect(try await driver.read(handle).text == "Running\n")
    }

    @Test func waitUntilReadyIsInterruptible() async throws {
        let handle = try driver.open("/wait")
        let waiting = Task { () async throws(Errno) -> PollEvents in try await driver.waitUntilReady(handle) }
        try await Task.sleep(for: .milliseconds(10))
        waiting.cancel()
        await #expect(throws: Errno.interrupted) { try await waiting.value }
    }

    @Test(arguments: [1, 10, 500])
    func manyPollersAreAllWoken(_ pollers: Int) async throws {
        // Registered wakers on some opens, `waitUntilReady` (its own waker) on others.
        let registered = try (0..<pollers).map { _ in try driver.open("/wait") }
        let waiting = try (0..<pollers).map { _ in try driver.open("/wait") }
        let wakers = registered.map { _ in CountingWaker() }
        for (handle, waker) in zip(registered, wakers) {
            #expect(try driver.dispatcher.poll(handle.file, caller: handle.caller, waker: waker) == [])
        }
        try await withThrowingTaskGroup(of: PollEvents.self) { group in
            for handle in waiting {
                group.addTask { try await driver.waitUntilReady(handle, for: [.in]) }
            }
            try await Task.sleep(for: .milliseconds(10))
            #expect(wakers.allSatisfy { $0.count == 0 })
            exitCode.value = 9
            exited.signal()
            #expect(wakers.map(\.count) == Array(repeating: 1, count: pollers), "woken synchronously by the signal")
            var woken = 0
            for try await events in group {
                #expect(events == [.in])
                woken += 1
            }
            #expect(woken == pollers)
        }
        for handle in registered + waiting { #expect(try await driver.read(handle).text == "9\n") }
    }

    @Test func pollEventsDescription() {
        #expect(PollEvents([.in, .pri]).description == "POLLIN|POLLPRI")
        #expect(PollEvents().description == "0")
    }
}
