#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif
public import SystemPackage
import Synchronization
import VFSKit
#if canImport(Glibc)
import Glibc
#endif

/// The platform reached through its wire protocol over a byte stream: a Unix socket, or a
/// character device such as the virtio-serial port `/dev/virtio-ports/ukp`.
///
/// A fork sends `ForkRequest` with a fresh correlation id and waits for the reply with that
/// id: `ForkCreated` (this instance is the parent) or `Error` (the platform's errno).
/// `ParentId` means this instance is the child of a fork: it answers the fork in flight, or
/// else tells the engine `becameChild()`. `ExitStatus` stops a child; other `Status`
/// changes are forwarded as they come (`Status` `Stopped` waits for the exit code).
///
/// Malformed messages are logged and skipped. When the stream ends, fails, or gets out of
/// step (an unknown message type), forks in flight fail with `EIO`, and the platform
/// reconnects after `reconnectDelay` until `close()`.
public final class WirePlatform: Platform, Sendable {
    /// Receives the platform's log lines.
    public typealias Log = @Sendable (WireLogLevel, String) -> Void

    private typealias Reply = CheckedContinuation<Result<ForkOutcome, ForkFailure>, Never>

    private struct State {
        var connection: WireConnection?
        var pending: [UInt32: Reply] = [:]
        var lastCorrelationID: UInt32 = 0
        weak var events: (any PlatformEvents)?
        var parent: UUID?
        var started = false
        var closed = false
    }

    /// The socket or device the platform is reached through.
    public let path: String
    /// How long to wait before connecting again after the stream is lost.
    public let reconnectDelay: Duration

    private let log: Log
    private let state = Mutex(State())

    public init(path: String, reconnectDelay: Duration = .milliseconds(500), log: @escaping Log = { _, _ in }) {
        self.path = path
        self.reconnectDelay = reconnectDelay
        self.log = log
    }

    /// The UUID of this instance's parent, once the platform has said it is a child.
    public var parent: UUID? { state.withLock { $0.parent } }

    /// True while the stream to the platform is open.
    public var isConnected: Bool { state.withLock { $0.connection != nil } }

    /// Forks waiting for the platform's answer.
    public var pendingForks: Int { state.withLock { $0.pending.count } }

    /// Opens the stream and starts reading it; throws if `path` cannot be opened now.
    public func start() throws(Errno) {
        let connection = try WireConnection(path: path)
        let fresh = state.withLock { state -> Bool in
            guard !state.started, !state.closed else { return false }
            state.started = true
            state.connection = connection
            return true
        }
        guard fresh else {
            connection.interrupt()
            return
        }
        log(.info, "connected to the platform at \(path)")
        guard DedicatedThread.detach({ self.run() }) else {
            close()
            throw .resourceTemporarilyUnavailable  // pthread_create's EAGAIN: no thread to read the stream
        }
    }

    /// Closes the stream for good; forks in flight fail with `EIO`.
    public func close() {
        let (connection, pending) = state.withLock { state in
            state.closed = true
            defer { state.pending.removeAll() }
            return (state.connection, Array(state.pending.values))
        }
        connection?.interrupt()
        for reply in pending { reply.resume(returning: .failure(.signalFailed)) }
    }

    // MARK: Platform

    public func attach(_ events: any PlatformEvents) {
        state.withLock { $0.events = events }
    }

    public func fork() async throws(ForkFailure) -> ForkOutcome {
        let result = await withCheckedContinuation { (reply: Reply) in
            let request = state.withLock { state -> (UInt32, WireConnection)? in
                guard !state.closed, let connection = state.connection else { return nil }
                repeat { state.lastCorrelationID &+= 1 } while state.lastCorrelationID == 0
                    || state.pending[state.lastCorrelationID] != nil
                state.pending[state.lastCorrelationID] = reply
                return (state.lastCorrelationID, connection)
            }
            guard let (id, connection) = request else {
                log(.warning, "fork signal failed: not connected to the platform at \(path)")
                return reply.resume(returning: .failure(.signalFailed))
            }
            do {
                try connection.send(WireMessage(correlationID: id, .forkRequest).encoded)
                log(.debug, "sent ForkRequest \(id)")
            } catch {
                log(.warning, "fork signal failed: cannot write to \(path): \(error)")
                answer(id, with: .failure(.signalFailed))
            }
        }
        return try result.get()
    }

    // MARK: Reading

    /// Reads the stream until it is lost, then reconnects, until `close()`.
    private func run() {
        var connection = state.withLock { $0.connection }
        var quiet = false
        while connection != nil {
            // A virtio port with no host behind it ends at once, again and again: say so once.
            let heard = serve(connection!)
            if !(quiet && !heard), !state.withLock({ $0.closed }) {
                log(.warning, "lost the stream to the platform at \(path); reconnecting")
            }
            quiet = !heard
            drop(connection!)
            connection = nil  // the last reference: the descriptor closes before reconnecting
            connection = reconnect()
        }
    }

