public import SystemPackage

extension ChangeSignal {
    /// Suspends until `condition` holds, re-evaluated after each `signal()`; returns at once
    /// if it holds already. A condition that throws ends the wait with its error; cancelling
    /// the waiting task throws `EINTR`. Any number of tasks may wait; each costs one observer.
    public func wait(until condition: @escaping @Sendable () throws(Errno) -> Bool) async throws(Errno) {
        let watch = ConditionWatch(signal: self, holds: condition)
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                watch.start { continuation.resume(returning: $0) }
            }
        } onCancel: {
            watch.cancel(.interrupted)
        }
        try result.get()
    }
}
