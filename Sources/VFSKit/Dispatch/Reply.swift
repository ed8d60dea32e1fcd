import Synchronization
public import SystemPackage

/// How a driver answers one request: a value consumed when it is sent.
///
/// A handler that finishes on the thread that received the request answers with
/// `send(_:)`, there and then (the fast path: no allocation, no hop). One that has to wait
/// first turns the reply into a `LaterReply` with `answerLater(onInterrupt:)`: the driver
/// then knows the request is outstanding (an interrupt from the kernel reaches
/// `onInterrupt`; a shutdown answers it) and the later reply answers it once, from any thread.
/// A conforming reply dropped unsent answers `EIO`.
public protocol Reply<Value>: ~Copyable {
    associatedtype Value: Sendable
    /// Answers the request now.
    consuming func send(_ result: Result<Value, Errno>)
    /// The request will be answered later, from another thread. `onInterrupt` is called, once
    /// and never on a thread that holds driver locks, when the caller is interrupted (at once
    /// if it already was); it should make the handler answer `EINTR`.
    consuming func answerLater(onInterrupt: @escaping @Sendable () -> Void) -> LaterReply<Value>
}

/// The answer to a request that waits: sent at most once, from any thread; `EIO` if it is
/// dropped unsent (a handler that never answered must not leave its caller hanging).
public final class LaterReply<Value: Sendable>: Sendable {
    /// Boxed: a closure stored directly as a `Mutex`'s value is re-abstracted on each access.
    private struct Sender: Sendable {
        let send: @Sendable (Result<Value, Errno>) -> Void
    }

    private let sender: Mutex<Sender?>

    /// - Parameter send: delivers the answer to the driver; called at most once.
    public init(_ send: @escaping @Sendable (Result<Value, Errno>) -> Void) {
        sender = Mutex(Sender(send: send))
    }

    /// Answers the request unless it was answered already; true if this call answered it.
    @discardableResult
    public func send(_ result: Result<Value, Errno>) -> Bool {
        guard let sender = sender.withLock({ $0.take() }) else { return false }
        sender.send(result)
        return true
    }

    deinit {
        if let sender = sender.withLock({ $0.take() }) {
            VFSKitLog.unanswered("a request was dropped unanswered")
            sender.send(.failure(.ioError))
        }
    }
}
