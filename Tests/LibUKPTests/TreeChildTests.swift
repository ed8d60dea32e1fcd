import Foundation
import SystemPackage
import Testing
import VFSKit

@testable import LibUKP

/// SPEC.md, `/vm/` and a child's files, through the in-process driver.
@Suite struct TreeChildTests {
    /// The sim on a manual clock, the root's tree, and the control tree.
    struct Sim {
        let scheduler = ManualScheduler()
        let sim: SimPlatform
        let app: App
        let control: App

        init(retention: Duration = .seconds(60), bootLatency: Duration = .zero) throws {
            sim = SimPlatform(
                engineConfiguration: .init(stoppedRetention: retention), bootLatency: bootLatency, scheduler: scheduler)
            app = try App(sim.root.engine.tree)
            control = try App(sim.controlTree)
        }

        /// Forks once from `thread` and returns the new child's UUID.
        func fork(thread: Int32 = 1) async throws -> UUID {
            #expect(await app.write("/fork", thread: thread) == .success(2))
            return try #require(UUID(uuidString: String(try await app.text("/fork", thread: thread).dropLast())))
        }

        /// The child exits with `code`, written to the control tree as a person would.
        func exit(_ child: UUID, code: Int32) async throws {
            #expect(try await control.driver.writeText("/instances/\(child.name)/exit", "\(code)\n") == String(code).count + 1)
        }

        func move(_ child: UUID, to state: InstanceState) async throws {
            _ = try await control.driver.writeText("/instances/\(child.name)/status", state.rawValue + "\n")
        }
    }

    // MARK: Listing and lookup

    @Test func vmListsLiveChildrenInCreationOrder() async throws {
        let sim = try Sim(retention: .seconds(5))
        var ids: [UUID] = []
        for thread: Int32 in [3, 1, 2, 1, 5] { ids.append(try await sim.fork(thread: thread)) }
        #expect(sim.app.list("/vm") == .success(ids.map(\.name)))
        #expect(sim.app.list("/") == .success(["fork", "generation", "vm"]))
        try await sim.exit(ids[1], code: 0)
        try await sim.exit(ids[3], code: 0)
        #expect(sim.app.list("/vm") == .success(ids.map(\.name)))  // retained while stopped
        sim.scheduler.advance(by: .seconds(5))
        #expect(sim.app.list("/vm") == .success([ids[0], ids[2], ids[4]].map(\.name)))
        ids.append(try await sim.fork())
        #expect(sim.app.list("/vm") == .success([ids[0], ids[2], ids[4], ids[5]].map(\.name)))
        #expect(sim.app.list(ids[0].name) == .failure(.noSuchFileOrDirectory))
        #expect(sim.app.list("/vm/\(ids[0].name)") == .success(["snapshot", "creation_time", "status", "wait"]))
    }

    /// An exit through the control tree declares the instance's directory, not its
    /// `libukp/`: the instance's engine is not made for it (see `SimInstance.engine`).
    @Test func anExitThroughTheControlTreeMakesNoEngine() async throws {
        let sim = try Sim()
        let child = try await sim.fork()
        try await sim.exit(child, code: 3)
        let instance = try #require(sim.sim.instances[child])
        #expect(instance.exitCode == 3)
        #expect(instance.engineIfMade == nil)
        #expect(sim.control.list("/instances/\(child.name)/libukp") == .success(["fork", "generation", "vm"]))
        #expect(instance.engineIfMade != nil, "made when its tree is looked into")
    }

    @Test func tenThousandLiveChildrenAreListedAndLookedUp() async throws {
        let sim = try Sim()
        let fork = try sim.app.driver.open("/fork", flags: OpenFlags.readWrite, as: .thread(1))
        defer { sim.app.driver.close(fork) }
        var created: [String] = []
        created.reserveCapacity(10_000)
        for _ in 0..<10_000 {
            _ = try await sim.app.driver.write(fork, [UInt8(ascii: "1")])
            created.append(String(decoding: try await sim.app.driver.read(fork).dropLast(), as: UTF8.self))
        }
        #expect(Set(created).count == 10_000)
        #expect(try sim.app.list("/vm").get() == created)
        #expect(try sim.app.driver.list("/vm", batch: 7) == created)
        for name in created.shuffled().prefix(500) {
            #expect(try await sim.app.text("/vm/\(name)/status") == "Running\n")
        }
        #expect(try await sim.app.text("/vm/\(created[9_999])/wait") == "")
    }

