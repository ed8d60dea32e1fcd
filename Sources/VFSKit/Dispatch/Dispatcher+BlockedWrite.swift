import SystemPackage

extension Dispatcher {
    /// A write declared with a condition: answered at once when the condition holds (or
    /// fails), otherwise parked, without a task, until its signal finds it holding. An
    /// interrupt answers `EINTR`; removing the file's entry, the profile's errno (`ESTALE`).
    func writeWhen(
        _ context: RequestContext, bytes: [UInt8],
        parse: @Sendable (RequestContext, [UInt8]) throws(Errno) -> WriteCondition,
        reply: consuming some Reply<Int> & ~Copyable
    ) {
        let condition: WriteCondition
        do throws(Errno) {
            guard try checkWrite(context, bytes: bytes) else { return reply.send(.success(0)) }
            condition = try parse(context, bytes)
            if try condition.holds() { return reply.send(.success(bytes.count)) }
        } catch {
            return reply.send(.failure(answer(error)))
        }
        let watch = ConditionWatch(signal: condition.signal, entry: context.file.vnode.token, holds: condition.holds)
        let later = reply.answerLater { watch.cancel(.interrupted) }
        let count = bytes.count
        watch.start { [self] in later.send(answer($0.map { count })) }
    }
}
