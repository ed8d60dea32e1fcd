import Glibc
import JobQueueFS
import SystemPackage
import Testing
import VFSKit

/// Where a scenario runs: the same test body on the in-process driver or on a kernel mount.
enum Mode: String, CaseIterable, CustomTestStringConvertible {
    case inProcess, mounted
    var testDescription: String { rawValue }
}

/// Whole-file reads and writes by path, the way a shell uses the tree (`cat`, `echo >`).
protocol QueueClient: Sendable {
    func read(_ path: String) async -> Result<String, Errno>
    func write(_ path: String, _ text: String) async -> Result<Int, Errno>
    func list(_ path: String) async -> [String]
    /// Stops serving (a no-op in process).
    func close() -> Bool
}

/// A client for `queue` in `mode`; nil when the mode cannot run here (no /dev/fuse).
func makeClient(_ mode: Mode, for queue: JobQueue) throws -> (any QueueClient)? {
    switch mode {
    case .inProcess:
        return InProcessClient(driver: try InProcessDriver(queue.tree))
    case .mounted:
        guard MountedQueue.isAvailable else { return nil }
        return MountedClient(mount: try MountedQueue(queue))
    }
}

struct InProcessClient: QueueClient {
    let driver: InProcessDriver

    func read(_ path: String) async -> Result<String, Errno> {
        do throws(Errno) { return .success(try await driver.readText(path)) } catch { return .failure(error) }
    }

    func write(_ path: String, _ text: String) async -> Result<Int, Errno> {
        do throws(Errno) { return .success(try await driver.writeText(path, text)) } catch { return .failure(error) }
    }

    func list(_ path: String) async -> [String] { (try? driver.list(path)) ?? [] }

    func close() -> Bool { true }
}

/// Ordinary system calls on a thread of their own, so a blocking `write(2)` blocks only it.
struct MountedClient: QueueClient {
    let mount: MountedQueue

    func read(_ path: String) async -> Result<String, Errno> {
        let file = mount.path + path
        return await onThread { Posix.readFile(file) }
    }

    func write(_ path: String, _ text: String) async -> Result<Int, Errno> {
        let file = mount.path + path
        return await onThread { Posix.writeFile(file, text) }
    }

    func list(_ path: String) async -> [String] {
        let directory = mount.path + path
        return await onThread { Posix.list(directory) }
    }

    func close() -> Bool { mount.close() }
}
