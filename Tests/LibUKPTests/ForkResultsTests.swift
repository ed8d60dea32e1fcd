import Foundation
import Testing

@testable import LibUKP

@Suite struct ForkResultsTests {
    let a = UUID()
    let b = UUID()
    let c = UUID()

    @Test func neverForkedReadsNothing() {
        var results = ForkResults()
        #expect(results.result(thread: 1) == nil)
    }

    @Test func createdByForkReadsZero() {
        var results = ForkResults(createdByFork: true)
        #expect(results.result(thread: 1) == .zero)
    }

    @Test func threadReadsItsOwnForkOthersTheLastCompleted() {
        var results = ForkResults()
        results.record(a, thread: 1)
        results.record(b, thread: 2)
        #expect(results.result(thread: 1) == a)
        #expect(results.result(thread: 2) == b)
        #expect(results.result(thread: 3) == b)
    }

    @Test func theLastForkOfAThreadWins() {
        var results = ForkResults()
        results.record(a, thread: 1)
        results.record(b, thread: 1)
        #expect(results.result(thread: 1) == b)
        #expect(results.rememberedThreads == 1)
    }

    @Test func leastRecentlyUsedThreadIsForgotten() {
        var results = ForkResults(threadLimit: 3)
        results.record(a, thread: 1)
        results.record(b, thread: 2)
        results.record(c, thread: 3)
        _ = results.result(thread: 1)  // a read is a use
        let d = UUID()
        results.record(d, thread: 4)
        #expect(results.rememberedThreads == 3)
        #expect(results.result(thread: 1) == a)
        #expect(results.result(thread: 2) == d)  // forgotten: reads the last completed fork
        #expect(results.result(thread: 3) == c)
        #expect(results.result(thread: 4) == d)
    }

    @Test(arguments: [1, 16, 4096])
    func atMostLimitThreadsAreRemembered(limit: Int) {
        var results = ForkResults(threadLimit: limit)
        for thread in 0..<Int32(limit + 100) { results.record(UUID(), thread: thread) }
        #expect(results.rememberedThreads == limit)
    }

    @Test func becomingAChildMakesEveryThreadReadZero() {
        var results = ForkResults()
        results.record(a, thread: 1)
        results.becameChild()
        #expect(results.result(thread: 1) == .zero)
        #expect(results.result(thread: 2) == .zero)
        #expect(results.rememberedThreads == 0)
        results.record(b, thread: 2)
        #expect(results.result(thread: 2) == b)
        #expect(results.result(thread: 1) == b)
    }

    @Test func aResultWithoutThreadOnlyUpdatesTheInstance() {
        var results = ForkResults()
        results.record(a, thread: nil)
        #expect(results.result(thread: 9) == a)
        #expect(results.rememberedThreads == 0)
    }
}
