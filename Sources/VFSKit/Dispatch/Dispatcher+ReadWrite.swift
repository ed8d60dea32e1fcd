import SystemPackage

extension Dispatcher {
    /// Reads from an open file and answers through `reply`. At offset 0 the value is rendered
    /// afresh; a later offset continues the rendering this open file made last, so a value
    /// is never torn. A reader that does not suspend answers on this thread.
    public func read(
        _ file: OpenFile, offset: Int64, size: Int, caller: Caller,
        reply: consuming some Reply<ArraySlice<UInt8>> & ~Copyable
    ) {
        let context = RequestContext(caller: caller, file: file)
        if let renderNow = file.behavior.reader?.renderNow {
            // A synchronous reader answers on this thread, without a task: the hot path.
            reply.send(
                answer(
                    Result { () throws(Errno) in
                        try self.slice(context, offset: offset, size: size) { () throws(Errno) in try renderNow(context) }
                    }))
            return
        }
        run(reply: reply) { () async throws(Errno) -> ArraySlice<UInt8> in
            try await self.performRead(context, offset: offset, size: size)
        }
    }

    /// Writes to an open file and answers the byte count through `reply`: the profile's
    /// ``TreeProfile/overLimitErrno`` past the write limit, `EINVAL` for bytes that do not
    /// parse; otherwise the handler runs, and may block. `requestID` is the driver's id of the
    /// request (see ``RequestContext/requestID``).
    public func write(
        _ file: OpenFile, offset: Int64, bytes: [UInt8], caller: Caller, requestID: UInt64? = nil,
        reply: consuming some Reply<Int> & ~Copyable
    ) {
        let context = RequestContext(caller: caller, file: file, requestID: requestID)
        if case .block(let parse)? = file.behavior.writer?.action {
            return writeWhen(context, bytes: bytes, parse: parse, reply: reply)
        }
        run(reply: reply) { () async throws(Errno) -> Int in
            try await self.performWrite(context, bytes: bytes)
        }
    }

    private func performRead(_ context: RequestContext, offset: Int64, size: Int) async throws(Errno) -> ArraySlice<UInt8> {
        guard let reader = context.file.behavior.reader else { throw .badFileDescriptor }
        if let rendering = try continuedRendering(context, offset: offset, size: size) {
            return Self.slice(rendering, offset: offset, size: size)
        }
        let seen = try seenCountBeforeRendering(context)
        let bytes = try await reader.render(context)
        remember(bytes, seen: seen, in: context.file)
        return Self.slice(bytes, offset: offset, size: size)
    }

    /// The synchronous form of `performRead`, for readers that do not suspend.
    private func slice(
        _ context: RequestContext, offset: Int64, size: Int, render: () throws(Errno) -> [UInt8]
    ) throws(Errno) -> ArraySlice<UInt8> {
        if let rendering = try continuedRendering(context, offset: offset, size: size) {
            return Self.slice(rendering, offset: offset, size: size)
        }
        let seen = try seenCountBeforeRendering(context)
        let bytes = try render()
        remember(bytes, seen: seen, in: context.file)
        return Self.slice(bytes, offset: offset, size: size)
    }

    /// Checks the request; the open file's last rendering when `offset` continues it,
    /// nil when the value must be rendered afresh.
    private func continuedRendering(_ context: RequestContext, offset: Int64, size: Int) throws(Errno) -> [UInt8]? {
        let file = context.file
        guard file.vnode.isLive else { throw .staleNFSFileHandle }
        guard file.behavior.reader != nil, file.isReadable else { throw .badFileDescriptor }
        guard offset >= 0, size >= 0 else { throw .invalidArgument }
        return offset == 0 ? nil : file.state.withLock { $0.rendering }
    }

    private func remember(_ bytes: [UInt8], seen: UInt64?, in file: OpenFile) {
        file.state.withLock { state in
            state.rendering = bytes
            if let seen { state.seenCount = seen }
        }
    }

    private static func slice(_ bytes: [UInt8], offset: Int64, size: Int) -> ArraySlice<UInt8> {
        guard offset < bytes.count else { return [] }
        let start = Int(offset)
        return bytes[start..<start + min(size, bytes.count - start)]
    }

    /// For sysfs-style polling: the signal count a read at offset 0 is about to show.
    private func seenCountBeforeRendering(_ context: RequestContext) throws(Errno) -> UInt64? {
        guard let poll = context.file.behavior.poll, case .changes = poll.readiness.kind else { return nil }
        return try poll.readiness.signal(context).count
    }

    private func performWrite(_ context: RequestContext, bytes: [UInt8]) async throws(Errno) -> Int {
        guard try checkWrite(context, bytes: bytes), case .run(let apply)? = context.file.behavior.writer?.action else { return 0 }
        try await apply(context, bytes)
        return bytes.count
    }

    /// The checks every write passes first; false for an empty write (a no-op).
    func checkWrite(_ context: RequestContext, bytes: [UInt8]) throws(Errno) -> Bool {
        let file = context.file
        guard file.vnode.isLive else { throw .staleNFSFileHandle }
        guard file.behavior.writer != nil, file.isWritable else { throw .badFileDescriptor }
        guard bytes.count <= file.behavior.writeLimit ?? tree.profile.writeLimit else { throw tree.profile.overLimitErrno }
        return !bytes.isEmpty
    }

    /// Runs `operation` in `Task.immediate`, on this thread up to its first suspension: one
    /// that finishes without suspending answers through `reply` here; one that suspends
    /// turns `reply` into a `LaterReply`, and a kernel interrupt cancels its task. The
    /// handler's own error is the answer: one that gave up because it was interrupted throws
    /// `EINTR` itself, and one that completes regardless (a started fork) keeps its result.
    private func run<Value: Sendable>(
        reply: consuming some Reply<Value> & ~Copyable,
        _ operation: @escaping @Sendable () async throws(Errno) -> Value
    ) {
        let outcome = HandlerOutcome<Value>()
        let task = Task.immediate {
            do throws(Errno) {
                outcome.finish(.success(try await operation()))
            } catch {
                outcome.finish(.failure(self.answer(error)))
            }
        }
        if let result = outcome.takeEarlyResult() { return reply.send(result) }
        outcome.deliver(to: reply.answerLater { task.cancel() })
    }
}
