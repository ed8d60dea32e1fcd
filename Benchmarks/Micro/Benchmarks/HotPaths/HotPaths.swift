// Micro-benchmarks of the request paths the FUSE driver and the sim platform hit hardest.
// Every fixture is built outside the measured region: in the benchmark's `setup`, or
// before `benchmark.startMeasurement()`. See ../../README.md for what each one measures.

import Benchmark
import Foundation
import LibUKP
import Synchronization
import SystemPackage
import VFSKit

/// Entries in the large dynamic directory.
let entryCount = 100_000
/// Entries per `readdir` call: what the FUSE driver asks for (one 4 KiB reply buffer).
let readdirBatch = 512

/// Wall clock, allocations and rate. CPU time is only added where one iteration takes
/// milliseconds: Linux reports it in 10 ms ticks, so per-operation figures would read 0 or 10 ms.
let timed: [BenchmarkMetric] = [.wallClock, .mallocCountTotal, .throughput]
let timedWithCPU: [BenchmarkMetric] = [.wallClock, .cpuTotal, .mallocCountTotal, .throughput]

/// A `/vm` directory whose only content is a `ForEach` over `entries`, as in the ukp tree.
struct BigDirectory {
    let entries: DynamicEntries<UUID, Int>
    let keys: [UUID]
    let names: [String]
    let dispatcher: Dispatcher
    let directory: UInt64

    init(count: Int = entryCount) throws {
        let entries = DynamicEntries<UUID, Int>()
        let keys = (0..<count).map { _ in UUID() }
        for (n, key) in keys.enumerated() { entries.insert(n, for: key) }
        self.entries = entries
        self.keys = keys
        names = keys.map { $0.uuidString.lowercased() }
        dispatcher = try Dispatcher(tree: Tree {
            Directory("vm", "children") {
                ForEach(entries, "one entry per key") { entry in
                    File("status", "the value").read("the value") { _ in try entry.value }
                }
            }
        })
        directory = try dispatcher.lookup(parent: Dispatcher.rootID, name: "vm").ino
    }

    /// A directory whose every entry has been looked up once (each has its vnode).
    static func allLookedUp() throws -> BigDirectory {
        let fixture = try BigDirectory()
        for name in fixture.names { _ = try fixture.dispatcher.lookup(parent: fixture.directory, name: name) }
        return fixture
    }

    /// A full listing, `batch` entries per call, from cookie 0 to the end; the entry count.
    @inline(__always)
    func listAll(batch: Int = readdirBatch) throws -> Int {
        var cookie: Int64 = 0
        var listed = 0
        while true {
            let entries = try dispatcher.readdir(directory, after: cookie, limit: batch)
            guard let last = entries.last else { return listed }
            listed += entries.count
            cookie = last.cookie
        }
    }
}

/// First-time lookups need names no lookup has seen: a cursor into a fresh directory,
/// rebuilt (outside the measurement) once every name has been looked up.
final class FreshNames: @unchecked Sendable {
    var directory: BigDirectory
    var cursor = 0

    init() throws { directory = try BigDirectory() }

    /// The directory and the first of `count` names not looked up yet.
    func take(_ count: Int) throws -> (BigDirectory, Int) {
        if cursor + count > directory.names.count {
            directory = try BigDirectory()
            cursor = 0
        }
        defer { cursor += count }
        return (directory, cursor)
    }
}

/// A state shared with read handlers, as a `Child`'s status is.
final class StatusBox: Sendable {
    private let state = Mutex(InstanceState.running)
    var status: InstanceState { state.withLock { $0 } }
}

/// An open `status` file, and whether its read answered on the calling thread.
/// The measured loop of the status-read benchmarks: one `read(2)` per scaled iteration.
func readStatus(_ benchmark: Benchmark, _ status: OpenStatus) throws {
    benchmark.startMeasurement()
    for _ in benchmark.scaledIterations { status.read() }
}

struct OpenStatus {
    let dispatcher: Dispatcher
    let file: OpenFile

