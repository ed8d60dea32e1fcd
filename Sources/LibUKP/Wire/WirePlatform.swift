import Synchronization
public import SystemPackage
import VFSKit

#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif
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
/// With `hello` (the platform offered this project's extension out of band), each new
/// connection starts with `Hello` round trips; the platform's `Renewal`s in answer step the
/// clock and add entropy at once. A `Renewal` before `ForkCreated` or `ParentId` goes with that
/// answer, and `hostClock()` measures the host's clock again (a child does, once it runs).
///
/// With the extension, each connection also starts with `Resync`: the platform answers with
/// the outcome of the fork in flight (sent by an earlier server, from the `journal`, or on
/// the lost stream) and the children as they are now; bytes before its `ResyncStart` are
/// skipped (see `WirePlatform+Resync.swift`).
///
/// Malformed messages are logged and skipped. When the stream ends, fails, or gets out of
/// step (an unknown message type), forks in flight fail with `EIO` (with the extension they
/// wait for the resync on the next connection, at most `resyncTimeout`), and the platform
/// reconnects after `reconnectDelay` until `close()`.
public final class WirePlatform: Platform, Sendable {
    /// Receives the platform's log lines.
    public typealias Log = @Sendable (WireLogLevel, String) -> Void

    typealias Reply = CheckedContinuation<Result<ForkReply, ForkFailure>, Never>

    struct State {
        var connection: WireConnection?
        var pending: [UInt32: Reply] = [:]
        /// Ids start anywhere: a restarted server does not reuse the ids its predecessor sent.
        var lastCorrelationID = UInt32.random(in: 0...UInt32.max)
        weak var events: (any PlatformEvents)?
        var parent: UUID?
        /// A `Renewal` waiting for the `ForkCreated` or `ParentId` it goes with.
        var renewal: (id: UInt32, renewal: PlatformRenewal)?
        var started = false
        var closed = false
        /// The fork an earlier server sent and did not see answered (from the journal).
        var restored: RestoredFork?
        /// The resync of the current connection, until its `ResyncEnd`.
        var resync: WireResyncProgress?
        /// The last forks answered: an answer sent again is not news.
        var settled: [UInt32] = []

        /// A fresh non-zero correlation id that no fork in flight uses, nor `taken` (a `Hello`).
        mutating func nextCorrelationID(avoiding taken: (UInt32) -> Bool) -> UInt32 {
            repeat {
                lastCorrelationID &+= 1
            } while lastCorrelationID == 0 || pending[lastCorrelationID] != nil
                || taken(lastCorrelationID)
            return lastCorrelationID
        }
    }

    /// The socket or device the platform is reached through.
    public let path: String
    /// How long to wait before connecting again after the stream is lost.
    public let reconnectDelay: Duration
    /// True when the platform offered the wire extension: say `Hello` and `Resync` on each connection.
    public let hello: Bool
    /// How long a fork in flight waits for the resync that tells its outcome (the platform
    /// away, or slow to answer) before it fails with `EIO`.
    public let resyncTimeout: Duration

    let log: Log
    let state = Mutex(State())
    let clockProbe = WireClockProbe()
    /// Where the correlation id of each fork is recorded before it is sent.
    let journal: EngineJournal?

    /// - Parameter journal: the engine's; the correlation id of each `ForkRequest` is
    ///   recorded there before it is sent, and a fork an earlier server sent and never saw
    ///   answered is taken up from it (`forkInFlightOutcome()`).
    public init(
        path: String,
        reconnectDelay: Duration = .milliseconds(500),
        hello: Bool = false,
        resyncTimeout: Duration = .seconds(30),
        journal: EngineJournal? = nil,
        log: @escaping Log = { _, _ in }
    ) {
        self.path = path
        self.reconnectDelay = reconnectDelay
        self.hello = hello
        self.resyncTimeout = resyncTimeout
        self.journal = journal
        self.log = log
        if let inFlight = journal?.record?.forkInFlight {
            state.withLock { $0.restored = RestoredFork(id: inFlight.correlation, extended: hello) }
        }
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
        beginResync(on: connection)
        guard DedicatedThread.detach({ self.run() }) else {
            close()
            throw .resourceTemporarilyUnavailable  // pthread_create's EAGAIN: no thread to read the stream
        }
        greet()
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
        settleRestored(with: .unknown)
    }

    // MARK: Platform

    public func attach(_ events: any PlatformEvents) {
        state.withLock { $0.events = events }
    }

    public func fork() async throws(ForkFailure) -> ForkOutcome {
        try await forkWithRenewal().outcome
    }

