/// Runs a job's command. The queue calls it from a task of its own and cancels that task
/// to stop the command; the runner then ends it and still answers its exit code.
public protocol JobRunner: Sendable {
    /// Runs `command` to its end, handing over its output as it arrives; answers the exit
    /// code (128+N when signal N killed it).
    func run(_ command: String, output: @escaping @Sendable ([UInt8]) -> Void) async -> Int32
}
