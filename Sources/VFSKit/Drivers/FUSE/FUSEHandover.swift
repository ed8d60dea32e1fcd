/// A mounted FUSE connection handed to a server process by the supervisor that owns it.
///
/// The supervisor mounts (`FUSEMount`), keeps the `/dev/fuse` descriptor, and starts a
/// server that inherits it. When that server dies, the mount stays (the connection lives
/// while any descriptor of it is open) and the supervisor starts another with `restarts`
/// one higher. That server comes up on the initialized connection without a `FUSE_INIT`
/// from the kernel: it replays the one the first server recorded, asks the kernel to
/// resend the requests the dead server had read (`FUSE_NOTIFY_RESEND`, Linux 6.9+), wakes
/// the pollers it had registered, and answers for the node ids it had given out (recorded
/// in `recordsPath`). File handles it had given out are reopened on first use, as a fresh
/// open would be.
public struct FUSEHandover: Sendable, Equatable {
    /// The inherited `/dev/fuse` descriptor.
    public var descriptor: Int32
    /// Where the tree is mounted (to wake the loop when stopping).
    public var mountpoint: String
    /// A directory for this connection's records (its `FUSE_INIT`, node ids, pollers):
    /// empty for a fresh mount, kept by the supervisor across servers.
    public var recordsPath: String
    /// How many servers served this connection before this one (0: the first).
    public var restarts: Int
    /// What becomes of the requests this server read and had not answered when it dies.
    public var heldRequests: HeldRequests

    /// The fate of the requests a dying server held.
    public enum HeldRequests: String, Sendable, Equatable, CaseIterable {
        /// They stay with the connection, and the next server has the kernel resend them
        /// (`FUSE_NOTIFY_RESEND`, Linux 6.9+): their callers never notice. The server reads
        /// the inherited descriptor itself.
        case resent
        /// They fail with `ECONNABORTED` as the server dies: the server reads through its
        /// own clone of the descriptor (`FUSE_DEV_IOC_CLONE`), whose requests the kernel ends
        /// when it closes. Before Linux 6.9 (no resend) the alternative is callers that wait
        /// for an answer nobody will send, uninterruptibly, even through `SIGKILL`.
        case failed
    }

    public init(descriptor: Int32, mountpoint: String, recordsPath: String, restarts: Int, heldRequests: HeldRequests = .resent) {
        self.descriptor = descriptor
        self.mountpoint = mountpoint
        self.recordsPath = recordsPath
        self.restarts = restarts
        self.heldRequests = heldRequests
    }

    /// Tags the file handles this server gives out (bits 48–63), so that a later server
    /// knows a handle from before the restart: 1, 2, …, never 0, wrapping after 65,535.
    var epoch: UInt16 { UInt16(restarts % 65_535 + 1) }
}