    public func forkWithRenewal() async throws(ForkFailure) -> ForkReply {
        let result = await withCheckedContinuation { (reply: Reply) in
            let request = state.withLock { state -> (UInt32, WireConnection)? in
                guard !state.closed, let connection = state.connection else { return nil }
                let id = state.nextCorrelationID(avoiding: clockProbe.isWaiting)
                state.pending[id] = reply
                return (id, connection)
            }
            guard let (id, connection) = request else {
                log(.warning, "fork signal failed: not connected to the platform at \(path)")
                return reply.resume(returning: .failure(.signalFailed))
            }
            sendForkRequest(id, on: connection)
        }
        return try result.get()
    }

    /// Sends `ForkRequest` `id`, its id recorded first (a restarted server asks what became
    /// of it); the fork fails with `EIO` if it cannot be written.
    func sendForkRequest(_ id: UInt32, on connection: WireConnection) {
        journal?.record(.forkCorrelation(id))
        do {
            try connection.send(WireMessage(correlationID: id, .forkRequest).encoded)
            log(.debug, "sent ForkRequest \(id)")
        } catch {
            log(.warning, "fork signal failed: cannot write to \(path): \(error)")
            answer(id, with: .failure(.signalFailed))
        }
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

    /// The stream is lost: forks in flight fail with `EIO`; with the extension, the last
    /// one waits for the resync of the next connection instead (at most `resyncTimeout`).
    private func drop(_ connection: WireConnection) {
        connection.interrupt()
        let (failed, kept) = state.withLock { state -> ([Reply], UInt32?) in
            if state.connection === connection { state.connection = nil }
            state.renewal = nil
            state.resync = nil
            let kept = hello ? state.pending.keys.max() : nil
            let failed = state.pending.filter { $0.key != kept }.map(\.value)
            state.pending = state.pending.filter { $0.key == kept }
            return (failed, kept)
        }
        clockProbe.cancelAll()
        for reply in failed { reply.resume(returning: .failure(.signalFailed)) }
        if !failed.isEmpty { log(.warning, "\(failed.count) fork(s) in flight failed with EIO: stream lost") }
        if let kept {
            log(.info, "fork \(kept) in flight: its outcome is asked for when the stream is back")
            giveUp(onFork: kept, after: resyncTimeout)
        }
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
                beginResync(on: connection)
                greet()
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
        let resync = state.withLock { $0.resync?.id }
        if let resync { decoder.skip(until: .resyncStart, correlationID: resync) }
        var heard = false
        while true {
            switch connection.receive() {
            case .bytes(let bytes):
                heard = true
                if decoder.isSkipping, let resync, state.withLock({ $0.resync?.id != resync }) {
                    decoder.resynchronize()  // the resync was given up: read on
                }
                let wasSkipping = decoder.isSkipping
                decoder.append(bytes)
                if let resync, wasSkipping, !decoder.isSkipping, decoder.skippedByteCount > 0 {
                    log(.info, "skipped \(decoder.skippedByteCount) bytes before ResyncStart \(resync)")
                }
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
            log(
                .info,
                "fork \(id) created child \(created.child.lowercaseText)"
                    + (created.fqdn.isEmpty ? "" : " (\(created.fqdn))"))
            noteAnswer(to: id)
            let renewal = takeRenewal(for: id)
            guard hello, renewal != nil else {
                return answer(id, with: .success(ForkReply(.parent(child), renewal: renewal)), or: "ForkCreated")
            }
            // The parent measures the host's clock too before its fork returns (round trips
            // are more exact than the one-way clock sent with ForkCreated, its fallback).
            Task {
                var measured = renewal
                if let clock = await hostClock() { measured?.hostClock = clock }
                answer(id, with: .success(ForkReply(.parent(child), renewal: measured)), or: "ForkCreated")
            }
        case .error(let errno):
            log(.info, "fork \(id) refused by the platform: \(errno)")
            noteAnswer(to: id)
            answer(id, with: .failure(.rejected(errno)), or: "Error (\(errno))")
        case .parentID(let parent):
            noteAnswer(to: id)
            becameChild(of: parent, correlationID: id)
        case .status(let child, let state):
            log(.debug, "child \(child.lowercaseText) is \(state)")
            guard state != .stopped else { return }  // ExitStatus carries the stop and its code
            events?.childStatusChanged(child, to: state)
        case .exitStatus(let child, let code):
            log(.info, "child \(child.lowercaseText) exited with \(Int32(bitPattern: code))")
            events?.childExited(child, code: Int32(bitPattern: code))
        case .forkRequest, .hello, .resync:
            log(.warning, "from \(path): \(message.type) (correlation id \(id)) goes the other way; ignored")
        case .renewal(let renewal):
            received(renewal, correlationID: id)
        case .resyncStart:
            resyncStarted(id)
        case .child(let child):
            resyncReported(child, correlationID: id)
        case .resyncEnd(let end):
            resyncEnded(end, correlationID: id)
        }
    }

    /// This instance is the child of a fork: the fork in flight (the one the snapshot was
    /// taken in) returns `.child`; with none in flight, the engine is told directly.
    private func becameChild(of parent: UUID, correlationID id: UInt32) {
        let renewal = takeRenewal(for: id)
        let (inFlight, events) = state.withLock { state in
            state.parent = parent
            defer { state.pending.removeAll() }
            return (state.pending, state.events)
        }
        log(.info, "this instance is now a child of \(parent.lowercaseText)")
        if inFlight.isEmpty, settleRestored(id == 0 ? nil : id, with: .answered(.success(ForkReply(.child, renewal: renewal)))) {
            return  // the fork an earlier server sent: the engine becomes the child as it settles it
        }
        if inFlight.isEmpty {
            if id != 0 { log(.warning, "ParentId answers fork \(id), which is not in flight") }
            guard let events else { return }
            Task { await events.becameChild(renewal: renewal) }
            return
        }
        for (pendingID, reply) in inFlight {
            // Forks are serialized: normally exactly one is in flight, and it is the one answered.
            let outcome: Result<ForkReply, ForkFailure> =
                pendingID == id || (id == 0 && inFlight.count == 1)
                ? .success(ForkReply(.child, renewal: renewal)) : .failure(.signalFailed)
            reply.resume(returning: outcome)
        }
    }

    var events: (any PlatformEvents)? { state.withLock { $0.events } }

    // MARK: The wire extension

    /// The host's clock measured over three `Hello` → `Renewal` round trips: the reading of
    /// the shortest, its transit half of it. Nil without the extension or an answer.
    public func hostClock() async -> HostClockReading? {
        await measureHostClock()?.hostClock
    }

    /// `Hello` round trips (250 ms each at most): the platform's renewal, its clock from the shortest.
    private func measureHostClock() async -> PlatformRenewal? {
        guard hello else { return nil }
        let best = await clockProbe.measure(rounds: 3) {
            guard
                let (id, connection) = state.withLock({ state -> (UInt32, WireConnection)? in
                    guard !state.closed, let connection = state.connection else { return nil }
                    return (state.nextCorrelationID(avoiding: clockProbe.isWaiting), connection)
                })
            else { return nil }
            return await clockProbe.roundTrip(id: id, timeout: .milliseconds(250)) {
                try connection.send(WireMessage(correlationID: id, .hello(version: 1)).encoded)
            }
        }
        if let best { log(.debug, "host clock measured: shortest round trip \(best.roundTrip)") }
        return best?.renewal
    }

    /// On a new connection, when the platform offered the extension: `Hello`, and the
    /// platform's entropy and clock go to the engine (a booting instance takes the host's clock).
    private func greet() {
        guard hello else { return }
        Task {
            guard let renewal = await measureHostClock() else {
                log(.warning, "the platform at \(path) did not answer Hello")
                return
            }
            events?.platformRenewed(renewal)
        }
    }

    /// A `Renewal`: the answer to a `Hello`, or kept for the `ForkCreated` or `ParentId` that follows.
    private func received(_ message: WireRenewal, correlationID id: UInt32) {
        let now = ContinuousClock.now
        log(.debug, "Renewal \(id): \(message.entropy.count) bytes of entropy, clock \(message.hostRealtime) ns")
        if id != 0, clockProbe.isWaiting(id) {
            clockProbe.answer(id, with: message, at: now)
        } else {
            state.withLock { $0.renewal = (id, message.renewal(receivedAt: now)) }
        }
    }

    /// The `Renewal` that came with the answer to `id` (or with an unsolicited one), once.
    private func takeRenewal(for id: UInt32) -> PlatformRenewal? {
        state.withLock { state in
            guard let kept = state.renewal, kept.id == id || kept.id == 0 || id == 0 else { return nil }
            state.renewal = nil
            return kept.renewal
        }
    }

    /// Answers fork `id` (sent by this server, or restored); an answer to no fork in flight
    /// is logged as `what` (quietly when it answered one already: the platform sent it again).
    func answer(_ id: UInt32, with outcome: Result<ForkReply, ForkFailure>, or what: String? = nil) {
        let (reply, again) = state.withLock { state -> (Reply?, Bool) in
            let reply = state.pending.removeValue(forKey: id)
            let again = state.settled.contains(id)
            if reply != nil {
                state.settled.append(id)
                if state.settled.count > 8 { state.settled.removeFirst() }
            }
            return (reply, again)
        }
        if let reply { return reply.resume(returning: outcome) }
        if settleRestored(id, with: .answered(outcome)) { return }
        if let what {
            log(again ? .debug : .warning, "from \(path): \(what) answers fork \(id), which is not in flight; ignored")
        }
    }
}

/// How much a log line of the wire platform matters.
public enum WireLogLevel: Sendable, Hashable {
    case debug, info, warning, error
}
