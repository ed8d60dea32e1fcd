import Foundation
import Synchronization
import SystemPackage
import Testing

@testable import VFSKit

#if canImport(Glibc)
import Glibc
#endif

/// How the dispatcher answers through a `Reply`: inline when the handler does not suspend,
/// later (exactly once, interruptible) when it does.
@Suite("Reply", .timeLimit(.minutes(1)))
struct ReplyTests {
    let gate = Gate()
    let entered = Counter()
    let driver: InProcessDriver

    init() throws {
        let gate = gate
        let entered = entered
        driver = try InProcessDriver(
            Tree {
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
        let read = ProbeRequest<ArraySlice<UInt8>>()
        driver.dispatcher.read(handle.file, offset: 0, size: 100, caller: .root, reply: read.reply())
        let answer = try #require(read.answers.first, "delivered before dispatch returned")
        #expect(read.answers.count == 1)
        #expect(answer.inline && !read.answeredLater)
        #expect(answer.onCallingThread, "on the calling thread")
        #expect(try Array(answer.result.get()) == bytes("fast\n"))

        let written = ProbeRequest<Int>()
        driver.dispatcher.write(handle.file, offset: 0, bytes: bytes("12"), caller: .root, reply: written.reply())
        #expect(written.answers.map(\.inline) == [true])
        #expect(try written.answers.first?.result.get() == 2)
    }

    /// FUSE calls in from plain threads, outside any task.
    @Test func inlineOnAPlainThread() async throws {
        let handle = try driver.open("/fast")
        let dispatcher = driver.dispatcher
        let read = ProbeRequest<ArraySlice<UInt8>>()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let thread = Thread {
                dispatcher.read(handle.file, offset: 0, size: 100, caller: .root, reply: read.reply())
                continuation.resume()
            }
            thread.start()
        }
        let answer = try #require(read.answers.first)
        #expect(answer.inline && answer.onCallingThread)
        #expect(try Array(answer.result.get()).text == "fast\n")
    }

    @Test func failuresBeforeAnyAwaitAreInlineToo() throws {
        let handle = try driver.open("/fast", flags: OpenFlags.readWrite)
        let written = ProbeRequest<Int>()
        driver.dispatcher.write(handle.file, offset: 0, bytes: bytes("nope"), caller: .root, reply: written.reply())
        #expect(written.answers.map(\.inline) == [true])
        #expect(throws: Errno.invalidArgument) { try written.answers.first?.result.get() }
    }

    @Test func aSuspendingHandlerAnswersLaterExactlyOnce() async throws {
        let handle = try driver.open("/slow", flags: OpenFlags.readWrite)
        let written = ProbeRequest<Int>()
        driver.dispatcher.write(handle.file, offset: 0, bytes: bytes("1"), caller: .root, reply: written.reply())
        #expect(written.answeredLater, "a handler that suspends is answered later")
        #expect(written.answers.isEmpty)
        await entered.wait(for: 1)
        gate.open()
        await written.delivered.wait(for: 1)
        #expect(try written.answers.first?.result.get() == 1)
        #expect(written.answers.first?.inline == false)
        try await Task.sleep(for: .milliseconds(10))
        #expect(written.answers.count == 1, "exactly one reply")
    }

    @Test func aSuspendedReadIsAnsweredWhenItsHandlerFinishes() async throws {
        let handle = try driver.open("/slow")
        let read = ProbeRequest<ArraySlice<UInt8>>()
        driver.dispatcher.read(handle.file, offset: 0, size: 100, caller: .root, reply: read.reply())
        await entered.wait(for: 1)
        #expect(read.answers.isEmpty)
        gate.open()
        await read.delivered.wait(for: 1)
        let text = try read.answers.first.map { answer in Array(try answer.result.get()).text }
        #expect(text == "slow\n")
    }

    @Test func anInterruptAnswersEINTR() async throws {
        let handle = try driver.open("/slow", flags: OpenFlags.writeOnly)
        let written = ProbeRequest<Int>()
        driver.dispatcher.write(handle.file, offset: 0, bytes: bytes("1"), caller: .root, reply: written.reply())
        await entered.wait(for: 1)
        written.interrupt()
        await written.delivered.wait(for: 1)
        #expect(throws: Errno.interrupted) { try written.answers.first?.result.get() }
        #expect(written.answers.count == 1)
    }

    // The pieces on their own.

    @Test func aResultLeftBeforeTheReplyWasDeferredIsTakenInline() throws {
        let outcome = HandlerOutcome<Int>()
        outcome.finish(.success(7))
        #expect(try outcome.takeEarlyResult()?.get() == 7)
        #expect(outcome.takeEarlyResult() == nil, "taken once")
    }

    @Test func aResultAfterTheReplyWasDeferredGoesToTheLaterReply() {
        let outcome = HandlerOutcome<Int>()
        #expect(outcome.takeEarlyResult() == nil)
        let sent = Box<[Int]>([])
        outcome.deliver(to: LaterReply { result in sent.update { $0.append((try? result.get()) ?? -1) } })
        #expect(sent.value.isEmpty)
        outcome.finish(.success(3))
        outcome.finish(.success(4))
        #expect(sent.value == [3], "delivered at once, and once")
    }

    @Test func aResultBetweenTheLookAndTheDeferralIsNotLost() {
        let outcome = HandlerOutcome<Int>()
        #expect(outcome.takeEarlyResult() == nil)
        outcome.finish(.success(5))
        let sent = Box<[Int]>([])
        outcome.deliver(to: LaterReply { result in sent.update { $0.append((try? result.get()) ?? -1) } })
        #expect(sent.value == [5])
    }

    @Test func aLaterReplyAnswersOnceAndEIOWhenDroppedUnsent() {
        let sent = Box<[Result<Int, Errno>]>([])
        var later: LaterReply<Int>? = LaterReply { result in sent.update { $0.append(result) } }
        #expect(later?.send(.success(1)) == true)
        #expect(later?.send(.success(2)) == false)
        later = nil
        #expect(sent.value.count == 1)

        let dropped = Box<[Result<Int, Errno>]>([])
        later = LaterReply { result in dropped.update { $0.append(result) } }
        later = nil
        #expect(dropped.value.count == 1)
        #expect(throws: Errno.ioError) { try dropped.value.first?.get() }
    }

    @Test func aReplyDroppedUnsentAnswersEIO() {
        let request = ProbeRequest<Int>()
        do { _ = request.reply() }
        #expect(throws: Errno.ioError) { try request.answers.first?.result.get() }
    }

    @Test func anInterruptBeforeTheDeferralIsNotLost() async {
        let request = ProbeRequest<Int>()
        request.interrupt()
        let task = Task<Void, Never> { try? await Task.sleep(for: .seconds(60)) }
        _ = request.reply().answerLater { task.cancel() }
        #expect(task.isCancelled)
        await task.value
    }
}
