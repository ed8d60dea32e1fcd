import SystemPackage

/// "Ready when X, signalled by Y", named once and handed to everything that depends on it:
/// a blocking write (`File.write(_:_:until:)`), a poll (`Readiness.readable(_:)`) and a
/// read that shows a value only once it holds (`File.read(_:once:_:)`).
///
/// ```swift
/// let finished = Condition(when: { _ in try job.value.isFinished }, signalledBy: { _ in try job.value.changed })
/// File("wait", permissions: 0o666, "Wait for the job")
///     .read("exit code once finished", once: finished) { _ in try job.value.exitCode }
///     .write(Ignored.self, "blocks until the job finished", until: finished)
///     .poll("POLLIN once finished", .readable(finished))
/// ```
/// `when` is evaluated again each time the signal fires; call `signal()` after the state
/// it reads changed. A `when` that throws answers with its error (an `Errno`, else `EIO`).
///
/// A condition over state alone, `Condition(when: { … }, signalledBy: signal)`, can also
/// decide whether a node exists (``NodeConvertible/present(while:)``).
public struct Condition: Sendable {
    let holds: @Sendable (RequestContext) throws(Errno) -> Bool
    let signal: @Sendable (RequestContext) throws(Errno) -> ChangeSignal
    /// Set for a condition that reads no request.
    let stateHolds: (@Sendable () throws(Errno) -> Bool)?
    /// Set for a condition that reads no request; nil when nothing announces its changes
    /// (the validator rejects such a condition wherever it is used).
    let stateSignal: ChangeSignal?
    /// False for a request-free condition declared without a signal.
    let hasSignal: Bool

    public init(
        when holds: @escaping @Sendable (RequestContext) throws -> Bool,
        signalledBy signal: @escaping @Sendable (RequestContext) throws -> ChangeSignal
    ) {
        self.holds = Self.typed(holds)
        self.signal = Self.typed(signal)
        (stateHolds, stateSignal, hasSignal) = (nil, nil, true)
    }

    /// A condition over state alone: `holds` reads no request, and `signal` fires after the
    /// state it reads changed (nil is a declaration error, reported when the tree is built).
    public init(when holds: @escaping @Sendable () throws -> Bool, signalledBy signal: ChangeSignal?) {
        let typed: @Sendable () throws(Errno) -> Bool = { () throws(Errno) in
            do { return try holds() } catch { throw Errno(handlerError: error) }
        }
        self.holds = { _ throws(Errno) in try typed() }
        self.signal = { _ throws(Errno) in
            guard let signal else { throw .ioError }
            return signal
        }
        (stateHolds, stateSignal, hasSignal) = (typed, signal, signal != nil)
    }

    /// A handler's error as the errno it answers.
    static func typed<T>(
        _ body: @escaping @Sendable (RequestContext) throws -> T
    ) -> @Sendable (RequestContext) throws(Errno) -> T {
        { context throws(Errno) in
            do { return try body(context) } catch { throw Errno(handlerError: error) }
        }
    }
}
