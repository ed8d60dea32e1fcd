import CFUSE
import Dispatch
import Glibc
import Synchronization
import SystemPackage

/// What the libfuse callbacks reach through the session's userdata: the
/// dispatcher, the requests whose handlers suspended, and whether the session
/// may still be written to.
///
/// A reply sent from inside a callback is always safe (the session outlives
/// its worker threads). A reply that arrives later, from another thread, goes
/// through `deliver`, which sends it only while the request is registered
/// here: after `close()` the session may be gone, and late replies are dropped.
final class FUSEConnection: Sendable {
    let dispatcher: Dispatcher

    private struct Parked {
        var isOpen = true
        /// Suspended requests by `fuse_req_t` address, each with the retained
        /// `PendingRequest` its interrupt callback holds.
        var requests: [UInt: PendingRequest] = [:]
    }

    private let parked = Mutex(Parked())
    /// Parked requests, plus one once closed: zero lets a reply skip the lock.
    private let slowPathUsers = Atomic<Int>(0)
    /// The session, while notifications may be written to it.
    private let notificationTarget = Mutex<SessionHandle?>(nil)
    /// Entry invalidations wait for the kernel's directory lock: never on a caller's thread.
    private let invalidations = DispatchQueue(label: "vfskit.fuse.invalidate")

    init(dispatcher: Dispatcher) {
        self.dispatcher = dispatcher
    }

    /// Registers a request whose handler suspended, hooks up the kernel's
    /// interrupt, then lets the dispatcher deliver its reply.
    func park(_ request: FUSERequest, _ pending: PendingRequest) {
        parked.withLock { $0.requests[request.key] = pending }
        slowPathUsers.add(1, ordering: .sequentiallyConsistent)
        fuse_req_interrupt_func(request.raw, fuseInterrupted, Unmanaged.passRetained(pending).toOpaque())
        pending.armed()
    }

    /// Sends a handler's reply: at once for a request answered inside its
    /// callback, after detaching the interrupt hook for a parked one, and not
    /// at all for a parked request that `close()` already answered.
    func deliver(_ request: FUSERequest, _ send: (FUSERequest) -> Void) {
        if slowPathUsers.load(ordering: .sequentiallyConsistent) == 0 {
            send(request)
            return
        }
        let released = parked.withLock { table -> PendingRequest? in
            if let pending = table.requests.removeValue(forKey: request.key) {
                // Waits for a running interrupt callback: it holds the request's lock.
                fuse_req_interrupt_func(request.raw, nil, nil)
                send(request)
                return pending
            }
            if table.isOpen { send(request) } // answered inside its callback
            return nil
        }
        if let released {
            slowPathUsers.subtract(1, ordering: .sequentiallyConsistent)
            Unmanaged.passUnretained(released).release()
        }
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

    /// Once the session loop has ended: answers every parked request with
    /// `error`, cancels its handler, and stops all further writes to the session.
    func close(answering error: Errno = .ioError) {
        slowPathUsers.add(1, ordering: .sequentiallyConsistent)
        let abandoned = parked.withLock { table -> [PendingRequest] in
            table.isOpen = false
            defer { table.requests = [:] }
            for key in table.requests.keys {
                let raw = OpaquePointer(bitPattern: key)!
                fuse_req_interrupt_func(raw, nil, nil)
                _ = fuse_reply_err(raw, error.rawValue)
            }
            return Array(table.requests.values)
        }
        slowPathUsers.subtract(abandoned.count, ordering: .sequentiallyConsistent)
        notificationTarget.withLock { $0 = nil }
        for pending in abandoned {
            pending.interrupt()
            Unmanaged.passUnretained(pending).release()
        }
    }

    /// How many requests are parked (blocked in a handler) right now.
    var parkedCount: Int { parked.withLock { $0.requests.count } }
}

/// The kernel interrupted a parked request (the caller got a signal). Runs on
/// a libfuse worker with the request's lock held: `interrupt()` only cancels
/// the handler's task, whose reply then comes from the task's own thread.
/// (A reply sent synchronously from here would deadlock in `deliver`.)
func fuseInterrupted(_ req: fuse_req_t?, _ data: UnsafeMutableRawPointer?) {
    guard let data else { return }
    Unmanaged<PendingRequest>.fromOpaque(data).takeUnretainedValue().interrupt()
}
