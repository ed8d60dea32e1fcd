/// What a handler knows about the request it serves.
public struct RequestContext: Sendable {
    public let caller: Caller
    /// The open file the request came through.
    public let file: OpenFile

    /// The calling thread's id.
    public var threadID: Int32 { caller.threadID }
    /// True when the file was opened `O_NONBLOCK`: a handler that would block should throw `EAGAIN`.
    public var isNonBlocking: Bool { file.isNonBlocking }
}
