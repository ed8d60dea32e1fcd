import Foundation
@testable import LibUKP
import SystemPackage
import Testing

/// Model-based fuzzing: random operation sequences run against `ReferenceModel` and against the
/// real engine through its tree on the in-process driver, compared after every step.
///
/// `UKP_FUZZ_SEED` (default fixed), `UKP_FUZZ_OPS` (default 100,000) and `UKP_FUZZ_RUN_LENGTH`
/// (operations per fresh engine, default 250) change the run; `scripts/fuzz-long.sh` uses them.
@Suite struct TreeModelFuzzTests {
    static let environment = ProcessInfo.processInfo.environment
    static let seed = environment["UKP_FUZZ_SEED"].flatMap { UInt64($0) } ?? 0x5EED_2026
    static let operations = environment["UKP_FUZZ_OPS"].flatMap { Int($0) } ?? 100_000
    static let runLength = max(1, environment["UKP_FUZZ_RUN_LENGTH"].flatMap { Int($0) } ?? 250)

    @Test func theEngineBehavesLikeTheModel() async throws {
        let clock = ContinuousClock()
        let started = clock.now
        var done = 0
        var run = 0
        while done < Self.operations {
            var generator = FuzzGenerator(seed: Self.runSeed(Self.seed, run))
            let configuration = generator.configuration()
            let operations = generator.operations(min(Self.runLength, Self.operations - done), configuration: configuration)
            if let divergence = await FuzzRunner.run(operations, configuration: configuration) {
                let shrunk = await FuzzRunner.shrink(operations, configuration: configuration)
                let minimal = await FuzzRunner.run(shrunk, configuration: configuration) ?? divergence
                Issue.record(Comment(rawValue: Self.report(run: run, configuration: configuration, shrunk, minimal)))
                return
            }
            done += operations.count
            run += 1
        }
        let elapsed = clock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("fuzz: \(done) operations in \(run) runs (seed \(Self.seed)), \(String(format: "%.1f", seconds)) s, \(Int(Double(done) / seconds)) operations/s")
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
        // Three threads fork (each fork needs its answer); one more read or fork shows the difference.
        #expect(shrunk.count <= 8, "\(shrunk)")
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
        run: Int,
        configuration: ReferenceModel.Configuration,
        _ operations: [FuzzOperation],
        _ divergence: FuzzDivergence
    ) -> String {
        """
        The engine diverged from the model.
        Reproduce: UKP_FUZZ_SEED=\(seed) UKP_FUZZ_OPS=\(Self.operations) UKP_FUZZ_RUN_LENGTH=\(runLength) (run \(run))
        Configuration: \(configuration)
        Shrunk to \(operations.count) operations:
        \(operations.enumerated().map { "    \($0.offset): \($0.element)" }.joined(separator: "\n"))
        \(divergence)
        """
    }
}
