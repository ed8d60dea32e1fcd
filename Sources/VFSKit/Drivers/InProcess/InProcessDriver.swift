import Synchronization
public import SystemPackage

/// Runs a tree without a kernel: open, read, write, poll, readdir, stat and close by
/// path, through the very `Dispatcher` the FUSE driver uses.
///
/// Cancelling the task that awaits a read or write is the in-process form of a signal:
/// the request is interrupted and the handler answers `EINTR`.
public final class InProcessDriver: Sendable {
    public let dispatcher: Dispatcher

    /// What is open or outstanding, for `leftovers`.
    private struct Outstanding {
        var handles: [UInt64: (path: String, file: OpenFile)] = [:]
        var requests = 0
    }

    private let outstanding = Mutex(Outstanding())

    public init(_ tree: Tree, uid: UInt32 = 0, gid: UInt32 = 0) throws(TreeValidationError) {
        dispatcher = try Dispatcher(tree: tree, uid: uid, gid: gid)
    }

    public init(dispatcher: Dispatcher) {
        self.dispatcher = dispatcher
    }

    /// An open file and the caller that opened it.
    public struct Handle: Sendable {
        public let file: OpenFile
        public let caller: Caller
    }

    // MARK: - Names

    /// Resolves a path (`/a/b`) to its attributes, one lookup per component, following
    /// symbolic links as the kernel does (a relative target from the link's directory, an
    /// absolute one from the tree's root; more than 40 links on the way is `ELOOP`).
    public func stat(_ path: String) throws(Errno) -> Attributes {
        try resolve(path, followingLast: true)
    }

    /// Like `stat`, but a link as the last component is not followed (`lstat(2)`).
    public func lstat(_ path: String) throws(Errno) -> Attributes {
        try resolve(path, followingLast: false)
    }

    /// A symbolic link's target (`readlink(2)`).
    public func readlink(_ path: String) throws(Errno) -> String {
        let attributes = try lstat(path)
        guard attributes.isSymlink else { throw .invalidArgument }
        return try dispatcher.readlink(attributes.ino)
    }

    /// Changes attributes (`chmod`, `chown`, `truncate`) of the entry at `path`, as `caller`.
    @discardableResult
    public func setattr(_ path: String, _ change: AttributeChange, as caller: Caller = .root) throws(Errno) -> Attributes {
        try dispatcher.setattr(try lstat(path).ino, change, caller: caller)
    }

