#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What `/fork` reads, per calling thread, in the order SPEC.md gives.
///
/// 1. the last fork started by the thread; 2. the last fork the instance completed;
/// 3. the zero UUID in an instance created by a fork; 4. nothing.
/// Per-thread results are kept for at most `threadLimit` threads, least recently used out.
struct ForkResults: Sendable {
    private struct Entry {
        var result: UUID
        var lastUse: UInt64
    }

    let threadLimit: Int
    private var byThread: [Int32: Entry] = [:]
    private var useCounter: UInt64 = 0
    /// The result of the last fork this instance completed.
    private(set) var lastCompleted: UUID?
    /// True in an instance that was created by a fork.
    private(set) var createdByFork: Bool

    init(threadLimit: Int = 4096, createdByFork: Bool = false) {
        precondition(threadLimit > 0, "thread result limit must be positive")
        self.threadLimit = threadLimit
        self.createdByFork = createdByFork
    }

    /// How many threads have a remembered result.
    var rememberedThreads: Int { byThread.count }

    /// The result `thread` reads; a read counts as a use for the LRU order.
    mutating func result(thread: Int32) -> UUID? {
        if let entry = byThread[thread] {
            useCounter &+= 1
            byThread[thread]?.lastUse = useCounter
            return entry.result
        }
        return lastCompleted ?? (createdByFork ? .zero : nil)
    }

    /// A fork started by `thread` completed with `result` (the child's UUID, or zero in the child).
    mutating func record(_ result: UUID, thread: Int32?) {
        lastCompleted = result
        guard let thread else { return }
        useCounter &+= 1
        if byThread[thread] == nil, byThread.count >= threadLimit,
            let oldest = byThread.min(by: { $0.value.lastUse < $1.value.lastUse })?.key
        {
            byThread.removeValue(forKey: oldest)
        }
        byThread[thread] = Entry(result: result, lastUse: useCounter)
    }

    /// This instance became a child: every thread reads the zero UUID until it forks.
    mutating func becameChild() {
        byThread.removeAll()
        lastCompleted = .zero
        createdByFork = true
    }
}
