#if canImport(Glibc)
import Glibc
#endif

/// Runs blocking work (reading the platform's stream) on a detached thread of its own,
/// off the cooperative pool.
enum WireThread {
    static func start(_ body: @escaping @Sendable () -> Void) {
        let context = Unmanaged.passRetained(Box(body)).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { context in
            Unmanaged<Box>.fromOpaque(context!).takeRetainedValue().body()
            return nil
        }, context)
        guard created == 0 else {
            fatalError("cannot start the wire protocol thread: pthread_create returned \(created)")
        }
        pthread_detach(thread)
    }

    private final class Box: Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
}
