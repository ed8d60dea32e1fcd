/// Wakes a kernel (or in-process) poll registration once; dropped unfired when replaced.
public protocol PollWaker: AnyObject, Sendable {
    func wake()
}
