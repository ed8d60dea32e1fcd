import Foundation
import SystemPackage

@testable import LibUKP

/// The first point where the engine (through its tree) and the model disagree.
struct FuzzDivergence: Error, CustomStringConvertible {
    let step: Int
    let operation: FuzzOperation
    let what: String
    let expected: String
    let actual: String

    var description: String {
        "step \(step), \(operation): \(what)\n    model:  \(expected)\n    engine: \(actual)"
    }
}

/// Runs operation sequences against the model and the real engine in lockstep.
enum FuzzRunner {
    /// Runs `operations` on a fresh model and a fresh engine; the first divergence, if any.
    /// (`engine` configures the engine differently from the model: for testing the fuzzer itself.)
    static func run(
        _ operations: [FuzzOperation],
        configuration: ReferenceModel.Configuration,
        engine: ReferenceModel.Configuration? = nil,
        deadline: Duration = .seconds(10)
    ) async -> FuzzDivergence? {
        var model = ReferenceModel(configuration)
        let system: FuzzSystem
        do { system = try FuzzSystem(engine ?? configuration, deadline: deadline) } catch {
            return FuzzDivergence(step: 0, operation: .becameChild, what: "tree", expected: "valid", actual: "\(error)")
        }
        let divergence = await run(operations, model: &model, system: system)
        await system.tearDown()
        return divergence
    }

    private static func run(_ operations: [FuzzOperation], model: inout ReferenceModel, system: FuzzSystem) async -> FuzzDivergence? {
        let threads = ReferenceModel.threads
        for (index, operation) in operations.enumerated() {
            let expected = model.apply(operation)
            if expected.answer == .skipped { continue }
            let actual = await system.perform(operation, expected: expected, model: model)
            if actual.answer != expected.answer {
                return FuzzDivergence(
                    step: index, operation: operation, what: "answer",
                    expected: "\(expected.answer)", actual: "\(actual.answer)")
            }
            if actual.completed != expected.completed {
                return FuzzDivergence(
                    step: index, operation: operation, what: "released writes (request: answer)",
                    expected: describe(expected.completed), actual: describe(actual.completed))
            }
            // Three of the five threads read `/fork` after each step, chosen by the operation itself
            // (so that shrinking, which removes other operations, keeps them): reads count as uses,
            // and this way they do not keep every thread equally fresh in the least-recently-used order.
            let rotation = operation.stableHash % threads.count
            let order = Array((threads[rotation...] + threads[..<rotation]).prefix(3))
            let seen = await system.observe(order: order)
            let predicted = model.observe(order: order)
            if seen != predicted {
                return FuzzDivergence(
                    step: index, operation: operation, what: "observation",
                    expected: predicted.description, actual: seen.description)
            }
        }
        return nil
    }

    private static func describe(_ completed: [Int: FuzzAnswer]) -> String {
        completed.isEmpty ? "none" : completed.sorted { $0.key < $1.key }.map { "#\($0.key): \($0.value)" }.joined(separator: ", ")
    }

    /// Delta debugging (ddmin): a smallest subsequence of `operations` that still diverges
    /// (each candidate waits at most a second for an answer the model says is due).
    static func shrink(
        _ operations: [FuzzOperation],
        configuration: ReferenceModel.Configuration,
        engine: ReferenceModel.Configuration? = nil,
        budget: Duration = .seconds(120)
    ) async -> [FuzzOperation] {
        let clock = ContinuousClock()
        let end = clock.now + budget
        var current = operations
        var granularity = 2
        while current.count >= 2, clock.now < end {
            let chunk = (current.count + granularity - 1) / granularity
            var reduced = false
            var start = 0
            while start < current.count, clock.now < end {
                var candidate = current
                candidate.removeSubrange(start..<min(current.count, start + chunk))
                if await run(candidate, configuration: configuration, engine: engine, deadline: .seconds(1)) != nil {
                    current = candidate
                    granularity = max(granularity - 1, 2)
                    reduced = true
                    break
                }
                start += chunk
            }
            if !reduced {
                if granularity >= current.count { break }
                granularity = min(current.count, granularity * 2)
            }
        }
        return current
    }
}
