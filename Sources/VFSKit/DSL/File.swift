import SystemPackage

/// A control file: one value, with typed `read`, `write` and `poll` handlers.
///
/// Handlers throw an `Errno` to fail the request with it; a `CancellationError` (the
/// caller was interrupted) answers `EINTR`, and any other error `EIO`.
///
/// ```swift
/// File("status", "The child's current state")
///     .read("current state name") { _ in try child.value.status }
///     .poll("POLLPRI|POLLIN on every state change", .changes { _ in try child.value.statusChanged })
/// ```
public struct File: NodeConvertible {
    let name: String
    let summary: String
    let permissions: UInt16?
    let owner: Owner?
    var behavior = FileBehavior()

    /// - Parameters:
    ///   - name: the entry's name.
    ///   - permissions: permission bits; by default the tree profile's mode for the file's
    ///     handlers (VFSKit's own: 0o444, plus 0o222 when writable; sysfs 0644/0444/0200).
    ///   - owner: the owner, when not the tree's.
    ///   - summary: one line for the spec table.
    public init(_ name: String, permissions: UInt16? = nil, owner: Owner? = nil, _ summary: String) {
        self.name = name
        self.summary = summary
        self.permissions = permissions
        self.owner = owner
    }

    public var nodes: [Node] {
        [Node(name: name, kind: .file(behavior), summary: summary, permissions: permissions, owner: owner)]
    }

    /// Reading renders `handler`'s value afresh at offset 0. A handler that does not
    /// suspend is answered on the thread that received the request (the fast path).
    public func read<Value: FileValue>(
        _ help: String, _ handler: @escaping @Sendable (RequestContext) throws -> Value
    ) -> File {
        var file = self
        let renderNow: @Sendable (RequestContext) throws(Errno) -> [UInt8] = { context throws(Errno) in
            do { return try handler(context).fileBytes() } catch { throw Errno(handlerError: error) }
        }
        file.behavior.reader = FileBehavior.Reader(
            help: help, typeName: Value.typeName, render: { context throws(Errno) in try renderNow(context) },
            renderNow: renderNow)
        return file
    }

    /// Reading renders `handler`'s value afresh at offset 0; the handler may suspend.
    public func read<Value: FileValue>(
        _ help: String, _ handler: @escaping @Sendable (RequestContext) async throws -> Value
    ) -> File {
        var file = self
        file.behavior.reader = FileBehavior.Reader(
            help: help, typeName: Value.typeName,
            render: {
                context throws(Errno) in
                do { return try await handler(context).fileBytes() } catch { throw Errno(handlerError: error) }
            }, renderNow: nil)
        return file
    }

    /// Reading shows `handler`'s value once `condition` holds; before that the file is
    /// empty, or `EAGAIN` when it was opened `O_NONBLOCK` (what a "wait" file shows).
    public func read<Value: FileValue>(
        _ help: String, once condition: Condition, _ handler: @escaping @Sendable (RequestContext) throws -> Value?
    ) -> File {
        var file = read(help) { context throws -> Value? in
            guard try condition.holds(context) else {
                if context.isNonBlocking { throw Errno.resourceTemporarilyUnavailable }
                return nil
            }
            return try handler(context)
        }
        file.behavior.conditions.append(condition)
        return file
    }

    /// Writing parses the bytes as `Value` (`EINVAL` if they do not parse) and calls `handler`.
    /// A handler that awaits is a blocking write for the caller; a kernel interrupt cancels it.
    public func write<Value: FileValue>(
        _ type: Value.Type = Value.self, _ help: String,
        _ handler: @escaping @Sendable (RequestContext, Value) async throws -> Void
    ) -> File {
        var file = self
        file.behavior.writer = FileBehavior.Writer(
            help: help, typeName: Value.typeName,
            action: .run {
                context, bytes throws(Errno) in
                let value = try Value(fileBytes: bytes, rule: context.file.textRule)
                do { try await handler(context, value) } catch { throw Errno(handlerError: error) }
            })
        return file
    }

