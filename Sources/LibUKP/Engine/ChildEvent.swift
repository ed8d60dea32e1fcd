/// A change the platform reports about one child.
enum ChildEvent: Sendable, Hashable {
    /// The child moved to a new state.
    case status(InstanceState)
    /// The child stopped with an exit code.
    case exited(Int32)
}
