import Foundation
import SystemPackage
import Testing

@testable import LibUKP

/// Model-based fuzzing: random operation sequences run against `ReferenceModel` and against the
/// real engine through its tree on the in-process driver, compared after every step.
///
/// `UKP_FUZZ_SEED` (default fixed), `UKP_FUZZ_OPS` (default 100,000) and `UKP_FUZZ_RUN_LENGTH`
/// (operations per fresh engine, default 250) change the run, `UKP_FUZZ_PARALLEL` how many runs
/// go at a time (default: one per processor); `scripts/fuzz-long.sh` uses them.
@Suite struct TreeModelFuzzTests {
    static let environment = ProcessInfo.processInfo.environment
    static let seed = environment["UKP_FUZZ_SEED"].flatMap { UInt64($0) } ?? 0x5EED_2026
    static let operations = environment["UKP_FUZZ_OPS"].flatMap { Int($0) } ?? 100_000
    static let runLength = max(1, environment["UKP_FUZZ_RUN_LENGTH"].flatMap { Int($0) } ?? 250)

    /// Runs of `runLength` operations, each on a fresh engine, until `operations` are done;
    /// as many runs at a time as there are processors (each run is deterministic on its own).
    @Test func theEngineBehavesLikeTheModel() async throws {
        let clock = ContinuousClock()
        let started = clock.now
        let runs = (Self.operations + Self.runLength - 1) / Self.runLength
        let parallel = max(1, Self.environment["UKP_FUZZ_PARALLEL"].flatMap { Int($0) } ?? ProcessInfo.processInfo.activeProcessorCount)
        let failure = await withTaskGroup(of: (Int, FuzzDivergence?).self) { group -> (Int, FuzzDivergence)? in
            var next = 0
            func add() {
                let run = next
                next += 1
                group.addTask { (run, await Self.check(run: run)) }
            }
            while next < min(runs, parallel) { add() }
            var first: (Int, FuzzDivergence)?
            for await (run, divergence) in group {
                if let divergence, first.map({ run < $0.0 }) ?? true { first = (run, divergence) }
                if first == nil, next < runs { add() }
            }
            return first
        }
        if let (run, _) = failure {
            let (configuration, operations) = Self.run(run)
            let shrunk = await FuzzRunner.shrink(operations, configuration: configuration)
            let minimal = await FuzzRunner.run(shrunk, configuration: configuration)
            let reproduce = "UKP_FUZZ_SEED=\(Self.seed) UKP_FUZZ_OPS=\(Self.operations) UKP_FUZZ_RUN_LENGTH=\(Self.runLength) (run \(run))"
            Issue.record(Comment(rawValue: Self.report(reproduce: reproduce, configuration: configuration, shrunk, minimal ?? failure!.1)))
            return
        }
        let elapsed = clock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print(
            "fuzz: \(Self.operations) operations in \(runs) runs of \(Self.runLength) (seed \(Self.seed), \(parallel) at a time), "
                + "\(String(format: "%.1f", seconds)) s, \(Int(Double(Self.operations) / seconds)) operations/s")
    }

    /// Run `run` of this seed: its configuration and operations.
    static func run(_ run: Int) -> (ReferenceModel.Configuration, [FuzzOperation]) {
        var generator = FuzzGenerator(seed: runSeed(seed, run))
        let configuration = generator.configuration()
        let count = min(runLength, operations - run * runLength)
        return (configuration, generator.operations(count, configuration: configuration))
    }

    static func check(run: Int) async -> FuzzDivergence? {
        let (configuration, operations) = Self.run(run)
        return await FuzzRunner.run(operations, configuration: configuration)
    }

    /// The fuzzer finds a planted difference (the engine remembers one more thread than the
    /// model) and shrinks it to a handful of operations.
    @Test func aPlantedDifferenceIsFoundAndShrunk() async throws {
        let model = ReferenceModel.Configuration(queueDepth: 2, retentionMilliseconds: 1000, threadLimit: 2)
        var engine = model
        engine.threadLimit = 3
        var found: (operations: [FuzzOperation], divergence: FuzzDivergence)?
        for run in 0..<50 where found == nil {
            var generator = FuzzGenerator(seed: Self.runSeed(7, run))
            let operations = generator.operations(250, configuration: model)
            if let divergence = await FuzzRunner.run(operations, configuration: model, engine: engine) {
                found = (operations, divergence)
            }
        }
        let (operations, _) = try #require(found)
        let shrunk = await FuzzRunner.shrink(operations, configuration: model, engine: engine, budget: .seconds(60))
        #expect(await FuzzRunner.run(shrunk, configuration: model, engine: engine) != nil)
        // Three threads fork (each fork needs its answer), then one more fork or a step that
        // reads the evicted thread shows the difference.
        #expect(shrunk.count <= 12, "\(shrunk)")
        let divergence = try #require(await FuzzRunner.run(shrunk, configuration: model, engine: engine))
        print(
            "fuzz: the planted difference (engine threadLimit 3), shrunk:\n"
                + Self.report(
                    reproduce: "planted", configuration: model, shrunk, divergence))
    }

