/// What a handler knows about the request it serves.
public struct RequestContext: Sendable {
    public let caller: Caller
    /// The open file the request came through.
    public let file: OpenFile
    /// The driver's id of this request, where it has one: for FUSE the kernel's `unique`,
    /// which stays the same when the kernel resends the request to a server that took over
    /// the connection — so a handler that must act once (a fork) can tell a resend from a
    /// new request. Nil for requests without one.
    public let requestID: UInt64?

    init(caller: Caller, file: OpenFile, requestID: UInt64? = nil) {
        self.caller = caller
        self.file = file
        self.requestID = requestID
    }

    /// The calling thread's id.
    public var threadID: Int32 { caller.threadID }
    /// True when the file was opened `O_NONBLOCK`: a handler that would block should throw `EAGAIN`.
    public var isNonBlocking: Bool { file.isNonBlocking }
}