    /// The stream is lost: forks in flight fail with `EIO`.
    private func drop(_ connection: WireConnection) {
        connection.interrupt()
        let pending = state.withLock { state in
            if state.connection === connection { state.connection = nil }
            defer { state.pending.removeAll() }
            return Array(state.pending.values)
        }
        for reply in pending { reply.resume(returning: .failure(.signalFailed)) }
        if !pending.isEmpty { log(.warning, "\(pending.count) fork(s) in flight failed with EIO: stream lost") }
    }

    /// Connects again after the delay; nil once closed.
    private func reconnect() -> WireConnection? {
        var failures = 0
        while true {
            let step = Duration.milliseconds(10)
            var waited = Duration.zero
            while waited < reconnectDelay {
                if state.withLock({ $0.closed }) { return nil }
                usleep(10_000)
                waited += step
            }
            do {
                let connection = try WireConnection(path: path)
                let closed = state.withLock { state in
                    if !state.closed { state.connection = connection }
                    return state.closed
                }
                if closed { return nil }
                log(.info, "connected to the platform at \(path) again")
                return connection
            } catch {
                if failures == 0 { log(.warning, "cannot reconnect to \(path): \(error); retrying") }
                failures += 1
            }
        }
    }

    /// Decodes and handles messages until the stream ends, fails, gets out of step or is
    /// interrupted; true if any bytes arrived.
    @discardableResult
    private func serve(_ connection: WireConnection) -> Bool {
        var decoder = WireDecoder()
        var heard = false
        while true {
            switch connection.receive() {
            case .bytes(let bytes):
                heard = true
                decoder.append(bytes)
                while true {
                    do {
                        guard let message = try decoder.next() else { break }
                        handle(message)
                    } catch {
                        guard error.isRecoverable else {
                            log(.error, "from \(path): \(error); dropping the connection")
                            return heard
                        }
                        log(.warning, "from \(path): \(error)")
                    }
                }
            case .end:
                do throws(WireDecodingError) {
                    try decoder.finish()
                } catch {
                    log(.warning, "from \(path): \(error)")
                }
                return heard
            case .failed(let error):
                log(.warning, "reading \(path) failed: \(error)")
                return heard
            case .interrupted:
                return heard
            }
        }
    }

    private func handle(_ message: WireMessage) {
        let id = message.correlationID
        switch message.payload {
        case .forkCreated(let created):
            let child = ForkedChild(
                id: created.child, snapshot: created.snapshot, creationTime: Int64(clamping: created.creationTime))
            log(.info, "fork \(id) created child \(created.child.lowercaseText)"
                + (created.fqdn.isEmpty ? "" : " (\(created.fqdn))"))
            answer(id, with: .success(.parent(child)), or: "ForkCreated")
        case .error(let errno):
            log(.info, "fork \(id) refused by the platform: \(errno)")
            answer(id, with: .failure(.rejected(errno)), or: "Error (\(errno))")
        case .parentID(let parent):
            becameChild(of: parent, correlationID: id)
        case .status(let child, let state):
            log(.debug, "child \(child.lowercaseText) is \(state)")
            guard state != .stopped else { return }  // ExitStatus carries the stop and its code
            events?.childStatusChanged(child, to: state)
        case .exitStatus(let child, let code):
            log(.info, "child \(child.lowercaseText) exited with \(Int32(bitPattern: code))")
            events?.childExited(child, code: Int32(bitPattern: code))
        case .forkRequest:
            log(.warning, "from \(path): ForkRequest (correlation id \(id)) goes the other way; ignored")
        }
    }

    /// This instance is the child of a fork: the fork in flight (the one the snapshot was
    /// taken in) returns `.child`; with none in flight, the engine is told directly.
    private func becameChild(of parent: UUID, correlationID id: UInt32) {
        let (inFlight, events) = state.withLock { state in
            state.parent = parent
            defer { state.pending.removeAll() }
            return (state.pending, state.events)
        }
        log(.info, "this instance is now a child of \(parent.lowercaseText)")
        if inFlight.isEmpty {
            if id != 0 { log(.warning, "ParentId answers fork \(id), which is not in flight") }
            guard let events else { return }
            Task { await events.becameChild() }
            return
        }
        for (pendingID, reply) in inFlight {
            // Forks are serialized: normally exactly one is in flight, and it is the one answered.
            let outcome: Result<ForkOutcome, ForkFailure> =
                pendingID == id || (id == 0 && inFlight.count == 1) ? .success(.child) : .failure(.signalFailed)
            reply.resume(returning: outcome)
        }
    }

    private var events: (any PlatformEvents)? { state.withLock { $0.events } }

    private func answer(_ id: UInt32, with outcome: Result<ForkOutcome, ForkFailure>, or what: String? = nil) {
        guard let reply = state.withLock({ $0.pending.removeValue(forKey: id) }) else {
            if let what { log(.warning, "from \(path): \(what) answers fork \(id), which is not in flight; ignored") }
            return
        }
        reply.resume(returning: outcome)
    }
}

/// How much a log line of the wire platform matters.
public enum WireLogLevel: Sendable, Hashable {
    case debug, info, warning, error
}
