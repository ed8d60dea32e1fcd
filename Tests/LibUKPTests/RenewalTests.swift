import Foundation
import Logging
import Synchronization
import SystemPackage
import Testing

@testable import LibUKP

/// SPEC.md, "Becoming a child": reseed → clock → generation → hooks, then the fork returns.
@Suite(.timeLimit(.minutes(1))) struct RenewalTests {
    struct Setup {
        let system = RecordingSystem()
        let log = CapturedLog()
        let platform = ScriptedPlatform()
        let engine: ForkEngine
        let before: UUID

        init(reseed: Bool = true, stepClock: Bool = true, hooks: String? = "/hooks", renewal: PlatformRenewal? = childRenewal()) {
            engine = ForkEngine(
                platform: platform,
                renewer: .recording(system, log, reseed: reseed, stepClock: stepClock, hooks: hooks))
            before = engine.generation
            platform.renewal = renewal
            let engine = engine
            system.observe { engine.generation.lowercaseText }
        }

        /// Forks, and the platform answers "child".
        func forkAsChild() async throws -> UUID {
            let (task, signal) = await startedFork(engine, platform, thread: 1)
            signal.answer(.success(.child))
            return try await task.value
        }
    }

    @Test func aChildIsRenewedInSpecOrderBeforeItsForkReturns() async throws {
        let setup = Setup()
        #expect(try await setup.forkAsChild() == .zero)
        let old = setup.before.lowercaseText
        let new = setup.engine.generation.lowercaseText
        #expect(old != new)
        #expect(
            setup.system.steps == [
                .init(name: "addEntropy 32", probe: old),
                .init(name: "reseedCRNG", probe: old),
                .init(name: "setRealtime", probe: old),
                .init(name: "hooks", probe: new),
                .init(name: "hook 10-first \(new)", probe: new),
                .init(name: "hook 20-second \(new)", probe: new),
            ])
        #expect(setup.log.at(.error).isEmpty)
        #expect(setup.log.at(.info, "reseed: CRNG reseeded with 32 bytes from the platform").count == 1)
    }

    @Test func theForkWriteWaitsForTheHooks() async throws {
        let setup = Setup()
        setup.system.hold("20-second")
        let (task, signal) = await startedFork(setup.engine, setup.platform, thread: 1)
        let queued = try await queuedFork(setup.engine, thread: 2)  // the parent's: EIO, after the hooks
        signal.answer(.success(.child))
        try await until("the second hook runs") { setup.system.names.last?.hasPrefix("hook 20-second") == true }
        #expect(setup.engine.generation != setup.before, "the generation changed before the hooks")
        #expect(await stillBlocked(task))
        #expect(await stillBlocked(queued))
        setup.system.release("20-second")
        #expect(try await task.value == .zero)
        #expect(await errno(of: queued) == .ioError)
    }

    @Test func withoutPlatformEntropyTheCRNGReseedsAloneAndSaysSoAtNotice() async throws {
        let setup = Setup(renewal: nil)
        _ = try await setup.forkAsChild()
        #expect(setup.system.names.prefix(2) == ["reseedCRNG", "hooks"])
        #expect(setup.log.at(.notice, "no entropy from the platform: RNDRESEEDCRNG alone").count == 1)
        #expect(setup.log.at(.notice, "no clock from the platform").count == 1)
    }

    @Test func theClockIsSteppedToThePlatformsClockPlusTheTimeSinceItArrived() async throws {
        let received = ContinuousClock.now - .milliseconds(30)
        let setup = Setup(
            hooks: nil,
            renewal: PlatformRenewal(
                hostClock: HostClockReading(
                    realtime: 2_000_000_000_000_000_000, received: received, transit: .milliseconds(1))))
        _ = try await setup.forkAsChild()
        let elapsed = ContinuousClock.now - received
        let set = try #require(setup.system.setTimes.first)
        let ahead = Duration.nanoseconds(set - 2_000_000_000_000_000_000)
        #expect(ahead >= .milliseconds(31) && ahead <= elapsed + .milliseconds(1))
        #expect(setup.log.at(.info, "clock step: CLOCK_REALTIME stepped by").count == 1)
    }

    @Test(arguments: ["addEntropy", "reseedCRNG", "setRealtime", "hooks"])
    func aFailingStepIsLoggedAtErrorAndTheForkStillCompletes(_ step: String) async throws {
        let setup = Setup()
        setup.system.fail(step, with: .notPermitted)
        #expect(try await setup.forkAsChild() == .zero)
        let errors = setup.log.at(.error)
        #expect(errors.count == 1, "\(setup.log.all) \(setup.system.names)")
        let names = [
            "addEntropy": "RNDADDENTROPY", "reseedCRNG": "RNDRESEEDCRNG",
            "setRealtime": "clock_settime(CLOCK_REALTIME)", "hooks": "cannot list /hooks",
        ]
        #expect(errors.first?.contains(names[step]!) == true, "\(errors)")
        #expect(errors.first?.contains("EPERM") == true, "\(errors)")
        #expect(setup.engine.generation != setup.before)
        // The other steps still ran.
        #expect(setup.system.names.contains("reseedCRNG"))
        #expect(setup.system.names.contains("setRealtime"))
    }

    @Test func aHookThatFailsOrTimesOutIsLoggedAndTheOthersRun() async throws {
        let setup = Setup()
        setup.system.setHooks(["a", "b", "c"])
        setup.system.setResult(.exited(3), for: "a")
        setup.system.setResult(.timedOut(.seconds(5)), for: "b")
        #expect(try await setup.forkAsChild() == .zero)
        #expect(setup.system.names.filter { $0.hasPrefix("hook ") }.count == 3)
        #expect(setup.log.at(.error, "child hook /hooks/a failed: exited with status 3").count == 1)
        #expect(setup.log.at(.error, "child hook /hooks/b failed: timed out after 5 s: killed").count == 1)
        #expect(setup.log.at(.info, "child hook /hooks/c exited with status 0").count == 1)
    }

    @Test(arguments: [(false, true), (true, false), (false, false)])
    func theFlagsTurnStepsOff(_ reseed: Bool, _ stepClock: Bool) async throws {
        let setup = Setup(reseed: reseed, stepClock: stepClock, hooks: nil)
        _ = try await setup.forkAsChild()
        #expect(setup.system.names.contains("reseedCRNG") == reseed)
        #expect(setup.system.names.contains("addEntropy 32") == reseed)
        #expect(setup.system.names.contains("setRealtime") == stepClock)
        #expect(setup.engine.generation != setup.before, "the generation is renewed whatever the flags")
    }

    @Test func theParentStepsItsClockAndNothingElse() async throws {
        let setup = Setup(renewal: PlatformRenewal(hostClock: HostClockReading(realtime: 5_000_000_000)))
        let (task, signal) = await startedFork(setup.engine, setup.platform, thread: 1)
        let child = signal.succeed()
        #expect(try await task.value == child.id)
        #expect(setup.system.names == ["setRealtime"])
        #expect(setup.engine.generation == setup.before)
    }

    @Test func aParentWithoutAPlatformClockLeavesItsClock() async throws {
        let setup = Setup(renewal: nil)
        let (task, signal) = await startedFork(setup.engine, setup.platform, thread: 1)
        signal.succeed()
        _ = try await task.value
        #expect(setup.system.names.isEmpty)
    }

    @Test func becomingAChildWithNoForkInFlightRenewsToo() async throws {
        let setup = Setup()
        await setup.engine.becameChild(renewal: childRenewal())
        #expect(setup.system.names.first == "addEntropy 32")
        #expect(setup.system.names.last?.hasPrefix("hook 20-second") == true)
        #expect(setup.engine.generation != setup.before)
    }

    @Test func connectingTakesThePlatformsEntropyAndClock() async throws {
        let setup = Setup()
        setup.engine.platformRenewed(childRenewal())
        #expect(setup.system.names == ["addEntropy 32", "reseedCRNG", "setRealtime"])
        #expect(setup.engine.generation == setup.before)
        let off = Setup(reseed: false, stepClock: false)
        off.engine.platformRenewed(childRenewal())
        #expect(off.system.names.isEmpty)
    }

    @Test func theDefaultEngineRenewsNothingButTheGeneration() async throws {
        let platform = ScriptedPlatform()
        platform.renewal = childRenewal()
        let engine = ForkEngine(platform: platform)
        let before = engine.generation
        let (task, signal) = await startedFork(engine, platform, thread: 1)
        signal.answer(.success(.child))
        #expect(try await task.value == .zero)
        #expect(engine.generation != before)
        #expect(!engine.renewer.runsHooks)
    }
}