    init(_ dispatcher: Dispatcher, path: [String]) throws {
        var ino = Dispatcher.rootID
        for name in path { ino = try dispatcher.lookup(parent: ino, name: name).ino }
        self.dispatcher = dispatcher
        file = try dispatcher.open(ino, flags: 0, caller: .root)
    }

    /// One `read(2)` at offset 0, answered through a `CountingReply`.
    @inline(__always)
    func read() {
        dispatcher.read(file, offset: 0, size: 4096, caller: .root, reply: CountingReply())
    }
}

/// Counts replies and keeps their bytes alive past the optimizer; holds nothing, so
/// making one allocates nothing (as a FUSE driver's reply, a pointer, does not).
let replyCount = Atomic<Int>(0)

struct CountingReply: Reply, ~Copyable {
    consuming func send(_ result: Result<ArraySlice<UInt8>, Errno>) {
        blackHole(result)
        replyCount.add(1, ordering: .relaxed)
    }

    consuming func answerLater(onInterrupt: @escaping @Sendable () -> Void) -> LaterReply<ArraySlice<UInt8>> {
        LaterReply { result in
            blackHole(result)
            replyCount.add(1, ordering: .relaxed)
        }
    }
}

/// The root instance of a simulator seen through its own ukp tree, with zero retention:
/// an exited child is gone at once, so the fixture stays the same size.
struct SimFixture {
    let sim: SimPlatform
    let driver: InProcessDriver

    init() throws {
        sim = SimPlatform(engineConfiguration: .init(stoppedRetention: .zero))
        driver = try InProcessDriver(sim.root.engine.tree)
    }
}