    /// Names that are not a live child, each `ENOENT`.
    static let notChildren: [String] = [
        "not-a-uuid", "", "00000000-0000-0000-0000-000000000000", UUID().uuidString.lowercased(),
        "0000000-0000-0000-0000-000000000000", "{00000000-0000-0000-0000-000000000000}",
        String(repeating: "a", count: 10_000), "..x", "fork", "vm",
    ]

    @Test(arguments: notChildren)
    func lookingUpANameThatIsNotALiveChildIsENOENT(name: String) async throws {
        let sim = try Sim()
        _ = try await sim.fork()
        guard !name.isEmpty else { return }  // an empty component is no lookup at all
        #expect(sim.app.lookup("/vm/\(name)").map(\.ino) == .failure(.noSuchFileOrDirectory))
        #expect(sim.app.lookup("/vm/\(name)/status").map(\.ino) == .failure(.noSuchFileOrDirectory))
    }

    @Test func aNonCanonicalSpellingOfALiveChildIsENOENT() async throws {
        let sim = try Sim()
        let child = try await sim.fork()
        #expect(throws: Never.self) { try sim.app.driver.stat("/vm/\(child.name)") }
        #expect(sim.app.lookup("/vm/\(child.uuidString.uppercased())").map(\.ino) == .failure(.noSuchFileOrDirectory))
        #expect(sim.app.lookup("/vm/\(child.name)/nothing").map(\.ino) == .failure(.noSuchFileOrDirectory))
        #expect(sim.app.lookup("/nothing").map(\.ino) == .failure(.noSuchFileOrDirectory))
    }

