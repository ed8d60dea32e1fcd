import CFUSE
import Synchronization

/// A kernel poll registration (`fuse_pollhandle`): `wake()` notifies it once;
/// one dropped unwoken (replaced by a newer poll) is destroyed.
final class FUSEPollWaker: PollWaker {
    private let handle: Atomic<UInt>
    private let connection: FUSEConnection

    init(_ handle: OpaquePointer, connection: FUSEConnection) {
        self.handle = Atomic(UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(handle))))
        self.connection = connection
    }

    func wake() {
        if let handle = take() { connection.notifyPoll(handle) }
    }

    deinit {
        if let handle = take() { fuse_pollhandle_destroy(handle) }
    }

    private func take() -> OpaquePointer? {
        OpaquePointer(bitPattern: handle.exchange(0, ordering: .acquiringAndReleasing))
    }
}
