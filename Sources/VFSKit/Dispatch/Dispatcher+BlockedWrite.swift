import Synchronization
import SystemPackage

extension Dispatcher {
    /// A write declared with `until:signalledBy:`: answered at once when its condition holds
    /// (or fails), otherwise parked, without a task, until the signal finds it holding.
    func writeWhen(
        _ context: RequestContext, bytes: [UInt8],
        parse: @Sendable (RequestContext, [UInt8]) throws(Errno) -> WriteCondition,
        reply: @escaping @Sendable (Result<Int, Errno>) -> Void
    ) -> Dispatched {
        let condition: WriteCondition
        do throws(Errno) {
            guard try checkWrite(context, bytes: bytes) else {
                reply(.success(0))
                return .done
            }
            condition = try parse(context, bytes)
            if try condition.holds() {
                reply(.success(bytes.count))
                return .done
            }
        } catch {
            reply(.failure(error))
            return .done
        }
        let request = PendingRequest()
        let parked = ParkedWrite(request: request, count: bytes.count, condition: condition, entry: context.file.vnode.token, reply: reply)
        parked.watch()
        // An interrupt must not reply on the interrupting thread (the driver holds the request).
        request.onInterrupt { Task { parked.finish(.failure(.interrupted)) } }
        return request.finishStarting()
    }
}

/// One parked write: answered exactly once, by whichever comes first of its condition
/// holding (or throwing) when the signal fires, an interrupt, or its entry's removal.
final class ParkedWrite: Sendable {
    private struct State {
        var answered = false
        var observer: UInt64?
        var deathHandler: UInt64?
    }

    private let request: PendingRequest
    private let count: Int
    private let condition: WriteCondition
    /// The liveness of the dynamic entry the file is under, if any.
    private let entry: EntryToken?
    private let reply: @Sendable (Result<Int, Errno>) -> Void
    private let state = Mutex(State())

    init(
        request: PendingRequest, count: Int, condition: WriteCondition, entry: EntryToken?,
        reply: @escaping @Sendable (Result<Int, Errno>) -> Void
    ) {
        self.request = request
        self.count = count
        self.condition = condition
        self.entry = entry
        self.reply = reply
    }

    /// Starts watching the signal (and the entry's removal), then looks once more: a
    /// change between the first evaluation and the registration is not lost.
    func watch() {
        let observer = condition.signal.addObserver { [self] in evaluate() }
        let deathHandler = entry?.onDeath { [self] in finish(.failure(.staleNFSFileHandle)) }
        let alreadyAnswered = state.withLock { state -> Bool in
            state.observer = observer
            state.deathHandler = deathHandler
            return state.answered
        }
        if alreadyAnswered {
            condition.signal.removeObserver(observer)
            if let deathHandler { entry?.removeDeathHandler(deathHandler) }
            return
        }
        evaluate()
    }

    /// Re-evaluates the condition: answers when it holds or throws.
    func evaluate() {
        do throws(Errno) {
            if try condition.holds() { finish(.success(count)) }
        } catch {
            finish(.failure(error))
        }
    }

    /// Answers the write unless it was answered already, and stops watching.
    func finish(_ result: Result<Int, Errno>) {
        let watched = state.withLock { state -> (UInt64?, UInt64?)? in
            guard !state.answered else { return nil }
            state.answered = true
            defer { (state.observer, state.deathHandler) = (nil, nil) }
            return (state.observer, state.deathHandler)
        }
        guard let (observer, deathHandler) = watched else { return }
        if let observer { condition.signal.removeObserver(observer) }
        if let deathHandler { entry?.removeDeathHandler(deathHandler) }
        let reply = reply
        request.complete { reply(result) }
    }
}
