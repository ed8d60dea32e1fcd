public import SystemPackage

extension Dispatcher {
    /// Reads from an open file. At offset 0 the value is rendered afresh; a later offset
    /// continues the rendering this open file made last, so a value is never torn.
    public func read(
        _ file: OpenFile, offset: Int64, size: Int, caller: Caller,
        reply: @escaping @Sendable (Result<ArraySlice<UInt8>, Errno>) -> Void
    ) -> Dispatched {
        let context = RequestContext(caller: caller, file: file)
        return run(reply: reply) { () async throws(Errno) -> ArraySlice<UInt8> in
            try await self.performRead(context, offset: offset, size: size)
        }
    }

    /// Writes to an open file: `EINVAL` past the write limit or for bytes that do not
    /// parse; otherwise the handler runs, and may block. Answers the byte count.
    public func write(
        _ file: OpenFile, offset: Int64, bytes: [UInt8], caller: Caller,
        reply: @escaping @Sendable (Result<Int, Errno>) -> Void
    ) -> Dispatched {
        let context = RequestContext(caller: caller, file: file)
        return run(reply: reply) { () async throws(Errno) -> Int in
            try await self.performWrite(context, bytes: bytes)
        }
    }

    private func performRead(_ context: RequestContext, offset: Int64, size: Int) async throws(Errno) -> ArraySlice<UInt8> {
        let file = context.file
        guard file.vnode.isLive else { throw .staleNFSFileHandle }
        guard let reader = file.behavior.reader, file.isReadable else { throw .badFileDescriptor }
        guard offset >= 0, size >= 0 else { throw .invalidArgument }
        var rendering = offset == 0 ? nil : file.state.withLock { $0.rendering }
        if rendering == nil {
            let seen = try seenCountBeforeRendering(context)
            let bytes = try await reader.render(context)
            file.state.withLock { state in
                state.rendering = bytes
                if let seen { state.seenCount = seen }
            }
            rendering = bytes
        }
        let bytes = rendering!
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
        let file = context.file
        guard file.vnode.isLive else { throw .staleNFSFileHandle }
        guard let writer = file.behavior.writer, file.isWritable else { throw .badFileDescriptor }
        guard bytes.count <= file.behavior.writeLimit else { throw .invalidArgument }
        guard !bytes.isEmpty else { return 0 }
        try await writer.apply(context, bytes)
        return bytes.count
    }

    /// Runs `operation` in `Task.immediate`; replies inline when it does not suspend.
    /// A handler error after the kernel interrupted the request answers `EINTR`.
    private func run<Value: Sendable>(
        reply: @escaping @Sendable (Result<Value, Errno>) -> Void,
        _ operation: @escaping @Sendable () async throws(Errno) -> Value
    ) -> Dispatched {
        let request = PendingRequest()
        let task = Task.immediate {
            let result: Result<Value, Errno>
            do throws(Errno) {
                result = .success(try await operation())
            } catch {
                result = .failure(request.isInterrupted ? .interrupted : error)
            }
            request.complete { reply(result) }
        }
        request.attach(task)
        return request.finishStarting()
    }
}