    @Test func modesAndSizesAreTheTreeTables() async throws {
        let sim = try Sim()
        let child = try await sim.fork()
        let expected: [(String, UInt16, Bool)] = [
            ("/", 0o555, true), ("/fork", 0o666, false), ("/vm", 0o555, true), ("/vm/\(child.name)", 0o555, true),
            ("/vm/\(child.name)/snapshot", 0o444, false), ("/vm/\(child.name)/creation_time", 0o444, false),
            ("/vm/\(child.name)/status", 0o444, false), ("/vm/\(child.name)/wait", 0o666, false),
        ]
        for (path, permissions, isDirectory) in expected {
            let attributes = try sim.app.driver.stat(path)
            #expect(attributes.permissions == permissions, "\(path)")
            #expect(attributes.isDirectory == isDirectory, "\(path)")
            if !isDirectory { #expect(attributes.size == 4096, "\(path)") }
        }
    }

    // MARK: snapshot, creation_time

    @Test func snapshotAndCreationTimeAreFixedAtCreation() async throws {
        let sim = try Sim()
        let before = Int64(Date().timeIntervalSince1970)
        let child = try await sim.fork()
        let after = Int64(Date().timeIntervalSince1970)
        let snapshot = try await sim.app.text("/vm/\(child.name)/snapshot")
        let created = try await sim.app.text("/vm/\(child.name)/creation_time")
        #expect(snapshot.wholeMatch(of: /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\n/) != nil)
        #expect(snapshot != child.line && snapshot != UUID.zero.line)
        #expect(created.wholeMatch(of: /[0-9]+\n/) != nil)
        #expect((before...after).contains(try #require(Int64(created.dropLast()))))
        try await sim.move(child, to: .template)
        try await sim.exit(child, code: 1)
        #expect(try await sim.app.text("/vm/\(child.name)/snapshot") == snapshot)
        #expect(try await sim.app.text("/vm/\(child.name)/creation_time") == created)
    }

    @Test func snapshotAndCreationTimeAreWhatThePlatformReported() async throws {
        let scripted = try TreeForkTests.Scripted()
        let (task, signal) = await scripted.started(thread: 1)
        let forked = signal.succeed(creationTime: 1_234_567_890)
        _ = try await task.value
        #expect(try await scripted.app.text("/vm/\(forked.id.name)/snapshot") == forked.snapshot.line)
        #expect(try await scripted.app.text("/vm/\(forked.id.name)/creation_time") == "1234567890\n")
    }

    // MARK: status

    @Test func statusShowsEveryStateByName() async throws {
        let sim = try Sim(bootLatency: .seconds(1))
        let child = try await sim.fork()
        let path = "/vm/\(child.name)/status"
        #expect(try await sim.app.text(path) == "Starting\n")
        sim.scheduler.advance(by: .seconds(1))
        #expect(try await sim.app.text(path) == "Running\n")
        for state in [InstanceState.draining, .stopping, .template, .running] {
            try await sim.move(child, to: state)
            #expect(try await sim.app.text(path) == state.rawValue + "\n")
        }
        try await sim.exit(child, code: 3)
        #expect(try await sim.app.text(path) == "Stopped\n")
    }

    @Test func statusPollIsReadyOnChangeUntilReReadFromOffsetZero() async throws {
        let sim = try Sim(bootLatency: .seconds(1))
        let child = try await sim.fork()
        let handle = try sim.app.driver.open("/vm/\(child.name)/status", as: .thread(1))
        defer { sim.app.driver.close(handle) }
        #expect(sim.app.poll(handle) == .success([]))
        #expect(await sim.app.read(handle) == .success("Starting\n"))
        #expect(sim.app.poll(handle) == .success([]))
        sim.scheduler.advance(by: .seconds(1))
        #expect(sim.app.poll(handle) == .success([.in, .pri]))
        #expect(await sim.app.read(handle, offset: 3) == .success("rting\n"))  // a continuation does not re-arm
        #expect(sim.app.poll(handle) == .success([.in, .pri]))
        #expect(await sim.app.read(handle) == .success("Running\n"))
        #expect(sim.app.poll(handle) == .success([]))
        // Two changes before a re-read wake once; the re-read shows the latest.
        try await sim.move(child, to: .draining)
        try await sim.move(child, to: .template)
        #expect(sim.app.poll(handle) == .success([.in, .pri]))
        #expect(await sim.app.read(handle) == .success("Template\n"))
        #expect(sim.app.poll(handle) == .success([]))
        // A blocked poll wakes on the next change.
        let woke = Task { try await sim.app.driver.waitUntilReady(handle) }
        #expect(await stillBlocked(woke))
        try await sim.exit(child, code: 0)
        #expect(try await woke.value == [.in, .pri])
    }

    /// "on every state change" (the tree table): a change and back still wakes the poller,
    /// which re-reads and sees the state it had (sysfs event counters, not value comparison).
    @Test func aChangeAndBackStillWakesThePoller() async throws {
        let sim = try Sim()
        let child = try await sim.fork()
        let handle = try sim.app.driver.open("/vm/\(child.name)/status", as: .thread(1))
        defer { sim.app.driver.close(handle) }
        #expect(await sim.app.read(handle) == .success("Running\n"))
        try await sim.move(child, to: .draining)
        try await sim.move(child, to: .running)
        #expect(sim.app.poll(handle) == .success([.in, .pri]))
        #expect(await sim.app.read(handle) == .success("Running\n"))
        #expect(sim.app.poll(handle) == .success([]))
    }

    @Test func aFreshOpenIsNotReadyUntilTheNextChange() async throws {
        let sim = try Sim()
        let child = try await sim.fork()
        try await sim.move(child, to: .draining)
        let handle = try sim.app.driver.open("/vm/\(child.name)/status", as: .thread(1))
        defer { sim.app.driver.close(handle) }
        #expect(sim.app.poll(handle) == .success([]))
        try await sim.move(child, to: .running)
        #expect(sim.app.poll(handle) == .success([.in, .pri]))
    }

    // MARK: wait

    @Test func aWaitWriteBlocksUntilTheChildStopsAndTheReadGivesTheExitCode() async throws {
        let sim = try Sim()
        let child = try await sim.fork()
        let path = "/vm/\(child.name)/wait"
        #expect(await sim.app.read(path) == .success(""))
        #expect(await sim.app.read(path, flags: OpenFlags.nonBlocking) == .failure(.resourceTemporarilyUnavailable))
        let waiter = sim.app.startWrite(path, bytes: 5, thread: 9)
        #expect(await stillBlocked(waiter))
        try await sim.exit(child, code: 42)
        #expect(try await waiter.value == 5)
        #expect(try await sim.app.text(path) == "42\n")
        #expect(await sim.app.read(path, flags: OpenFlags.nonBlocking) == .success("42\n"))
        // Already stopped: the write returns at once.
        #expect(await sim.app.write(path, bytes: 3) == .success(3))
        #expect(sim.app.driver.leftovers.isEmpty, "\(sim.app.driver.leftovers)")
    }

    @Test func anOversizeWaitWriteIsEINVALAndDoesNotBlock() async throws {
        let sim = try Sim()
        let child = try await sim.fork()
        #expect(await sim.app.write("/vm/\(child.name)/wait", bytes: 4097) == .failure(.invalidArgument))
        #expect(await sim.app.write("/vm/\(child.name)/wait", bytes: 0) == .success(0))
        #expect(try await sim.app.text("/vm/\(child.name)/status") == "Running\n")
    }

    @Test(arguments: [Int32(0), 1, 42, 255, -1, Int32.max])
    func theExitCodeIsDecimal(code: Int32) async throws {
        let sim = try Sim()
        let child = try await sim.fork()
        try await sim.exit(child, code: code)
        #expect(try await sim.app.text("/vm/\(child.name)/wait") == "\(code)\n")
    }

    @Test func manyWaitersAreAllReleasedAndAnInterruptedOneIsEINTR() async throws {
        let sim = try Sim()
        let child = try await sim.fork()
        let path = "/vm/\(child.name)/wait"
        let waiters = (0..<200).map { sim.app.startWrite(path, thread: Int32(100 + $0)) }
        let engineChild = try #require(sim.sim.root.engine.children[child])
        try await until("200 waiters") { engineChild.waiterCount == 200 }
        for waiter in waiters[..<20] { waiter.cancel() }
        for waiter in waiters[..<20] { #expect(await errno(of: waiter) == .interrupted) }
        #expect(engineChild.waiterCount == 180)
        #expect(try await sim.app.text("/vm/\(child.name)/status") == "Running\n")  // nothing else changed
        try await sim.exit(child, code: 7)
        for waiter in waiters[20...] { #expect(try await waiter.value == 2) }
        #expect(sim.app.driver.leftovers.isEmpty, "\(sim.app.driver.leftovers)")
        #expect(sim.control.driver.leftovers.isEmpty, "\(sim.control.driver.leftovers)")
    }

    @Test func waitPollIsReadableOnceTheExitCodeExists() async throws {
        let sim = try Sim()
        let child = try await sim.fork()
        let handle = try sim.app.driver.open("/vm/\(child.name)/wait", as: .thread(1))
        defer { sim.app.driver.close(handle) }
        #expect(sim.app.poll(handle) == .success([]))
        let woke = Task { try await sim.app.driver.waitUntilReady(handle) }
        try await sim.move(child, to: .template)
        #expect(await stillBlocked(woke))
        #expect(sim.app.poll(handle) == .success([]))
        try await sim.exit(child, code: 4)
        #expect(try await woke.value == [.in])
        #expect(sim.app.poll(handle) == .success([.in]))  // and stays readable
        #expect(await sim.app.read(handle) == .success("4\n"))
        #expect(sim.app.poll(handle) == .success([.in]))
    }

    @Test func aTemplateHasNotStopped() async throws {
        let sim = try Sim()
        let child = try await sim.fork()
        let path = "/vm/\(child.name)/wait"
        let waiter = sim.app.startWrite(path)
        try await sim.move(child, to: .template)
        #expect(try await sim.app.text("/vm/\(child.name)/status") == "Template\n")
        #expect(await stillBlocked(waiter))
        #expect(await sim.app.read(path) == .success(""))
        try await sim.exit(child, code: 0)
        #expect(try await waiter.value == 2)
    }

    @Test func aStopWithoutAnExitCodeReleasesWaitersAndTheCodeMayFollow() async throws {
        let scripted = try TreeForkTests.Scripted()
        let (task, signal) = await scripted.started(thread: 1)
        let child = signal.succeed().id
        _ = try await task.value
        let path = "/vm/\(child.name)/wait"
        let waiter = scripted.app.startWrite(path)
        scripted.engine.childStatusChanged(child, to: .stopped)
        #expect(try await waiter.value == 2)
        #expect(await scripted.app.read(path) == .success(""))
        scripted.engine.childExited(child, code: 6)
        #expect(await scripted.app.read(path) == .success("6\n"))
        scripted.engine.childExited(child, code: 7)  // a second exit changes nothing
        #expect(await scripted.app.read(path) == .success("6\n"))
    }
}
