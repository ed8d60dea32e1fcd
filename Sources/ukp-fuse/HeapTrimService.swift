import CDaemon
import ServiceLifecycle

/// Gives freed heap back to the system. glibc keeps what a burst freed in its arenas
/// (100,000 children that came and went left ≈110 MiB resident); every `interval`, when
/// more than `threshold` bytes sit free there, `malloc_trim(0)` returns them.
struct HeapTrimService: Service {
    var interval: Duration = .seconds(1)
    var threshold = 4 << 20

    func run() async {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                Self.trimIfWorthIt(threshold: threshold)
            }
        }
    }

    /// Large blocks (128 KiB and up: the tables of many children) always get pages of their
    /// own, given back when freed. Call before the server allocates them.
    static func keepLargeBlocksOutOfTheHeap() {
        _ = cheap_set_mmap_threshold(128 << 10)
    }

    /// Trims when more than `threshold` bytes are free in the allocator's arenas.
    static func trimIfWorthIt(threshold: Int) {
        if cheap_free_bytes() > threshold { _ = cheap_trim() }
    }
}
