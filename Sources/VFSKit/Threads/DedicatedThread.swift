#if canImport(Glibc)
import Glibc
#endif

/// A plain OS thread for work that blocks (a FUSE session loop, a stream reader), off
/// Swift's cooperative pool, which must never block. The one thread launcher of the package.
public struct DedicatedThread: @unchecked Sendable {
    private let thread: pthread_t

    /// Starts `body` on a new joinable thread; nil when the system refuses one.
    public static func start(_ body: @escaping @Sendable () -> Void) -> DedicatedThread? {
        let context = Unmanaged.passRetained(Body(body)).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(
            &thread, nil,
            { context in
                Unmanaged<Body>.fromOpaque(context!).takeRetainedValue().run()
                return nil
            }, context)
        guard created == 0 else {
            Unmanaged<Body>.fromOpaque(context).release()
            return nil
        }
        return DedicatedThread(thread: thread)
    }

    /// Starts `body` on a new thread that nobody joins; false when the system refuses one.
    @discardableResult
    public static func detach(_ body: @escaping @Sendable () -> Void) -> Bool {
        guard let thread = start(body) else { return false }
        pthread_detach(thread.thread)
        return true
    }

    /// Runs `body` on a new thread and returns once it finished (on this task's thread,
    /// without a thread, when the system refuses one).
    public static func run(_ body: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let started = detach {
                body()
                continuation.resume()
            }
            if !started {
                body()
                continuation.resume()
            }
        }
    }

    /// Waits until the thread's body returned.
    public func join() {
        pthread_join(thread, nil)
    }

    private final class Body: Sendable {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }
}
