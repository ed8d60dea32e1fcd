import Foundation
import SystemPackage
import Testing
import VFSKit

@testable import LibUKP

/// SPEC.md, cleanup, stale handles, becoming a child, access and nested forks, through the in-process driver.
@Suite struct TreeLifecycleTests {
    typealias Sim = TreeChildTests.Sim

    /// Handles an app keeps open under one child's directory.
    struct ChildHandles {
        let status: InProcessDriver.Handle
        let wait: InProcessDriver.Handle
        let snapshot: InProcessDriver.Handle

        init(_ app: App, _ child: UUID) throws {
            status = try app.driver.open("/vm/\(child.name)/status", as: .thread(1))
            wait = try app.driver.open("/vm/\(child.name)/wait", flags: OpenFlags.readWrite, as: .thread(1))
            snapshot = try app.driver.open("/vm/\(child.name)/snapshot", as: .thread(1))
        }
    }

    // MARK: Retention and ESTALE

    @Test(arguments: [Duration.seconds(60), .seconds(1)])
    func aStoppedChildStaysForTheRetentionPeriodThenIsENOENTAndOldHandlesESTALE(retention: Duration) async throws {
        let sim = try Sim(retention: retention)
        let child = try await sim.fork()
        let directory = try sim.app.driver.stat("/vm/\(child.name)")
        let handles = try ChildHandles(sim.app, child)
        try await sim.exit(child, code: 5)
        sim.scheduler.advance(by: retention - .milliseconds(1))
        #expect(try await sim.app.text("/vm/\(child.name)/status") == "Stopped\n")
        #expect(try await sim.app.text("/vm/\(child.name)/wait") == "5\n")
        #expect(await sim.app.read(handles.wait) == .success("5\n"))
        sim.scheduler.advance(by: .milliseconds(1))
        #expect(sim.app.list("/vm") == .success([]))
        #expect(sim.app.lookup("/vm/\(child.name)").map(\.ino) == .failure(.noSuchFileOrDirectory))
        #expect(sim.app.lookup("/vm/\(child.name)/wait").map(\.ino) == .failure(.noSuchFileOrDirectory))
        for handle in [handles.status, handles.wait, handles.snapshot] {
            #expect(await sim.app.read(handle) == .failure(.staleNFSFileHandle))
            #expect(sim.app.poll(handle) == .failure(.staleNFSFileHandle))
        }
        #expect(await sim.app.write(handles.wait) == .failure(.staleNFSFileHandle))
        #expect(throws: Errno.staleNFSFileHandle) { try sim.app.driver.dispatcher.getattr(directory.ino) }
        #expect(throws: Errno.staleNFSFileHandle) { try sim.app.driver.dispatcher.readdir(directory.ino, after: 0, limit: 10) }
    }

