import CFUSE
import Dispatch
import Glibc
import Synchronization
import SystemPackage

/// What the libfuse callbacks reach through the session's userdata: the dispatcher, the
/// requests that wait for a later answer, and whether the session may still be written to.
///
/// A reply sent from inside a callback is always safe (the session outlives its worker
/// threads). A reply that comes later, from another thread, goes through a parked request,
/// sent only while it is registered here: after `close()` the session may be gone, so
/// late replies are dropped (`close()` answered them).
final class FUSEConnection: Sendable {
    let dispatcher: Dispatcher

    private struct Parked {
        var isOpen = true
        var requests: [ObjectIdentifier: ParkedRequest] = [:]
    }

    private let parked = Mutex(Parked())
    /// The session, while notifications may be written to it.
    private let notificationTarget = Mutex<SessionHandle?>(nil)
    /// Entry invalidations wait for the kernel's directory lock: never on a caller's thread.
    private let invalidations = DispatchQueue(label: "vfskit.fuse.invalidate")

    init(dispatcher: Dispatcher) {
        self.dispatcher = dispatcher
    }

    /// The connection a request belongs to.
    static func of(_ raw: OpaquePointer) -> FUSEConnection {
        Unmanaged<FUSEConnection>.fromOpaque(fuse_req_userdata(raw)!).takeUnretainedValue()
    }

    /// Keeps a request that will be answered later: hooks up the kernel's interrupt (which
    /// reaches `onInterrupt` off libfuse's thread) and returns the reply that answers it
    /// once, through `send`, unless `close()` answered it first.
    func park<Value: Sendable>(
        _ raw: OpaquePointer, onInterrupt: @escaping @Sendable () -> Void,
        send: @escaping @Sendable (OpaquePointer, Result<Value, Errno>) -> Void
    ) -> LaterReply<Value> {
        let request = ParkedRequest(raw: raw, onInterrupt: onInterrupt)
        parked.withLock { $0.requests[ObjectIdentifier(request)] = request }
        // The interrupt callback's reference, released once the request is answered.
        fuse_req_interrupt_func(raw, fuseInterrupted, Unmanaged.passRetained(request).toOpaque())
        return LaterReply { [self] result in
            answer(request) { send($0, result) }
        }
    }

    /// Answers a parked request with `send`, unless `close()` already did.
    private func answer(_ request: ParkedRequest, _ send: (OpaquePointer) -> Void) {
        let answered = parked.withLock { table -> Bool in
            guard table.requests.removeValue(forKey: ObjectIdentifier(request)) != nil else { return false }
            // Waits for a running interrupt callback (it holds the request's lock; it only hops).
            fuse_req_interrupt_func(request.raw, nil, nil)
            send(request.raw)
            return true
        }
        if answered { Unmanaged.passUnretained(request).release() }
    }

    /// Lets notifications reach the kernel once the session is mounted.
    func attach(_ session: SessionHandle) {
        notificationTarget.withLock { $0 = session }
    }

    /// Wakes kernel pollers through a poll handle, unless the session is closed.
    func notifyPoll(_ handle: OpaquePointer) {
        notificationTarget.withLock { session in
            if session != nil { _ = fuse_lowlevel_notify_poll(handle) }
        }
        fuse_pollhandle_destroy(handle)
    }

    /// Drops the kernel's cached dentry for a removed entry (asynchronously:
    /// the kernel takes the directory's lock, which a caller may hold).
    func invalidateEntry(parent: UInt64, name: String) {
        invalidations.async { [self] in
            notificationTarget.withLock { session in
                guard let session else { return }
                _ = name.withCString { fuse_lowlevel_notify_inval_entry(session.raw, parent, $0, strlen($0)) }
            }
        }
    }

    /// Once the session loop has ended: answers every parked request with `error`, stops
    /// its handler, and stops all further writes to the session.
    func close(answering error: Errno = .ioError) {
        let abandoned = parked.withLock { table -> [ParkedRequest] in
            table.isOpen = false
            defer { table.requests = [:] }
            for request in table.requests.values {
                fuse_req_interrupt_func(request.raw, nil, nil)
                _ = fuse_reply_err(request.raw, error.rawValue)
            }
            return Array(table.requests.values)
        }
        notificationTarget.withLock { $0 = nil }
        for request in abandoned {
            Unmanaged.passUnretained(request).release()
            request.onInterrupt()
        }
    }

    /// How many requests wait for a later answer right now.
    var parkedCount: Int { parked.withLock { $0.requests.count } }
}

/// A request answered later: the kernel request and what stops its handler.
final class ParkedRequest: @unchecked Sendable {
    /// libfuse takes one reply per request from any thread; `FUSEConnection` guards it.
    let raw: OpaquePointer
    let onInterrupt: @Sendable () -> Void

    init(raw: OpaquePointer, onInterrupt: @escaping @Sendable () -> Void) {
        self.raw = raw
        self.onInterrupt = onInterrupt
    }
}

/// The kernel interrupted a parked request (the caller got a signal). libfuse calls this
/// on its worker with the request's lock held, and answering takes that lock: so the
/// handler is stopped from another thread, never from here.
func fuseInterrupted(_ req: fuse_req_t?, _ data: UnsafeMutableRawPointer?) {
    guard let data else { return }
    let request = Unmanaged<ParkedRequest>.fromOpaque(data).takeUnretainedValue()
    DispatchQueue.global().async { request.onInterrupt() }
}
