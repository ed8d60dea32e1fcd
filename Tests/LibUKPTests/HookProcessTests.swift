import Foundation
import Glibc
import SystemPackage
import Testing

@testable import LibUKP

/// The real system side: hooks listed and run as processes, the kernel CRNG ioctls.
@Suite(.timeLimit(.minutes(1))) struct HookProcessTests {
    let system = LinuxRenewalSystem()

    /// A temporary hook directory holding `scripts` (name → body; executable unless named `*.data`).
    func hookDirectory(_ scripts: [String: String]) throws -> String {
        let directory = NSTemporaryDirectory() + "ukp-hooks-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (name, body) in scripts {
            let path = directory + "/" + name
            try ("#!/bin/sh\n" + body + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, name.hasSuffix(".data") ? 0o644 : 0o755)
        }
        return directory
    }

    @Test func hooksAreTheExecutablesInNameOrder() throws {
        let directory = try hookDirectory(["20-b": "", "10-a": "", "9-c": "", ".hidden": "", "30.data": ""])
        try FileManager.default.createDirectory(atPath: directory + "/40-dir", withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(try system.hooks(in: directory) == ["10-a", "20-b", "9-c"].map { directory + "/" + $0 })
        #expect(throws: Errno.noSuchFileOrDirectory) { try system.hooks(in: directory + "/missing") }
    }

    @Test func aHookRunsWithTheEnvironmentAndItsStatusIsReported() async throws {
        let directory = try hookDirectory([
            "ok": "echo \"$UKP_GENERATION $UKP_MOUNTPOINT\" > \"$(dirname \"$0\")/out\"",
            "fails": "exit 3",
            "dies": "kill -9 $$",
        ])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let environment = ["UKP_GENERATION": "g-1", "UKP_MOUNTPOINT": "/m"]
        #expect(await system.runHook(directory + "/ok", environment: environment, timeout: .seconds(10)) == .exited(0))
        #expect(try String(contentsOfFile: directory + "/out", encoding: .utf8) == "g-1 /m\n")
        #expect(await system.runHook(directory + "/fails", environment: [:], timeout: .seconds(10)) == .exited(3))
        #expect(await system.runHook(directory + "/dies", environment: [:], timeout: .seconds(10)) == .signalled(9))
    }

    @Test func aHookPastItsTimeoutIsKilledWithItsProcessGroup() async throws {
        let directory = try hookDirectory([
            "slow": "sleep 300 & echo $! > \"$(dirname \"$0\")/pid\"; wait"
        ])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let start = ContinuousClock.now
        let result = await system.runHook(directory + "/slow", environment: [:], timeout: .milliseconds(300))
        #expect(result == .timedOut(.milliseconds(300)))
        // Far below the hook's own 300 s (the bound is loose: parallel suites can starve the pool).
        #expect(ContinuousClock.now - start < .seconds(40))
        let pid = try #require(
            Int32(
                try String(contentsOfFile: directory + "/pid", encoding: .utf8)
                    .trimmingCharacters(in: .whitespacesAndNewlines)))
        try await until("the hook's background process is gone", timeout: .seconds(10)) {
            let state = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
            return state == nil || state!.contains(") Z ")
        }
    }

    @Test func aHookThatCannotStartSaysWhy() async throws {
        let directory = try hookDirectory(["plain.data": "exit 0"])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(
            await system.runHook(directory + "/missing", environment: [:], timeout: .seconds(5))
                == .failedToStart(.noSuchFileOrDirectory))
        let notExecutable = await system.runHook(directory + "/plain.data", environment: [:], timeout: .seconds(5))
        guard case .failedToStart = notExecutable else {
            Issue.record("a file without execute permission started: \(notExecutable)")
            return
        }
    }

    @Test func anImpossibleClockIsRefusedBeforeTheSystemCall() {
        #expect(throws: Errno.invalidArgument) { try system.setRealtime(-1) }
        #expect(abs(system.realtime() - Int64(Date().timeIntervalSince1970 * 1e9)) < 1_000_000_000)
    }

    @Test(.enabled(if: getuid() == 0 && access("/dev/urandom", R_OK) == 0, "needs root for RNDADDENTROPY"))
    func theKernelCRNGTakesEntropyAndReseeds() throws {
        try system.addEntropy(Array((0..<32).map { _ in UInt8.random(in: 0...255) }))
        try system.reseedCRNG()
    }

    @Test func withoutPrivilegeTheIoctlsFailWithTheirErrno() throws {
        // A random device that is not one: the ioctl's own errno comes back.
        let fake = LinuxRenewalSystem(randomDevice: "/dev/null")
        #expect(throws: Errno.inappropriateIOCTLForDevice) { try fake.reseedCRNG() }
        #expect(throws: Errno.noSuchFileOrDirectory) {
            try LinuxRenewalSystem(randomDevice: "/nonexistent").addEntropy([1])
        }
    }
}
