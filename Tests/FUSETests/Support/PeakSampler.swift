import Foundation
import Synchronization

/// Samples a count every 50 ms on a thread of its own and keeps the highest value seen. Not
/// a task: on a loaded machine the cooperative pool may not run a sampling task again while
/// the test's own tasks hold it, and the peak would be missed.
final class PeakSampler: Sendable {
    private let peak = Atomic(0)
    private let stopped = Atomic(false)
    private let finished = DispatchSemaphore(value: 0)

    init(_ sample: @escaping @Sendable () -> Int) {
        Thread.detachNewThread { [self] in
            repeat {  // at least once
                let value = sample()
                if value > peak.load(ordering: .relaxed) { peak.store(value, ordering: .relaxed) }
                usleep(50_000)
            } while !stopped.load(ordering: .acquiring)
            finished.signal()
        }
    }

    /// Stops sampling; the highest value seen.
    func stop() -> Int {
        stopped.store(true, ordering: .releasing)
        finished.wait()
        return peak.load(ordering: .relaxed)
    }
}