struct Failure: Error, CustomStringConvertible {
    let description: String
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: timed,
        warmupIterations: 3,
        maxDuration: .seconds(3),
        maxIterations: 1_000
    )

    // 1. A full listing of 100,000 dynamic entries, as `ls /vm` through FUSE asks for it.
    Benchmark(
        "readdir 100k dynamic entries",
        configuration: .init(metrics: timedWithCPU + [.peakMemoryResident], maxIterations: 200),
        closure: { (benchmark: Benchmark, fixture: BigDirectory) throws in
            benchmark.startMeasurement()
            blackHole(try fixture.listAll())
        },
        setup: {
            let fixture = try BigDirectory()
            let listed = try fixture.listAll()
            guard listed == entryCount + 2 else { throw Failure(description: "listed \(listed)") }
            return fixture
        }
    )

    // 1b. The same after every entry has been looked up (each name is then found in the
    // directory's cache of vnodes, to report its inode number).
    Benchmark(
        "readdir 100k dynamic entries (all looked up)",
        configuration: .init(metrics: timedWithCPU + [.peakMemoryResident], maxIterations: 200),
        closure: { (benchmark: Benchmark, fixture: BigDirectory) throws in
            benchmark.startMeasurement()
            blackHole(try fixture.listAll())
        },
        setup: { try BigDirectory.allLookedUp() }
    )

    // 2a. Lookup of an entry whose vnode exists (the kernel's dentry expired, or another name).
    Benchmark(
        "lookup one of 100k (cached)",
        configuration: .init(scalingFactor: .kilo),
        closure: { (benchmark: Benchmark, fixture: BigDirectory) throws in
            var n = Int.random(in: 0..<entryCount)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                blackHole(try fixture.dispatcher.lookup(parent: fixture.directory, name: fixture.names[n]))
                n += 7919
                if n >= entryCount { n -= entryCount }
            }
        },
        setup: { try BigDirectory.allLookedUp() }
    )

    // 2b. First lookup of an entry: parses the name, finds the entry, makes its vnode.
    Benchmark(
        "lookup one of 100k (first time)",
        configuration: .init(scalingFactor: .kilo),
        closure: { (benchmark: Benchmark, fresh: FreshNames) throws in
            let (fixture, start) = try fresh.take(benchmark.scaledIterations.count)
            var n = start
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                blackHole(try fixture.dispatcher.lookup(parent: fixture.directory, name: fixture.names[n]))
                n += 1
            }
        },
        setup: { try FreshNames() }
    )

    // 3a. `cat status`'s read: a synchronous handler, answered on the calling thread.
    Benchmark(
        "read status (sync handler)",
        configuration: .init(scalingFactor: .kilo),
        closure: readStatus,
        setup: {
            let box = StatusBox()
            return try OpenStatus(Dispatcher(tree: Tree {
                File("status", "state").read("state") { _ in box.status }
            }), path: ["status"])
        }
    )

    // 3b. The same value through an `async` handler (it does not suspend: `Task.immediate`).
    Benchmark(
        "read status (async handler)",
        configuration: .init(scalingFactor: .kilo),
        closure: readStatus,
        setup: {
            let box = StatusBox()
            let status = try OpenStatus(Dispatcher(tree: Tree {
                File("status", "state").read("state") { _ async in box.status }
            }), path: ["status"])
            let before = replyCount.load(ordering: .relaxed)
            status.read()
            guard replyCount.load(ordering: .relaxed) == before + 1 else {
                throw Failure(description: "the async read did not answer inline")
            }
            return status
        }
    )

    // 3c. A real child's `/vm/<uuid>/status` in the ukp tree (sync handler, `DynamicEntry.value`).
    Benchmark(
        "read /vm/<uuid>/status (ukp tree)",
        configuration: .init(scalingFactor: .kilo),
        closure: { (benchmark: Benchmark, status: (OpenStatus, SimFixture)) throws in
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations { status.0.read() }
        },
        setup: {
            let fixture = try SimFixture()
            let child = try await fixture.sim.root.engine.fork(thread: 1)
            let status = try OpenStatus(fixture.driver.dispatcher, path: ["vm", child.uuidString.lowercased(), "status"])
            return (status, fixture)
        }
    )

    // 4. One fork/exit cycle in process, as scripts/soak.py does through a mount: write
    // `/fork`, read the child's UUID back from `/fork`, the child exits (sim), and is gone.
    Benchmark(
        "sim fork round trip",
        configuration: .init(maxIterations: 20_000),
        closure: { (benchmark: Benchmark, fixture: SimFixture) async throws in
            benchmark.startMeasurement()
            let driver = fixture.driver
            try await driver.writeText("/fork", "1")
            let text = try await driver.readText("/fork")
            guard let child = UUID(uuidString: String(text.dropLast())) else {
                throw Failure(description: "read \(text) from /fork")
            }
            try await fixture.sim.exit(child, code: 0)
            benchmark.stopMeasurement()
            guard fixture.sim.instances.count == 1, fixture.sim.root.engine.children.count == 0 else {
                throw Failure(description: "the child was not removed")
            }
        },
        setup: { try SimFixture() }
    )

    // 5. 100,000 inserts then 100,000 removals, oldest first (children exit roughly in
    // the order they were forked).
    Benchmark(
        "DynamicEntries insert+remove 100k",
        // Seconds per iteration (removing the oldest entry shifts every later one): few samples.
        configuration: .init(metrics: timedWithCPU, warmupIterations: 1, maxDuration: .seconds(10), maxIterations: 100),
        closure: { (benchmark: Benchmark, keys: [UUID]) throws in
            let entries = DynamicEntries<UUID, Int>()
            benchmark.startMeasurement()
            for (n, key) in keys.enumerated() { entries.insert(n, for: key) }
            for key in keys { entries.remove(key) }
            benchmark.stopMeasurement()
            blackHole(entries)
        },
        setup: { (0..<entryCount).map { _ in UUID() } }
    )

    // 5b. The same with removals newest first, to show what the removal order costs.
    Benchmark(
        "DynamicEntries insert+remove 100k (newest first)",
        configuration: .init(metrics: timedWithCPU, maxIterations: 100),
        closure: { (benchmark: Benchmark, keys: [UUID]) throws in
            let entries = DynamicEntries<UUID, Int>()
            benchmark.startMeasurement()
            for (n, key) in keys.enumerated() { entries.insert(n, for: key) }
            for key in keys.reversed() { entries.remove(key) }
            benchmark.stopMeasurement()
            blackHole(entries)
        },
        setup: { (0..<entryCount).map { _ in UUID() } }
    )
}
