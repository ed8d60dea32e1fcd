/// Who sent a request, as the kernel reports it.
public struct Caller: Sendable, Hashable {
    public var uid: UInt32
    public var gid: UInt32
    /// The calling thread's id (FUSE reports the kernel task id, i.e. the thread, not the process).
    public var threadID: Int32

    public init(uid: UInt32, gid: UInt32, threadID: Int32) {
        self.uid = uid
        self.gid = gid
        self.threadID = threadID
    }

    /// Root, on thread 1.
    public static let root = Caller(uid: 0, gid: 0, threadID: 1)
}