    /// Writing parses the bytes as `Value` (`EINVAL` if they do not parse), then blocks until
    /// `condition` holds; a condition that throws fails the write with its error. An
    /// interrupt answers `EINTR`, removing the entry `ESTALE`.
    ///
    /// No task waits: the request is parked, and every writer whose condition now holds is
    /// answered on the thread that fires the signal. Prefer it to an awaiting handler for
    /// "wait until" files that many callers block on.
    ///
    /// ```swift
    /// File("wait", permissions: 0o666, "Wait for the job to finish")
    ///     .write(Ignored.self, "blocks until the job finished", until: finished)
    /// ```
    public func write<Value: FileValue>(_ type: Value.Type = Value.self, _ help: String, until condition: Condition) -> File {
        var file = write(
            type, help,
            parked: { context, _ throws(Errno) in
                WriteCondition(signal: try condition.signal(context)) { () throws(Errno) in try condition.holds(context) }
            })
        file.behavior.conditions.append(condition)
        return file
    }

    /// The blocking write of `write(_:_:until:)` with a condition that also sees the written value.
    public func write<Value: FileValue>(
        _ type: Value.Type = Value.self, _ help: String,
        until condition: @escaping @Sendable (RequestContext, Value) throws -> Bool,
        signalledBy signal: @escaping @Sendable (RequestContext) throws -> ChangeSignal
    ) -> File {
        write(
            type, help,
            parked: { context, value throws(Errno) in
                let changes = try Condition.typed(signal)(context)
                return WriteCondition(signal: changes) { () throws(Errno) in
                    do { return try condition(context, value) } catch { throw Errno(handlerError: error) }
                }
            })
    }

    /// The parked write both forms above declare.
    private func write<Value: FileValue>(
        _ type: Value.Type, _ help: String,
        parked condition: @escaping @Sendable (RequestContext, Value) throws(Errno) -> WriteCondition
    ) -> File {
        var file = self
        file.behavior.writer = FileBehavior.Writer(
            help: help, typeName: Value.typeName,
            action: .block {
                context, bytes throws(Errno) in try condition(context, try Value(fileBytes: bytes, rule: context.file.textRule))
            })
        return file
    }

    /// Declares when `poll(2)` reports the file ready.
    public func poll(_ help: String, _ readiness: Readiness) -> File {
        var file = self
        file.behavior.poll = FileBehavior.Poll(help: help, readiness: readiness)
        if let condition = readiness.condition { file.behavior.conditions.append(condition) }
        return file
    }

    /// The longest accepted write (by default the profile's, 4096 bytes); longer writes fail
    /// with the profile's ``TreeProfile/overLimitErrno`` (`EINVAL`; sysfs `E2BIG`).
    public func writeLimit(_ bytes: Int) -> File {
        var file = self
        file.behavior.writeLimit = bytes
        return file
    }

    /// How this file reads written text, overriding the profile's ``TreeProfile/writtenText``.
    public func writtenText(_ rule: WrittenText.Rule) -> File {
        var file = self
        file.behavior.textRule = rule
        return file
    }
}

/// What a file does, type-erased for the dispatcher.
struct FileBehavior: Sendable {
    struct Reader: Sendable {
        let help: String
        let typeName: String
        let render: @Sendable (RequestContext) async throws(Errno) -> [UInt8]
        /// Set for handlers that do not suspend: called inline, without a task.
        let renderNow: (@Sendable (RequestContext) throws(Errno) -> [UInt8])?
    }

    struct Writer: Sendable {
        enum Action: Sendable {
            /// Parses the written bytes and runs the handler.
            case run(@Sendable (RequestContext, [UInt8]) async throws(Errno) -> Void)
            /// Parses the written bytes; the write completes once the condition holds.
            case block(@Sendable (RequestContext, [UInt8]) throws(Errno) -> WriteCondition)
        }

        let help: String
        let typeName: String
        let action: Action
    }

    struct Poll: Sendable {
        let help: String
        let readiness: Readiness
    }

    var reader: Reader?
    var writer: Writer?
    var poll: Poll?
    /// The declared write limit; nil: the profile's.
    var writeLimit: Int?
    /// The declared text rule; nil: the profile's.
    var textRule: WrittenText.Rule?
    /// Every condition the handlers use, for the validator.
    var conditions: [Condition] = []
}

/// What a blocked write waits for: `holds` is re-evaluated each time `signal` fires.
struct WriteCondition: Sendable {
    let signal: ChangeSignal
    let holds: @Sendable () throws(Errno) -> Bool
}
