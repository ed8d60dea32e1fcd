/// Runs an action after a delay: the engine's and the simulator's clock.
///
/// Tests replace it with a manual clock so retention and boot latency are deterministic.
public protocol Scheduler: Sendable {
    /// Calls `action` once, after `delay` (at once, synchronously, when `delay` is not positive).
    func schedule(after delay: Duration, _ action: @escaping @Sendable () -> Void)
}

/// The real clock: a task that sleeps for the delay.
public struct TaskScheduler: Scheduler {
    public init() {}

    public func schedule(after delay: Duration, _ action: @escaping @Sendable () -> Void) {
        guard delay > .zero else { return action() }
        Task {
            try? await Task.sleep(for: delay)
            action()
        }
    }
}
