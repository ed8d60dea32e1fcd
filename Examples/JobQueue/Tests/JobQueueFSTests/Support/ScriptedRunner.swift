import JobQueueFS
import Synchronization

/// A runner whose commands run until the test says so: `finish` is the event that
/// ends a job; cancelling one answers 143, as `SIGTERM` would.
final class ScriptedRunner: JobRunner {
    private struct Run {
        var output: @Sendable ([UInt8]) -> Void
        var continuation: CheckedContinuation<Int32, Never>
    }

    private struct State {
        var running: [String: Run] = [:]
        var started: [String] = []
        var cancelled: [String] = []
    }

    private let state = Mutex(State())

    /// Commands in the order they started.
    var started: [String] { state.withLock { $0.started } }
    /// Commands whose task was cancelled while they ran.
    var cancelled: [String] { state.withLock { $0.cancelled } }
    func isRunning(_ command: String) -> Bool { state.withLock { $0.running[command] != nil } }

    func run(_ command: String, output: @escaping @Sendable ([UInt8]) -> Void) async -> Int32 {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let cancelledAlready = state.withLock { state -> Bool in
                    state.started.append(command)
                    if Task.isCancelled {
                        state.cancelled.append(command)
                        return true
                    }
                    state.running[command] = Run(output: output, continuation: continuation)
                    return false
                }
                if cancelledAlready { continuation.resume(returning: 143) }
            }
        } onCancel: {
            let run = state.withLock { state -> Run? in
                guard let run = state.running.removeValue(forKey: command) else { return nil }
                state.cancelled.append(command)
                return run
            }
            run?.continuation.resume(returning: 143)
        }
    }

    /// Ends a running command with `code`.
    func finish(_ command: String, code: Int32 = 0) {
        let run = state.withLock { $0.running.removeValue(forKey: command) }
        precondition(run != nil, "\(command) is not running")
        run?.continuation.resume(returning: code)
    }

    /// Output from a running command.
    func emit(_ command: String, _ text: String) {
        let output = state.withLock { $0.running[command]?.output }
        output?(Array(text.utf8))
    }
}
