import SystemPackage
public import VFSKit

/// What a conformance run checked and what failed.
public struct ConformanceReport: Sendable, CustomStringConvertible {
    public internal(set) var checks = 0
    /// One line per failure: the path and what was expected.
    public internal(set) var failures: [String] = []

    public var passed: Bool { failures.isEmpty }

    public var description: String {
        passed ? "\(checks) checks passed" : "\(failures.count) of \(checks) checks failed:\n" + failures.joined(separator: "\n")
    }
}

/// Checks what a tree's declarations promise against a running tree, mounted or in-process:
/// every declared node exists with its type, mode and owner; undeclared names are `ENOENT`;
/// create, mkdir, unlink, rmdir, rename, chmod, chown, utimes and truncation to a non-zero
/// size are `EPERM`; read-only files refuse writers (`EACCES`); writes over the limit are
/// `EINVAL`; reads with any buffer size and offset agree; `poll` answers the declared readiness.
///
/// ```swift
/// let report = await ConformanceSuite(tree: tree, owner: Owner(uid: 0, gid: 0))
///     .run(on: MountedTarget(mountpoint: "/run/mytree"))
/// #expect(report.passed, "\(report)")
/// ```
/// The suite never writes a value a handler would accept: only oversize writes.
public struct ConformanceSuite: Sendable {
    public let declaration: Declaration
    /// The owner of nodes that declare none.
    public let owner: Owner
    /// How many live entries of each dynamic directory to check.
    public var maxDynamicEntries = 3
    /// Buffer sizes for whole-file reads.
    public var bufferSizes = [1, 2, 3, 7, 64, 4096, 65536]

    public init(tree: Tree, owner: Owner) {
        declaration = tree.declaration
        self.owner = owner
    }

    public func run(on target: some ConformanceTarget) async -> ConformanceReport {
        var report = ConformanceReport()
        await checkDirectory(declaration, at: "/", on: target, into: &report)
        return report
    }

    // MARK: - Directories

    private func checkDirectory(
        _ directory: Declaration, at path: String, on target: some ConformanceTarget, into report: inout ConformanceReport
    ) async {
        await checkStatus(of: directory, isDirectory: true, at: path, on: target, into: &report)
        let names: [String]
        do throws(Errno) {
            names = try await target.list(path)
        } catch {
            report.fail(path, "listing failed: \(error)")
            return
        }
        let declared = directory.children.filter { if case .dynamic = $0.kind { false } else { true } }
        let dynamic = directory.children.first { if case .dynamic = $0.kind { true } else { false } }
        for child in declared {
            report.expect(names.contains(child.name), path, "declared entry \(child.name) is not listed")
        }
        let extra = names.filter { name in !declared.contains { $0.name == name } }
        if dynamic == nil {
            report.expect(extra.isEmpty, path, "undeclared entries listed: \(extra.joined(separator: ", "))")
        }
        report.expect(Set(names).count == names.count, path, "the listing repeats names")

        let base = path == "/" ? "" : path
        await expectError(.noSuchFileOrDirectory, path, "looking up an undeclared name") { () async throws(Errno) in
            _ = try await target.stat(base + "/vfs-conformance-no-such-entry")
        }.record(into: &report)
        for mutation in [Mutation.createFile, .makeDirectory] {
            await expectError(.notPermitted, path, mutation.rawValue) { () async throws(Errno) in
                try await target.attempt(mutation, on: path)
            }.record(into: &report)
        }
        if path != "/" {
            for mutation in [Mutation.removeDirectory, .rename, .chmod, .chown, .utimes] {
                await expectError(.notPermitted, path, mutation.rawValue) { () async throws(Errno) in
                    try await target.attempt(mutation, on: path)
                }.record(into: &report)
            }
        }

        for child in declared {
            let childPath = base + "/" + child.name
            if child.kind == .file {
                await checkFile(child, at: childPath, on: target, into: &report)
            } else {
                await checkDirectory(child, at: childPath, on: target, into: &report)
            }
        }
        if let dynamic {
            for name in extra.prefix(maxDynamicEntries) {
                await checkDirectory(dynamic, at: base + "/" + name, on: target, into: &report)
            }
        }
    }

    // MARK: - Files

    private func checkFile(
        _ file: Declaration, at path: String, on target: some ConformanceTarget, into report: inout ConformanceReport
    ) async {
        guard await checkStatus(of: file, isDirectory: false, at: path, on: target, into: &report) else { return }
        for mutation in [Mutation.unlink, .rename, .chmod, .chown, .utimes, .truncateNonZero] {
            await expectError(.notPermitted, path, mutation.rawValue) { () async throws(Errno) in
                try await target.attempt(mutation, on: path)
            }.record(into: &report)
        }
        if file.isWritable {
            let oversize = [UInt8](repeating: UInt8(ascii: "1"), count: file.writeLimit + 1)
            await expectError(.invalidArgument, path, "a write of \(oversize.count) bytes") { () async throws(Errno) in
                _ = try await target.write(path, oversize)
            }.record(into: &report)
            do throws(Errno) {
                try await target.truncateToZero(path)
                report.pass()
            } catch {
                report.fail(path, "truncate to 0 of a writable file: expected success, got \(error)")
            }
        } else {
            await expectError(.permissionDenied, path, "opening a read-only file for writing") { () async throws(Errno) in
                try await target.openForWriting(path)
            }.record(into: &report)
        }
        if file.isReadable {
            await checkReads(at: path, on: target, into: &report)
        }
        await checkPoll(file, at: path, on: target, into: &report)
    }