    private func resolve(_ path: String, followingLast: Bool) throws(Errno) -> Attributes {
        let root = try dispatcher.getattr(Dispatcher.rootID)
        var attributes = root
        var directory = root
        var rest = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)[...]
        var links = 0
        while let component = rest.popFirst() {
            guard attributes.isDirectory else { throw .notDirectory }
            directory = attributes
            attributes = try dispatcher.lookup(parent: directory.ino, name: component)
            guard attributes.isSymlink, followingLast || !rest.isEmpty else { continue }
            links += 1
            guard links <= 40 else { throw .tooManySymbolicLinkLevels }
            let target = try dispatcher.readlink(attributes.ino)
            rest = (target.split(separator: "/", omittingEmptySubsequences: true).map(String.init) + rest)[...]
            attributes = target.hasPrefix("/") ? root : directory
        }
        return attributes
    }

    /// The names in a directory (without `.` and `..`), in listing order.
    public func list(_ path: String, as caller: Caller = .root, batch: Int = 128) throws(Errno) -> [String] {
        let directory = try stat(path)
        try dispatcher.opendir(directory.ino, caller: caller)
        var names: [String] = []
        var cookie: Int64 = 0
        while true {
            let entries = try dispatcher.readdir(directory.ino, after: cookie, limit: batch)
            guard let last = entries.last else { break }
            names += entries.map(\.name).filter { $0 != "." && $0 != ".." }
            cookie = last.cookie
        }
        return names
    }

    // MARK: - Files

    /// Opens a file with `open(2)` flags (see `OpenFlags`).
    public func open(_ path: String, flags: Int32 = 0, as caller: Caller = .root) throws(Errno) -> Handle {
        let attributes = try stat(path)
        let file = try dispatcher.open(attributes.ino, flags: flags, caller: caller)
        outstanding.withLock { $0.handles[file.id] = (path, file) }
        return Handle(file: file, caller: caller)
    }

    public func read(_ handle: Handle, size: Int = 4096, offset: Int64 = 0) async throws(Errno) -> [UInt8] {
        let result = await perform { reply in
            self.dispatcher.read(handle.file, offset: offset, size: size, caller: handle.caller, reply: reply)
        }
        return Array(try result.get())
    }

    /// Writes; suspends as long as the handler blocks. `requestID` plays the kernel's id of
    /// the request (give the same one again to play a resend to a server that took over).
    @discardableResult
    public func write(_ handle: Handle, _ bytes: [UInt8], offset: Int64 = 0, requestID: UInt64? = nil) async throws(Errno) -> Int {
        let result = await perform { reply in
            self.dispatcher.write(
                handle.file, offset: offset, bytes: bytes, caller: handle.caller, requestID: requestID, reply: reply)
        }
        return try result.get()
    }

    public func poll(_ handle: Handle) throws(Errno) -> PollEvents {
        try dispatcher.poll(handle.file, caller: handle.caller, waker: nil)
    }

    /// Waits until the file's readiness intersects `events`, like `poll(2)` with no timeout.
    public func waitUntilReady(_ handle: Handle, for events: PollEvents = [.in, .pri]) async throws(Errno) -> PollEvents {
        while true {
            let waker = ContinuationWaker()
            let ready = try dispatcher.poll(handle.file, caller: handle.caller, waker: waker)
            if !ready.intersection(events.union([.err, .hup])).isEmpty { return ready }
            await waker.wait()
            if Task.isCancelled { throw .interrupted }
        }
    }

    public func close(_ handle: Handle) {
        outstanding.withLock { _ = $0.handles.removeValue(forKey: handle.file.id) }
        dispatcher.release(handle.file)
    }

    /// What is still open or outstanding: handles not closed, requests not answered, and
    /// poll registrations still watching a signal. A test that ends with leftovers leaked
    /// something (swift-nio's `finish()` reports the same of a channel).
    public var leftovers: Leftovers {
        outstanding.withLock { outstanding in
            let open = outstanding.handles.values.sorted { $0.file.id < $1.file.id }
            return Leftovers(
                openHandles: open.map(\.path), unansweredRequests: outstanding.requests,
                pollRegistrations: open.filter { $0.file.state.withLock { $0.poll.observed != nil } }.map(\.path))
        }
    }

    // MARK: - Convenience

    /// Reads the whole file as text, through a fresh open.
    public func readText(_ path: String, as caller: Caller = .root) async throws(Errno) -> String {
        let handle = try open(path, as: caller)
        defer { close(handle) }
        return String(decoding: try await read(handle), as: UTF8.self)
    }

    /// Writes text through a fresh `O_WRONLY|O_TRUNC` open, like `echo text > path`.
    @discardableResult
    public func writeText(_ path: String, _ text: String, as caller: Caller = .root) async throws(Errno) -> Int {
        let handle = try open(path, flags: OpenFlags.writeOnly | OpenFlags.truncate, as: caller)
        defer { close(handle) }
        return try await write(handle, Array(text.utf8))
    }

    /// Dispatches a request and awaits its reply; cancelling the awaiting task interrupts it.
    private func perform<Value: Sendable>(
        _ dispatch: (consuming InProcessReply<Value>) -> Void
    ) async -> Result<Value, Errno> {
        let request = InProcessRequest<Value>()
        outstanding.withLock { $0.requests += 1 }
        defer { outstanding.withLock { $0.requests -= 1 } }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<Value, Errno>, Never>) in
                request.await(continuation)
                dispatch(InProcessReply(request))
            }
        } onCancel: {
            request.interrupt()
        }
    }
}

/// What an `InProcessDriver` still holds (see `InProcessDriver.leftovers`).
public struct Leftovers: Sendable, Equatable, CustomStringConvertible {
    /// The paths of handles opened and not closed.
    public var openHandles: [String]
    /// Reads and writes whose caller still awaits an answer.
    public var unansweredRequests: Int
    /// The paths of open handles whose poll registration still watches a signal.
    public var pollRegistrations: [String]

    public var isEmpty: Bool { openHandles.isEmpty && unansweredRequests == 0 && pollRegistrations.isEmpty }

    public var description: String {
        isEmpty
            ? "no leftovers"
            : "open handles \(openHandles), unanswered requests \(unansweredRequests), poll registrations \(pollRegistrations)"
    }
}

/// A poll waker that resumes one waiting task.
private final class ContinuationWaker: PollWaker {
    private let state = Mutex<(fired: Bool, continuation: CheckedContinuation<Void, Never>?)>((false, nil))

    func wake() {
        let continuation = state.withLock { state in
            state.fired = true
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume()
    }

    func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state in
                    if state.fired { return true }
                    state.continuation = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            self.wake()
        }
    }
}
