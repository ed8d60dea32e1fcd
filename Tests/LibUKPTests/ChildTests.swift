import Foundation
import SystemPackage
import Testing

@testable import LibUKP

@Suite struct ChildTests {
    func makeChild(_ status: InstanceState = .starting) -> Child {
        Child(id: UUID(), snapshot: UUID(), creationTime: 1_700_000_000, status: status)
    }

    @Test func statusChangesSignalOncePerChange() {
        let child = makeChild()
        #expect(child.status == .starting)
        child.apply(.status(.running))
        child.apply(.status(.running))
        child.apply(.status(.template))
        #expect(child.status == .template)
        #expect(child.statusChanged.count == 2)
        #expect(child.exitCode == nil)
        #expect(!child.hasStopped)
    }

    @Test func stoppedIsFinal() {
        let child = makeChild(.running)
        #expect(child.apply(.exited(3)))
        #expect(!child.apply(.status(.running)))
        #expect(!child.apply(.exited(4)))
        #expect(child.status == .stopped)
        #expect(child.exitCode == 3)
        #expect(child.statusChanged.count == 1)
    }

    @Test func anExitCodeMayFollowAStoppedStatus() {
        let child = makeChild(.running)
        #expect(child.apply(.status(.stopped)))
        #expect(child.exitCode == nil)
        #expect(!child.apply(.exited(9)))
        #expect(child.exitCode == 9)
        #expect(child.statusChanged.count == 2)
    }

    @Test func waitReturnsAtOnceWhenStopped() async throws {
        let child = makeChild()
        child.apply(.exited(0))
        try await child.waitUntilStopped()
    }

    @Test func waitersAreReleasedByTheStop() async throws {
        let child = makeChild(.running)
        let waiters = (0..<8).map { _ in Task { try await child.waitUntilStopped() } }
        try await until("8 waiters") { child.waiterCount == 8 }
        child.apply(.status(.draining))
        child.apply(.status(.stopping))
        #expect(child.waiterCount == 8)
        child.apply(.exited(1))
        for waiter in waiters { try await waiter.value }
        #expect(child.waiterCount == 0)
    }

    @Test func aTemplateHasNotStopped() async throws {
        let child = makeChild(.running)
        let waiter = Task { try await child.waitUntilStopped() }
        try await until("waiter") { child.waiterCount == 1 }
        child.apply(.status(.template))
        try await Task.sleep(for: .milliseconds(20))
        #expect(child.waiterCount == 1)
        child.apply(.exited(0))
        try await waiter.value
    }

    @Test func aCancelledWaiterLeavesWithEINTR() async throws {
        let child = makeChild(.running)
        let cancelled = Task { try await child.waitUntilStopped() }
        let staying = Task { try await child.waitUntilStopped() }
        try await until("2 waiters") { child.waiterCount == 2 }
        cancelled.cancel()
        #expect(await errno(of: cancelled) == .interrupted)
        #expect(child.waiterCount == 1)
        #expect(child.status == .running)
        child.apply(.exited(0))
        try await staying.value
    }

    @Test func anAlreadyCancelledWaiterFailsAtOnce() async throws {
        let child = makeChild(.running)
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await child.waitUntilStopped()
        }
        #expect(await errno(of: task) == .interrupted)
        #expect(child.waiterCount == 0)
    }

    @Test func closingFailsBlockedAndLaterWaits() async throws {
        let child = makeChild(.running)
        let waiter = Task { try await child.waitUntilStopped() }
        try await until("waiter") { child.waiterCount == 1 }
        child.close(with: .ioError)
        #expect(await errno(of: waiter) == .ioError)
        await #expect(throws: Errno.ioError) { try await child.waitUntilStopped() }
    }

    @Test func aStoppedChildStillAnswersAfterClosing() async throws {
        let child = makeChild(.running)
        child.apply(.exited(2))
        child.close(with: .ioError)
        try await child.waitUntilStopped()
    }
}