    @Test func runsAreReproducibleFromTheirSeed() {
        var first = FuzzGenerator(seed: 42)
        var second = FuzzGenerator(seed: 42)
        let configuration = first.configuration()
        #expect(second.configuration() == configuration)
        #expect(first.operations(1000, configuration: configuration) == second.operations(1000, configuration: configuration))
    }

    /// Each run's seed, derived from the overall seed.
    static func runSeed(_ seed: UInt64, _ run: Int) -> UInt64 {
        var mixer = SplitMix64(seed: seed ^ (UInt64(run) &* 0x9E37_79B9_7F4A_7C15))
        return mixer.next()
    }

    static func report(
        reproduce: String,
        configuration: ReferenceModel.Configuration,
        _ operations: [FuzzOperation],
        _ divergence: FuzzDivergence
    ) -> String {
        """
        The engine diverged from the model.
        Reproduce: \(reproduce)
        Configuration: \(configuration)
        Shrunk to \(operations.count) operations:
        \(operations.enumerated().map { "    \($0.offset): \($0.element)" }.joined(separator: "\n"))
        \(divergence)
        """
    }
}

/// The CI seed's runs reach every rule the model knows (counted on the model alone).
@Suite struct TreeModelFuzzCoverageTests {
    @Test func theGeneratedRunsReachEveryRule() {
        var counts: [String: Int] = [:]
        let runs = (TreeModelFuzzTests.operations + TreeModelFuzzTests.runLength - 1) / TreeModelFuzzTests.runLength
        var liveChildren = 0
        var steps = 0
        for run in 0..<runs {
            let (configuration, operations) = TreeModelFuzzTests.run(run)
            var model = ReferenceModel(configuration)
            for operation in operations {
                let step = model.apply(operation)
                counts[Self.kind(operation) + " → " + Self.kind(step.answer), default: 0] += 1
                for answer in step.completed.values { counts["released: " + Self.kind(answer), default: 0] += 1 }
                liveChildren += model.children.count
                steps += 1
            }
        }
        let expected = [
            "fork → pending", "fork → EBUSY", "fork → EINVAL", "fork → 0", "released: EINTR", "released: EIO",
            "released: ENOMEM", "released: 2", "wait → pending", "wait → 2", "wait → ENOENT", "read → ESTALE",
            "read → EAGAIN", "read → text", "poll → POLLIN|POLLPRI", "poll → POLLIN", "poll → 0", "poll → ESTALE",
            "write → EBADF", "write → ESTALE", "write → pending", "open → ENOENT", "becameChild → done",
            "answer → done", "interruptFork → done", "interruptWait → done", "lookup → ENOENT",
        ]
        for key in expected { #expect(counts[key, default: 0] > 0, "never reached: \(key)") }
        print("fuzz coverage: " + counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: "; "))
        print("fuzz coverage: \(String(format: "%.1f", Double(liveChildren) / Double(max(1, steps)))) live children on average")
    }

    static func kind(_ operation: FuzzOperation) -> String {
        String(operation.description.prefix { $0 != "(" })
    }

    static func kind(_ answer: FuzzAnswer) -> String {
        switch answer {
        case .errno(let errno):
            switch errno {
            case .resourceBusy: "EBUSY"
            case .invalidArgument: "EINVAL"
            case .interrupted: "EINTR"
            case .ioError: "EIO"
            case .noMemory: "ENOMEM"
            case .noSuchFileOrDirectory: "ENOENT"
            case .staleNFSFileHandle: "ESTALE"
            case .resourceTemporarilyUnavailable: "EAGAIN"
            case .badFileDescriptor: "EBADF"
            default: "\(errno)"
            }
        case .text: "text"
        case .events(let events): events.description
        default: answer.description
        }
    }
}