/// A scripted platform whose `hostClock()` waits until the test releases it.
final class SlowClockPlatform: Platform {
    let scripted = ScriptedPlatform()
    private let gate = Mutex<(waiting: CheckedContinuation<Void, Never>?, open: Bool, asked: Int)>((nil, false, 0))

    var asked: Int { gate.withLock { $0.asked } }

    func fork() async throws(ForkFailure) -> ForkOutcome { try await scripted.fork() }
    func forkWithRenewal() async throws(ForkFailure) -> ForkReply { try await scripted.forkWithRenewal() }
    func attach(_ events: any PlatformEvents) { scripted.attach(events) }

    func hostClock() async -> HostClockReading? {
        await withCheckedContinuation { continuation in
            let open = gate.withLock { gate -> Bool in
                gate.asked += 1
                if !gate.open { gate.waiting = continuation }
                return gate.open
            }
            if open { continuation.resume() }
        }
        return HostClockReading(realtime: 3_000_000_000_000_000_000)
    }

    func release() {
        let waiting = gate.withLock { gate in
            gate.open = true
            defer { gate.waiting = nil }
            return gate.waiting
        }
        waiting?.resume()
    }
}

@Suite(.timeLimit(.minutes(1))) struct RenewalClockTests {
    @Test func whileTheChildMeasuresTheClockItIsAlreadyAChildAndNewForksAreItsOwn() async throws {
        let system = RecordingSystem()
        let platform = SlowClockPlatform()
        platform.scripted.renewal = childRenewal()
        let engine = ForkEngine(platform: platform, renewer: .recording(system, CapturedLog(), hooks: nil))
        let before = engine.generation
        let (fork, signal) = await startedFork(engine, platform.scripted, thread: 1)
        let parents = try await queuedFork(engine, thread: 2)
        signal.answer(.success(.child))
        try await until("the clock is being measured") { platform.asked == 1 }
        #expect(engine.children.count == 0)
        #expect(engine.forkResult(thread: 2) == .zero, "the parent's results are gone")
        #expect(engine.generation == before, "the generation changes after the clock step")
        let childs = try await queuedFork(engine, thread: 3)  // the child's own: it waits its turn
        platform.release()
        #expect(try await fork.value == .zero)
        #expect(await errno(of: parents) == .ioError)
        #expect(engine.generation != before)
        #expect(system.setTimes.first.map { $0 >= 3_000_000_000_000_000_000 } == true, "the measured clock")
        await platform.scripted.nextSignal().answer(.success(.parent(ForkedChild(id: UUID(), snapshot: UUID(), creationTime: 1))))
        #expect(await errno(of: childs) == nil)
    }
}