    /// A poller blocked on a child's file when the child goes away (retention or becoming a
    /// child) wakes, and its next poll answers `ESTALE` (sysfs wakes pollers of a removed attribute).
    @Test(arguments: [BecomeChild?.none, .outOfBand])
    func aBlockedPollerWakesWhenTheChildGoesAway(_ how: BecomeChild?) async throws {
        let sim = try Sim(retention: .seconds(1))
        let child = try await sim.fork()
        try await sim.exit(child, code: 0)
        let status = try sim.app.driver.open("/vm/\(child.name)/status", as: .thread(1))
        let wait = try sim.app.driver.open("/vm/\(child.name)/wait", as: .thread(1))
        #expect(await sim.app.read(status) == .success("Stopped\n"))
        let pollers = [status, wait].map { handle in
            Task { () async -> Result<PollEvents, Errno> in
                do throws(Errno) {
                    return .success(try await sim.app.driver.waitUntilReady(handle, for: [.pri]))
                } catch {
                    return .failure(error)
                }
            }
        }
        for poller in pollers { #expect(await stillBlocked(poller)) }
        switch how {
        case nil: sim.scheduler.advance(by: .seconds(1))
        case .outOfBand?: await sim.sim.root.engine.becameChild()
        case .throughTheForkAnswer?: break
        }
        for poller in pollers {
            try await until("the poller wakes") { await finished(poller) }
            switch await poller.value {
            case .failure(let errno): #expect(errno == .staleNFSFileHandle)
            case .success(let events): #expect(events.contains(.err))
            }
        }
        #expect(sim.app.poll(status) == .failure(.staleNFSFileHandle))
        #expect(sim.app.poll(wait) == .failure(.staleNFSFileHandle))
    }

    @Test func zeroRetentionRemovesTheChildWhenItStops() async throws {
        let sim = try Sim(retention: .zero)
        let child = try await sim.fork()
        let waiter = sim.app.startWrite("/vm/\(child.name)/wait")
        try await sim.exit(child, code: 0)
        #expect(try await waiter.value == 2)
        #expect(sim.app.list("/vm") == .success([]))
    }

    @Test func otherChildrenKeepTheirHandles() async throws {
        let sim = try Sim(retention: .seconds(1))
        let gone = try await sim.fork()
        let kept = try await sim.fork()
        let handles = try ChildHandles(sim.app, kept)
        try await sim.exit(gone, code: 0)
        sim.scheduler.advance(by: .seconds(1))
        #expect(await sim.app.read(handles.status) == .success("Running\n"))
        #expect(await sim.app.read(handles.wait) == .success(""))
        #expect(sim.app.list("/vm") == .success([kept.name]))
    }

    // MARK: Becoming a child

    /// What becomes of each pending request and handle when the instance becomes the child of a fork.
    enum BecomeChild: String, CaseIterable {
        /// The platform says so out of band (`becameChild()`); the fork in flight was the parent's.
        case outOfBand
        /// The fork in flight is answered on the child's side.
        case throughTheForkAnswer
    }

    @Test(arguments: BecomeChild.allCases)
    func becomingAChildFailsPendingRequestsAndEmptiesVM(_ how: BecomeChild) async throws {
        let scripted = try TreeForkTests.Scripted()
        let app = scripted.app
        let (first, firstSignal) = await scripted.started(thread: 1)
        let parentsChild = firstSignal.succeed().id
        _ = try await first.value
        let handles = try ChildHandles(app, parentsChild)
        let vmHandle = try app.driver.stat("/vm/\(parentsChild.name)")
        let waiters = (0..<3).map { app.startWrite("/vm/\(parentsChild.name)/wait", thread: Int32(20 + $0)) }
        let (running, signal) = await scripted.started(thread: 2)
        let queued = [try await scripted.queued(thread: 3), try await scripted.queued(thread: 4)]

        switch how {
        case .outOfBand:
            await scripted.engine.becameChild()
        case .throughTheForkAnswer:
            signal.answer(.success(.child))
            #expect(try await running.value == 2)  // the child's side of the fork completes too
        }
        for task in queued { #expect(await errno(of: task) == .ioError) }
        for waiter in waiters { #expect(await errno(of: waiter) == .ioError) }
        #expect(await scripted.engine.queuedForks == 0)
        #expect(app.list("/vm") == .success([]))
        #expect(app.lookup("/vm/\(parentsChild.name)").map(\.ino) == .failure(.noSuchFileOrDirectory))
        for handle in [handles.status, handles.wait, handles.snapshot] {
            #expect(await app.read(handle) == .failure(.staleNFSFileHandle))
            #expect(app.poll(handle) == .failure(.staleNFSFileHandle))
        }
        #expect(await app.write(handles.wait) == .failure(.staleNFSFileHandle))
        #expect(throws: Errno.staleNFSFileHandle) { try app.driver.dispatcher.getattr(vmHandle.ino) }
        for thread: Int32 in [1, 2, 3, 4, 99] { #expect(try await app.text("/fork", thread: thread) == UUID.zero.line) }

        if how == .outOfBand {
            // The fork in flight was the parent's: its child does not belong here.
            signal.succeed()
            #expect(await errno(of: running) == .ioError)
            #expect(app.list("/vm") == .success([]))
            #expect(try await app.text("/fork", thread: 2) == UUID.zero.line)
        }
        // The child forks on its own: its children appear in its /vm/.
        let (next, nextSignal) = await scripted.started(thread: 3)
        let grandchild = nextSignal.succeed()
        #expect(try await next.value == 2)
        #expect(app.list("/vm") == .success([grandchild.id.name]))
        #expect(try await app.text("/fork", thread: 3) == grandchild.id.line)
        #expect(try await app.text("/fork", thread: 1) == grandchild.id.line)
    }

    @Test func becomingAChildOfTheSimRoot() async throws {
        let sim = try Sim()
        let child = try await sim.fork(thread: 1)
        let handles = try ChildHandles(sim.app, child)
        let waiter = sim.app.startWrite("/vm/\(child.name)/wait")
        await sim.sim.root.engine.becameChild()
        #expect(await errno(of: waiter) == .ioError)
        await handles.expectStaleReads(sim.app)
        #expect(sim.app.list("/vm") == .success([]))
        #expect(try await sim.app.text("/fork", thread: 1) == UUID.zero.line)
        #expect(try await sim.app.text("/fork", thread: 2) == UUID.zero.line)
    }

    // MARK: Access

    /// Opening each read-only file for writing, as root: the daemon refuses with `EACCES`.
    @Test(
        arguments: ["snapshot", "creation_time", "status"],
        [OpenFlags.writeOnly, OpenFlags.readWrite, OpenFlags.writeOnly | OpenFlags.truncate])
    func readOnlyFilesRefuseWriters(file: String, flags: Int32) async throws {
        let sim = try Sim()
        let child = try await sim.fork()
        #expect(throws: Errno.permissionDenied) { try sim.app.driver.open("/vm/\(child.name)/\(file)", flags: flags, as: .thread(1)) }
        let user = Caller(uid: 1000, gid: 1000, threadID: 1)
        #expect(throws: Errno.permissionDenied) { try sim.app.driver.open("/vm/\(child.name)/\(file)", flags: flags, as: user) }
        #expect(throws: Never.self) { sim.app.driver.close(try sim.app.driver.open("/vm/\(child.name)/\(file)", as: user)) }
    }

    @Test func anotherUserMayForkAndWait() async throws {
        let sim = try Sim()
        let user = Caller(uid: 1000, gid: 1000, threadID: 3)
        let fork = try sim.app.driver.open("/fork", flags: OpenFlags.writeOnly, as: user)
        #expect(try await sim.app.driver.write(fork, [UInt8(ascii: "1")]) == 1)
        sim.app.driver.close(fork)
        let child = try #require(sim.app.list("/vm").get().first)
        let wait = try sim.app.driver.open("/vm/\(child)/wait", flags: OpenFlags.readWrite, as: user)
        sim.app.driver.close(wait)
    }

    @Test func writingAHandleOpenedReadOnlyIsEBADF() async throws {
        let sim = try Sim()
        let child = try await sim.fork()
        for path in ["/fork", "/vm/\(child.name)/wait", "/vm/\(child.name)/status"] {
            let handle = try sim.app.driver.open(path, as: .thread(1))
            #expect(await sim.app.write(handle) == .failure(.badFileDescriptor), "\(path)")
            sim.app.driver.close(handle)
        }
        #expect(sim.app.list("/vm").map(\.count) == .success(1))
    }

    @Test func truncatingToANonZeroSizeAndChangingTheNamespaceAreEPERM() async throws {
        let sim = try Sim()
        let child = try await sim.fork()
        let dispatcher = sim.app.driver.dispatcher
        for path in ["/", "/fork", "/vm", "/vm/\(child.name)", "/vm/\(child.name)/wait", "/vm/\(child.name)/status"] {
            let ino = try sim.app.driver.stat(path).ino
            #expect(throws: Errno.notPermitted, "\(path)") { try dispatcher.setattr(ino, size: 1, otherChanges: false) }
            #expect(throws: Errno.notPermitted, "\(path)") { try dispatcher.setattr(ino, size: nil, otherChanges: true) }
        }
        for path in ["/vm/\(child.name)/snapshot", "/vm/\(child.name)/status", "/"] {
            let ino = try sim.app.driver.stat(path).ino
            #expect(throws: Errno.notPermitted, "\(path)") { try dispatcher.setattr(ino, size: 0, otherChanges: false) }
        }
        for path in ["/fork", "/vm/\(child.name)/wait"] {
            let ino = try sim.app.driver.stat(path).ino
            #expect(throws: Never.self, "\(path)") { try dispatcher.setattr(ino, size: 0, otherChanges: false) }
        }
        let vm = try sim.app.driver.stat("/vm").ino
        #expect(dispatcher.refuse(.create(in: vm, name: "x")) == .notPermitted)
        #expect(dispatcher.refuse(.remove(from: vm, name: child.name)) == .notPermitted)
        #expect(throws: Errno.isDirectory) { try sim.app.driver.open("/vm", as: .thread(1)) }
        #expect(sim.app.list("/vm") == .success([child.name]))
    }

    // MARK: Nested forks through the control tree

    @Test func nestedForksThroughTheControlTree() async throws {
        let sim = try Sim()
        let control = sim.control
        let child = try await sim.fork(thread: 1)
        let childTree = "/instances/\(child.name)/libukp"
        #expect(try await control.text("\(childTree)/fork", thread: 1) == UUID.zero.line)
        #expect(control.list("\(childTree)/vm") == .success([]))

        #expect(await control.write("\(childTree)/fork", thread: 8) == .success(2))
        let grandchildren = try control.list("\(childTree)/vm").get()
        #expect(grandchildren.count == 1)
        let grandchild = try #require(UUID(uuidString: grandchildren[0]))
        #expect(try await control.text("\(childTree)/fork", thread: 8) == grandchild.line)
        #expect(try await control.text("\(childTree)/fork", thread: 1) == grandchild.line)
        // The grandchild is the child's, not the root's.
        #expect(sim.app.list("/vm") == .success([child.name]))
        #expect(control.list("/instances") == .success([sim.sim.rootID, child, grandchild].map(\.name)))
        #expect(try await control.text("/instances/\(sim.sim.rootID.name)/libukp/fork", thread: 1) == child.line)

        // A grandchild's exit is seen (and waited for) in the child's tree only.
        let waiter = control.startWrite("\(childTree)/vm/\(grandchild.name)/wait", thread: 8)
        #expect(await stillBlocked(waiter))
        try await sim.exit(grandchild, code: 12)
        #expect(try await waiter.value == 2)
        #expect(try await control.text("\(childTree)/vm/\(grandchild.name)/wait") == "12\n")
        #expect(try await control.text("\(childTree)/vm/\(grandchild.name)/status") == "Stopped\n")
        #expect(try await sim.app.text("/vm/\(child.name)/status") == "Running\n")

        #expect(await control.read("/instances/\(grandchild.name)/libukp/fork") == .success(UUID.zero.line))
    }

    @Test func threeLevelsOfForks() async throws {
        let sim = try Sim()
        var parentTree = "/instances/\(sim.sim.rootID.name)/libukp"
        var lineage: [UUID] = []
        for _ in 0..<4 {
            #expect(await sim.control.write("\(parentTree)/fork", thread: 1) == .success(2))
            let children = try sim.control.list("\(parentTree)/vm").get()
            #expect(children.count == 1)
            let child = try #require(UUID(uuidString: children[0]))
            lineage.append(child)
            #expect(try await sim.control.text("\(parentTree)/fork", thread: 1) == child.line)
            parentTree = "/instances/\(child.name)/libukp"
            #expect(try await sim.control.text("\(parentTree)/fork", thread: 1) == UUID.zero.line)
        }
        #expect(sim.sim.instances.count == 5)
        #expect(sim.control.list("/instances") == .success(([sim.sim.rootID] + lineage).map(\.name)))
    }
}

extension TreeLifecycleTests.ChildHandles {
    /// Reads and polls of every handle fail with `ESTALE`.
    func expectStaleReads(_ app: App, sourceLocation: SourceLocation = #_sourceLocation) async {
        for handle in [status, wait, snapshot] {
            #expect(await app.read(handle) == .failure(.staleNFSFileHandle), sourceLocation: sourceLocation)
            #expect(app.poll(handle) == .failure(.staleNFSFileHandle), sourceLocation: sourceLocation)
        }
        #expect(await app.write(wait) == .failure(.staleNFSFileHandle), sourceLocation: sourceLocation)
    }
}
