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
        dispatcher = try Dispatcher(
            tree: Tree {
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

/// Writers parked on one file until a level is reached, answered through counting replies.
final class ParkedWriters: Sendable {
    final class Level: Sendable {
        let value = Atomic<Int>(0)
    }

    let dispatcher: Dispatcher
    let file: OpenFile
    let changed = ChangeSignal()
    let level = Level()

    init() throws {
        let changed = changed
        let level = level
        dispatcher = try Dispatcher(
            tree: Tree {
                File("wait", permissions: 0o222, "blocks until released")
                    .write(
                        Ignored.self, "blocks until released",
                        until: Condition(
                            when: { _ in level.value.load(ordering: .acquiring) % 2 == 1 }, signalledBy: { _ in changed }))
            })
        let ino = try dispatcher.lookup(parent: Dispatcher.rootID, name: "wait").ino
        file = try dispatcher.open(ino, flags: 0o1, caller: .root)
    }

    /// Parks `count` writes, then releases them all with one signal.
    func parkAndRelease(_ count: Int) {
        level.value.add(1, ordering: .releasing)  // even: writers wait
        for _ in 0..<count {
            dispatcher.write(file, offset: 0, bytes: [0x31], caller: .root, reply: CountingWriteReply())
        }
        level.value.add(1, ordering: .releasing)  // odd: the condition holds
        changed.signal()
    }
}

struct CountingWriteReply: Reply, ~Copyable {
    consuming func send(_ result: Result<Int, Errno>) {
        blackHole(result)
        replyCount.add(1, ordering: .relaxed)
    }

    consuming func answerLater(onInterrupt: @escaping @Sendable () -> Void) -> LaterReply<Int> {
        LaterReply { result in
            blackHole(result)
            replyCount.add(1, ordering: .relaxed)
        }
    }
}

/// The deterministic gate CI checks (`Benchmarks/micro-check.sh`): mallocs per operation,
/// against the thresholds recorded in `Thresholds/`, with no tolerance for more. (The gated
/// benchmarks' names have no spaces: the tool writes thresholds files with `_` for them,
/// and looks them up without.)
var mallocGate: [BenchmarkMetric: BenchmarkThresholds] {
    [.mallocCountTotal: .init(relative: [.p90: 0], absolute: [.p90: 0])]
}

struct Failure: Error, CustomStringConvertible {
    let description: String
}

/// `UKP_MICRO_QUICK=1` (what CI's malloc gate uses): a few iterations each; malloc counts
/// per operation do not depend on how many there are.
let quick = ProcessInfo.processInfo.environment["UKP_MICRO_QUICK"] == "1"

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: timed,
        warmupIterations: quick ? 1 : 3,
        maxDuration: .seconds(quick ? 1 : 3),
        maxIterations: quick ? 20 : 1_000
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

    // 1c. One `readdir` reply's worth of entries (what one getdents64 call asks the daemon for).
    Benchmark(
        "readdir-batch-512",
        configuration: .init(scalingFactor: .kilo, thresholds: mallocGate),
        closure: { (benchmark: Benchmark, fixture: BigDirectory) throws in
            var cookie: Int64 = 2
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                let entries = try fixture.dispatcher.readdir(fixture.directory, after: cookie, limit: readdirBatch)
                cookie = entries.count == readdirBatch ? entries[entries.count - 1].cookie : 2
                blackHole(entries)
            }
        },
        setup: { try BigDirectory() }
    )

    // 2a. Lookup of an entry whose vnode exists (the kernel's dentry expired, or another name).
    Benchmark(
        "lookup-cached",
        configuration: .init(scalingFactor: .kilo, thresholds: mallocGate),
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
        "read-sync-handler",
        configuration: .init(scalingFactor: .kilo, thresholds: mallocGate),
        closure: readStatus,
        setup: {
            let box = StatusBox()
            return try OpenStatus(
                Dispatcher(
                    tree: Tree {
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
            let status = try OpenStatus(
                Dispatcher(
                    tree: Tree {
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

    // 3d. A write parked until its condition holds, then released by the signal: what each
    // `wait` writer costs on the way in and out (1,000 of them, released ten at a time).
    Benchmark(
        "parked-write-park-and-release",
        configuration: .init(scalingFactor: .kilo, maxIterations: 200, thresholds: mallocGate),
        closure: { (benchmark: Benchmark, gate: ParkedWriters) throws in
            benchmark.startMeasurement()
            // In tens (below the count a signal spreads over threads): every allocation on this thread.
            for _ in stride(from: 0, to: benchmark.scaledIterations.count, by: 10) { gate.parkAndRelease(10) }
        },
        setup: { try ParkedWriters() }
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
