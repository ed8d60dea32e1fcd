import Foundation
import SystemPackage

@testable import LibUKP

/// A small, fast, seedable generator (SplitMix64): the same seed gives the same run everywhere.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random operation sequences, biased by the model's state towards operations that do something.
struct FuzzGenerator {
    private var random: SplitMix64

    init(seed: UInt64) { random = SplitMix64(seed: seed) }

    /// A configuration for one run: small queues and thread limits, so that the edges are reached.
    mutating func configuration() -> ReferenceModel.Configuration {
        ReferenceModel.Configuration(
            queueDepth: [0, 1, 2, 3, 4, 32].randomElement(using: &random)!,
            retentionMilliseconds: [0, 1000, 5000].randomElement(using: &random)!,
            threadLimit: [1, 2, 3, 4096].randomElement(using: &random)!)
    }

    /// `count` operations, generated against the model (which the caller does not see change).
    mutating func operations(_ count: Int, configuration: ReferenceModel.Configuration) -> [FuzzOperation] {
        var model = ReferenceModel(configuration)
        var operations: [FuzzOperation] = []
        operations.reserveCapacity(count)
        for _ in 0..<count {
            let operation = next(model)
            _ = model.apply(operation)
            operations.append(operation)
        }
        return operations
    }

    private enum Kind: CaseIterable {
        case fork, answer, interruptFork, wait, interruptWait, status, exit
        case open, read, poll, write, close, advance, becameChild, lookup
    }

    mutating func next(_ model: ReferenceModel) -> FuzzOperation {
        let handles = model.handles.count
        let live = model.children.count
        let stopped = model.children.count { $0.status == .stopped }
        let weights: [(Kind, Int)] = [
            (.fork, 220),
            (.answer, model.running == nil ? 0 : 180),
            (.interruptFork, model.pendingForks.isEmpty ? 0 : 40),
            (.wait, 80),
            (.interruptWait, model.waits.isEmpty ? 0 : 30),
            (.status, 90),
            (.exit, 60 + (live > 4 ? 150 : 0)),
            (.open, 50),
            (.read, handles == 0 ? 0 : 60),
            (.poll, handles == 0 ? 0 : 40),
            (.write, handles == 0 ? 0 : 20),
            (.close, handles == 0 ? 0 : (handles > 8 ? 80 : 20)),
            (.advance, 50 + (stopped > 1 ? 80 : 0)),
            (.becameChild, 3),
            (.lookup, 10),
        ]
        var roll = Int.random(in: 0..<weights.reduce(0) { $0 + $1.1 }, using: &random)
        let kind = weights.first { kind, weight in
            defer { roll -= weight }
            return roll < weight
        }!.0
        switch kind {
        case .fork: return .fork(thread: thread(), bytes: forkBytes())
        case .answer: return .answer(answer())
        case .interruptFork: return .interruptFork(pick: pick())
        case .wait: return .wait(child: child(model), thread: thread())
        case .interruptWait: return .interruptWait(pick: pick())
        case .status:
            let state = [InstanceState.starting, .running, .draining, .stopping, .template, .stopped]
                .randomElement(using: &random)!
            return .status(child: child(model), state)
        case .exit: return .exit(child: child(model), code: exitCode())
        case .open:
            return .open(child: child(model), ChildFile.allCases.randomElement(using: &random)!, nonBlocking: Bool.random(using: &random))
        case .read: return .read(pick: pick(), offset: [0, 0, 0, 1, 3, 40].randomElement(using: &random)!)
        case .poll: return .poll(pick: pick())
        case .write: return .write(pick: pick())
        case .close: return .close(pick: pick())
        case .advance:
            let retention = model.configuration.retentionMilliseconds
            return .advance(milliseconds: [1, max(1, retention - 1), max(1, retention), 1000, 60_000].randomElement(using: &random)!)
        case .becameChild: return .becameChild
        case .lookup: return .lookup(FuzzName.allCases.randomElement(using: &random)!)
        }
    }

    private mutating func pick() -> Int { Int.random(in: 0..<64, using: &random) }

    private mutating func thread() -> Int32 { ReferenceModel.threads.randomElement(using: &random)! }

    private mutating func forkBytes() -> Int {
        switch Int.random(in: 0..<100, using: &random) {
        case 0..<4: 0
        case 4..<9: [4097, 8192].randomElement(using: &random)!
        case 9..<14: 4096
        default: [1, 2, 6].randomElement(using: &random)!
        }
    }

    private mutating func answer() -> ForkAnswer {
        switch Int.random(in: 0..<1000, using: &random) {
        case 0..<780: .parent
        case 780..<880: .signalFailed
        case 880..<985: .rejected([Errno.noMemory, .resourceTemporarilyUnavailable, .noSpace].randomElement(using: &random)!)
        default: .child
        }
    }

    private mutating func exitCode() -> Int32 {
        [0, 0, 1, 2, 42, 127, 255, -1].randomElement(using: &random)!
    }

    /// Mostly a live child; sometimes the child the running fork is about to create, a removed one, or one never created.
    private mutating func child(_ model: ReferenceModel) -> Int {
        let roll = Int.random(in: 0..<100, using: &random)
        if roll < 80, let child = model.children.randomElement(using: &random) { return child.ordinal }
        if roll < 92, model.running != nil { return model.nextOrdinal }
        if roll < 97, model.nextOrdinal > 0 { return Int.random(in: 0..<model.nextOrdinal, using: &random) }
        return model.nextOrdinal + Int.random(in: 0..<3, using: &random)
    }
}
