import SystemPackage
import Testing

@testable import VFSKit

/// `InProcessDriver.leftovers` reports what a test left open or unanswered.
@Suite struct LeftoversTests {
    let changed = ChangeSignal()
    let gate = Gate()
    let driver: InProcessDriver

    init() throws {
        let (changed, gate) = (changed, gate)
        driver = try InProcessDriver(
            Tree {
                File("value", "").read("") { _ in 1 }.poll("", .changes { _ in changed })
                File("slow", "").write(Int.self, "") { _, _ in _ = await gate.wait() }
            })
    }

    @Test func openHandlesPollRegistrationsAndUnansweredRequestsAreReported() async throws {
        #expect(driver.leftovers.isEmpty)
        let value = try driver.open("/value")
        #expect(driver.leftovers.openHandles == ["/value"])
        #expect(driver.leftovers.pollRegistrations.isEmpty)
        _ = try driver.dispatcher.poll(value.file, caller: value.caller, waker: CountingWaker())
        #expect(driver.leftovers.pollRegistrations == ["/value"])

        let slow = try driver.open("/slow", flags: OpenFlags.writeOnly)
        let writer = Task { [driver] in try await driver.write(slow, bytes("1")) }
        try await until("the write waits") { driver.leftovers.unansweredRequests == 1 }
        #expect(!driver.leftovers.isEmpty)
        #expect(driver.leftovers.description.contains("unanswered requests 1"))

        gate.open()
        _ = try await writer.value
        driver.close(slow)
        driver.close(value)
        #expect(driver.leftovers.isEmpty, "\(driver.leftovers)")
        #expect(changed.observerCount == 0, "closing stops the poll watching")
    }
}
