import Foundation
import Synchronization
import SystemPackage
import Testing
@testable import VFSKit

#if canImport(Glibc)
import Glibc
#endif

/// The inline-vs-pending protocol between the dispatcher and a driver.
@Suite("PendingRequest", .timeLimit(.minutes(1)))
struct PendingRequestTests {
    let gate = Gate()
    let entered = Counter()
    let driver: InProcessDriver

    init() throws {
        let gate = gate
        let entered = entered
        driver = try InProcessDriver(Tree {
            File("fast", "")
                .read("") { _ in "fast" }
                .write(Int.self, "") { _, _ in }
            File("slow", "")
                .read("") { _ in
                    entered.increment()
                    _ = await gate.wait()
                    return "slow"
                }
                .write(Int.self, "") { _, _ throws(Errno) in
                    entered.increment()
                    guard await gate.wait() else { throw .interrupted }
                }
        })
    }

    /// Issue 3, point 9: a handler that does not suspend is answered on the calling thread.
    @Test func nonSuspendingHandlerRepliesInline() throws {
        let handle = try driver.open("/fast", flags: OpenFlags.readWrite)
        let replies = Box<[String]>([])
        let thread = pthread_self()
        let replyThread = Box<pthread_t?>(nil)
        let outcome = driver.dispatcher.read(handle.file, offset: 0, size: 100, caller: .root) { result in
            replyThread.value = pthread_self()
            replies.update { $0.append((try? result.get()).map { String(decoding: $0, as: UTF8.self) } ?? "error") }
        }
        guard case .done = outcome else {
            Issue.record("expected .done, got .pending")
            return
        }
        #expect(replies.value == ["fast\n"], "delivered before dispatch returned")
        #expect(replyThread.value.map { pthread_equal($0, thread) != 0 } == true, "on the calling thread")

        let written = Box<Result<Int, Errno>?>(nil)
        let writeOutcome = driver.dispatcher.write(handle.file, offset: 0, bytes: bytes("12"), caller: .root) { written.value = $0 }
        guard case .done = writeOutcome else {
            Issue.record("expected .done")
            return
        }
        #expect(try written.value?.get() == 2)
    }

    /// FUSE calls in from plain threads, outside any task.
    @Test func inlineOnAPlainThread() async throws {
        let handle = try driver.open("/fast")
        let dispatcher = driver.dispatcher
        let report = Box<(done: Bool, sameThread: Bool, text: String)?>(nil)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let thread = Thread {
                let me = pthread_self()
                let reply = Box<(Bool, String)?>(nil)
                let outcome = dispatcher.read(handle.file, offset: 0, size: 100, caller: .root) { result in
                    reply.value = (pthread_equal(pthread_self(), me) != 0, (try? result.get()).map { Array($0).text } ?? "error")
                }
                if case .done = outcome, let (same, text) = reply.value {
                    report.value = (true, same, text)
                } else {
                    report.value = (false, false, "")
                }
                continuation.resume()
            }
            thread.start()
        }
        #expect(report.value?.done == true)
        #expect(report.value?.sameThread == true)
        #expect(report.value?.text == "fast\n")
    }

    @Test func failuresBeforeAnyAwaitAreInlineToo() throws {
        let handle = try driver.open("/fast", flags: OpenFlags.readWrite)
        let written = Box<Result<Int, Errno>?>(nil)
        let outcome = driver.dispatcher.write(handle.file, offset: 0, bytes: bytes("nope"), caller: .root) { written.value = $0 }
        guard case .done = outcome else {
            Issue.record("expected .done")
            return
        }
        #expect(throws: Errno.invalidArgument) { try written.value?.get() }
    }

    @Test func suspendingHandlerIsPendingAndHeldUntilArmed() async throws {
        let handle = try driver.open("/slow", flags: OpenFlags.readWrite)
        let delivered = Counter()
        let result = Box<Result<Int, Errno>?>(nil)
        let outcome = driver.dispatcher.write(handle.file, offset: 0, bytes: bytes("1"), caller: .root) {
            result.value = $0
            delivered.increment()
        }
        guard case .pending(let request) = outcome else {
            Issue.record("expected .pending")
            return
        }
        await entered.wait(for: 1)
        gate.open()
        // Give the handler ample time to finish: its reply must still be held.
        try await Task.sleep(for: .milliseconds(50))
        #expect(delivered.count == 0, "no reply before armed()")
        request.armed()
        await delivered.wait(for: 1)
        #expect(try result.value?.get() == 1)
        #expect(!request.isInterrupted)
        try await Task.sleep(for: .milliseconds(10))
        #expect(delivered.count == 1, "exactly one reply")
    }

    @Test func armedBeforeCompletionDeliversOnCompletion() async throws {
        let handle = try driver.open("/slow")
        let delivered = Counter()
        let result = Box<String?>(nil)
        let outcome = driver.dispatcher.read(handle.file, offset: 0, size: 100, caller: .root) {
            result.value = (try? $0.get()).map { String(decoding: $0, as: UTF8.self) }
            delivered.increment()
        }
        guard case .pending(let request) = outcome else {
            Issue.record("expected .pending")
            return
        }
        request.armed()
        await entered.wait(for: 1)
        #expect(delivered.count == 0)
        gate.open()
        await delivered.wait(for: 1)
        #expect(result.value == "slow\n")
    }

    @Test func interruptBeforeArmedAnswersEINTR() async throws {
        let handle = try driver.open("/slow", flags: OpenFlags.writeOnly)
        let delivered = Counter()
        let result = Box<Result<Int, Errno>?>(nil)
        let outcome = driver.dispatcher.write(handle.file, offset: 0, bytes: bytes("1"), caller: .root) {
            result.value = $0
            delivered.increment()
        }
        guard case .pending(let request) = outcome else {
            Issue.record("expected .pending")
            return
        }
        request.interrupt()
        #expect(request.isInterrupted)
        try await Task.sleep(for: .milliseconds(20))
        #expect(delivered.count == 0)
        request.armed()
        await delivered.wait(for: 1)
        #expect(throws: Errno.interrupted) { try result.value?.get() }
    }

    // The state machine on its own.

    @Test func completeDuringStartIsDone() {
        let request = PendingRequest()
        let delivered = Box(0)
        request.complete { delivered.update { $0 += 1 } }
        #expect(delivered.value == 0)
        guard case .done = request.finishStarting() else {
            Issue.record("expected .done")
            return
        }
        #expect(delivered.value == 1)
    }

    @Test func completeAfterStartIsHeldUntilArmed() {
        let request = PendingRequest()
        let delivered = Box(0)
        guard case .pending = request.finishStarting() else {
            Issue.record("expected .pending")
            return
        }
        request.complete { delivered.update { $0 += 1 } }
        #expect(delivered.value == 0)
        request.armed()
        #expect(delivered.value == 1, "armed() delivers a held reply at once")
    }

    @Test func completeAfterArmedIsDeliveredAtOnce() {
        let request = PendingRequest()
        let delivered = Box(0)
        _ = request.finishStarting()
        request.armed()
        #expect(delivered.value == 0)
        request.complete { delivered.update { $0 += 1 } }
        #expect(delivered.value == 1)
    }

    @Test func interruptBeforeTheHookCancelsTheTask() async {
        let request = PendingRequest()
        request.interrupt()
        let task = Task<Void, Never> {
            try? await Task.sleep(for: .seconds(60))
        }
        request.onInterrupt { task.cancel() }
        #expect(task.isCancelled)
        await task.value
    }
}
