import SystemPackage
import Testing

@testable import LibUKP

@Suite struct ForkQueueTests {
    @Test func firstRequestStartsOthersWaitInOrder() {
        var queue = ForkQueue(depth: 32)
        #expect(queue.request(1) == .start(1))
        #expect(queue.request(2) == .none)
        #expect(queue.request(3) == .none)
        #expect(queue.running == 1)
        #expect(Array(queue.waiting) == [2, 3])
        #expect(queue.completed() == .start(2))
        #expect(queue.completed() == .start(3))
        #expect(queue.completed() == .none)
        #expect(queue.running == nil)
        #expect(queue.request(4) == .start(4))
    }

    @Test(arguments: [0, 1, 2, 32])
    func fullQueueAnswersBusy(depth: Int) {
        var queue = ForkQueue(depth: depth)
        #expect(queue.request(0) == .start(0))
        for id in stride(from: UInt64(1), through: UInt64(depth), by: 1) {
            #expect(queue.request(id) == .none)
        }
        let extra = UInt64(depth + 1)
        #expect(queue.request(extra) == .fail(extra, .resourceBusy))
        #expect(queue.waiting.count == depth)
        // A completion frees a place.
        _ = queue.completed()
        #expect(queue.request(extra + 1) == (depth == 0 ? .start(extra + 1) : .none))
    }

    @Test func cancellingAWaitingRequestFailsItWithEINTR() {
        var queue = ForkQueue()
        _ = queue.request(1)
        _ = queue.request(2)
        _ = queue.request(3)
        #expect(queue.cancel(2) == .fail(2, .interrupted))
        #expect(Array(queue.waiting) == [3])
        #expect(queue.cancel(2) == .none)
        #expect(queue.completed() == .start(3))
    }

    @Test func theRunningForkIsNotInterruptible() {
        var queue = ForkQueue()
        _ = queue.request(1)
        #expect(queue.cancel(1) == .none)
        #expect(queue.running == 1)
        #expect(queue.cancel(99) == .none)
    }

    @Test func becomingAChildDrainsTheWaitingRequests() {
        var queue = ForkQueue()
        _ = queue.request(1)
        _ = queue.request(2)
        _ = queue.request(3)
        #expect(queue.becameChild() == [2, 3])
        #expect(queue.waiting.isEmpty)
        #expect(queue.running == 1)
        #expect(queue.completed() == .none)
        #expect(queue.request(4) == .start(4))
    }

    @Test func shutdownFailsEverythingFromNowOn() {
        var queue = ForkQueue()
        _ = queue.request(1)
        _ = queue.request(2)
        #expect(queue.shutdown() == [1, 2])
        #expect(queue.isClosed)
        #expect(queue.request(3) == .fail(3, .ioError))
        #expect(queue.completed() == .none)
        #expect(queue.shutdown() == [])
    }

    /// Random events against the rules: every request is answered once (start or fail),
    /// starts follow arrival order, at most one fork runs, the queue never exceeds its depth.
    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8])
    func randomEventsKeepTheRules(seed: UInt64) {
        var random = SplitMix(seed: seed)
        let depth = Int(random.next() % 6)
        var queue = ForkQueue(depth: depth)
        var answered: [UInt64: ForkQueue.Action] = [:]
        var started: [UInt64] = []
        var next: UInt64 = 0
        func record(_ action: ForkQueue.Action) {
            switch action {
            case .none: break
            case .start(let id):
                #expect(answered[id] == nil)
                answered[id] = action
                started.append(id)
            case .fail(let id, _):
                #expect(answered[id] == nil)
                answered[id] = action
            }
        }
        for _ in 0..<2000 {
            switch random.next() % 10 {
            case 0...4:
                let action = queue.request(next)
                if case .fail(_, let errno) = action { #expect(errno == .resourceBusy) }
                record(action)
                next += 1
            case 5...7:
                if queue.running != nil { record(queue.completed()) }
            default:
                guard next > 0 else { continue }
                let action = queue.cancel(random.next() % next)
                if case .fail(_, let errno) = action { #expect(errno == .interrupted) }
                record(action)
            }
            #expect(queue.waiting.count <= depth)
            #expect(queue.running == nil ? queue.waiting.isEmpty : true)
            #expect(queue.waiting.allSatisfy { answered[$0] == nil })
        }
        #expect(started == started.sorted())
        let unanswered = (0..<next).filter { answered[$0] == nil }
        #expect(unanswered == Array(queue.waiting))
    }
}

/// A small deterministic random generator for table-driven fuzzing.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