    /// `poll` answers what the declaration promises (of `POLLIN|POLLPRI`, what every target
    /// asks for): a fresh open of a `.changes` file is not ready; a `.readable` one is
    /// `POLLIN` or nothing; a readable file without declared readiness is always `POLLIN`.
    /// A state change between the open and the poll may make one answer differ: retried once.
    private func checkPoll(
        _ file: Declaration, at path: String, on target: some ConformanceTarget, into report: inout ConformanceReport
    ) async {
        let asked: PollEvents = [.in, .pri]
        let allowed: [PollEvents]
        switch file.readiness {
        case .changes?: allowed = [[]]
        case .readableWhileConditionHolds?: allowed = [[], [.in]]
        case nil:
            guard file.isReadable else { return }
            allowed = [[.in]]
        }
        for attempt in 0..<2 {
            do throws(Errno) {
                let events = try await target.pollNow(path).intersection(asked)
                if allowed.contains(events) { return report.pass() }
                if attempt == 1 {
                    report.fail(path, "poll gave \(events), declared \(allowed.map(\.description).joined(separator: " or "))")
                }
            } catch {
                return report.fail(path, "poll failed: \(error)")
            }
        }
    }

    /// Whole reads with every buffer size agree, and reads at later offsets continue them.
    private func checkReads(at path: String, on target: some ConformanceTarget, into report: inout ConformanceReport) async {
        let reference: [UInt8]
        do throws(Errno) {
            reference = try await target.readAll(path, bufferSize: 4096)
        } catch {
            if error != .resourceTemporarilyUnavailable { report.fail(path, "read failed: \(error)") }
            return
        }
        let isOneLine = reference.isEmpty
            || (reference.last == 0x0a && !reference.dropLast().contains(0x0a)
                && reference.allSatisfy { (0x20...0x7e).contains($0) || $0 == 0x0a || $0 == 0x09 })
        report.expect(isOneLine, path, "content is not one ASCII line ending in \\n: \(reference)")
        report.expect(reference.count <= 4096, path, "content is longer than the reported size 4096")
        for size in bufferSizes {
            await agreeOnce(path, "reads of \(size) bytes", reference, into: &report) { () async throws(Errno) in
                try await target.readAll(path, bufferSize: size)
            }
        }
        for offset in Set([1, max(0, reference.count - 1), reference.count, 4096, 1 << 40]) where offset > 0 {
            let expected = offset < reference.count ? Array(reference[offset...]) : []
            await agreeOnce(path, "a read at offset \(offset)", expected, into: &report) { () async throws(Errno) in
                try await target.readAfterFirst(path, offset: Int64(offset), size: 4096)
            }
        }
    }

    /// Values may change between two opens: a mismatch is retried once before it counts.
    private func agreeOnce(
        _ path: String, _ what: String, _ expected: [UInt8], into report: inout ConformanceReport,
        _ read: () async throws(Errno) -> [UInt8]
    ) async {
        for attempt in 0..<2 {
            do throws(Errno) {
                let bytes = try await read()
                if bytes == expected { return report.pass() }
                if attempt == 1 { report.fail(path, "\(what) gave \(bytes), expected \(expected)") }
            } catch {
                return report.fail(path, "\(what) failed: \(error)")
            }
        }
    }

    // MARK: - Helpers

    @discardableResult
    private func checkStatus(
        of node: Declaration, isDirectory: Bool, at path: String, on target: some ConformanceTarget,
        into report: inout ConformanceReport
    ) async -> Bool {
        let status: FileStatus
        do throws(Errno) {
            status = try await target.stat(path)
        } catch {
            report.fail(path, "stat failed: \(error)")
            return false
        }
        let expectedOwner = node.owner ?? owner
        report.expect(status.isDirectory == isDirectory, path, isDirectory ? "expected a directory" : "expected a file")
        report.expect(status.permissions == node.permissions, path,
                      "mode \(String(status.permissions, radix: 8)), declared \(String(node.permissions, radix: 8))")
        report.expect(status.uid == expectedOwner.uid && status.gid == expectedOwner.gid, path,
                      "owner \(status.uid):\(status.gid), expected \(expectedOwner.uid):\(expectedOwner.gid)")
        if !isDirectory { report.expect(status.size == 4096, path, "size \(status.size), expected 4096") }
        return status.isDirectory == isDirectory
    }

    private func expectError(
        _ expected: Errno, _ path: String, _ what: String, _ body: () async throws(Errno) -> Void
    ) async -> Outcome {
        do throws(Errno) {
            try await body()
            return .failed("\(path): \(what): expected \(expected), got success")
        } catch {
            return error == expected ? .passed : .failed("\(path): \(what): expected \(expected), got \(error)")
        }
    }

    private enum Outcome {
        case passed, failed(String)
        func record(into report: inout ConformanceReport) {
            switch self {
            case .passed: report.pass()
            case .failed(let line): report.failures.append(line); report.checks += 1
            }
        }
    }
}

extension ConformanceReport {
    mutating func pass() { checks += 1 }
    mutating func fail(_ path: String, _ message: String) {
        checks += 1
        failures.append("\(path): \(message)")
    }
    mutating func expect(_ condition: Bool, _ path: String, _ message: @autoclosure () -> String) {
        condition ? pass() : fail(path, message())
    }
}
