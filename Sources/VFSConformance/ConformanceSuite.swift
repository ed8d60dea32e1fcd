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
/// every declared node exists with its type, mode and owner (the tree profile's defaults
/// applied); undeclared names are `ENOENT`; create, mkdir, unlink, rmdir, rename, chmod,
/// chown, utimes and truncation to a non-zero size are `EPERM` (chmod and chown succeed where
/// a node accepts them: the suite sets the mode and owner it has); read-only files refuse
/// writers (`EACCES`); writes over the limit answer the profile's errno (`EINVAL`, sysfs
/// `E2BIG`); reads with any buffer size and offset agree; `poll` reports the declared events;
/// links are links (`lstat`: mode 0777, size the target's length; `readlink` the declared
/// target; followed where the target stays in the tree).
///
/// It walks the entries that exist when it runs: the live entries of each `ForEach` (up to
/// ``maxDynamicEntries``), and conditional nodes as they are now — present ones are checked
/// like any node, absent ones must be `ENOENT` and unlisted. Make the state you want checked
/// (export a line, select a trigger) before running it.
///
/// ```swift
/// let report = await ConformanceSuite(tree: tree, owner: Owner(uid: 0, gid: 0))
///     .run(on: MountedTarget(mountpoint: "/run/mytree"))
/// #expect(report.passed, "\(report)")
/// ```
/// The suite never writes a value a handler would accept: only oversize writes.
public struct ConformanceSuite: Sendable {
    public let declaration: Declaration
    /// The choices the tree makes for every file.
    public let profile: TreeProfile
    /// The owner of nodes that declare none.
    public let owner: Owner
    /// How many live entries of each dynamic directory to check.
    public var maxDynamicEntries = 3
    /// Buffer sizes for whole-file reads.
    public var bufferSizes = [1, 2, 3, 7, 64, 4096, 65536]

    public init(tree: Tree, owner: Owner) {
        declaration = tree.declaration
        profile = tree.profile
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
        for child in declared where !child.isConditional {
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
            if child.isConditional && !names.contains(child.name) {
                // Absent now: it must not be found either.
                await expectError(.noSuchFileOrDirectory, childPath, "looking up an absent conditional node") {
                    () async throws(Errno) in _ = try await target.stat(childPath)
                }.record(into: &report)
                continue
            }
            await checkNode(child, at: childPath, on: target, into: &report)
        }
        if let dynamic, let entry = dynamic.entry.first {
            for name in extra.prefix(maxDynamicEntries) {
                await checkNode(entry, at: base + "/" + name, on: target, into: &report)
            }
        }
    }

    private func checkNode(
        _ node: Declaration, at path: String, on target: some ConformanceTarget, into report: inout ConformanceReport
    ) async {
        switch node.kind {
        case .file: await checkFile(node, at: path, on: target, into: &report)
        case .link: await checkLink(node, at: path, on: target, into: &report)
        case .directory, .dynamic: await checkDirectory(node, at: path, on: target, into: &report)
        }
    }

    // MARK: - Links

    /// `lstat` shows a link of mode 0777 whose size is the target's length; `readlink` gives
    /// the declared target (any, for a computed one); a target inside the tree can be followed.
    private func checkLink(
        _ link: Declaration, at path: String, on target: some ConformanceTarget, into report: inout ConformanceReport
    ) async {
        let status: FileStatus
        let destination: String
        do throws(Errno) {
            status = try await target.stat(path)
            destination = try await target.readlink(path)
        } catch {
            return report.fail(path, "lstat or readlink of a link failed: \(error)")
        }
        report.expect(status.isSymlink, path, "expected a symbolic link")
        report.expect(status.permissions == 0o777, path, "link mode \(String(status.permissions, radix: 8)), expected 777")
        report.expect(status.size == Int64(destination.utf8.count), path, "link size \(status.size), target \(destination)")
        if case .link(let declared?) = link.kind {
            report.expect(destination == declared, path, "readlink gave \(destination), declared \(declared)")
        }
        for mutation in [Mutation.unlink, .rename] {
            await expectError(.notPermitted, path, mutation.rawValue) { () async throws(Errno) in
                try await target.attempt(mutation, on: path)
            }.record(into: &report)
        }
        if let inside = Self.resolve(destination, from: path) {
            do throws(Errno) {
                let followed = try await target.statFollowing(path)
                let direct = try await target.statFollowing(inside)
                report.expect(followed == direct, path, "following the link did not reach \(inside)")
            } catch {
                report.fail(path, "following the link to \(inside) failed: \(error)")
            }
        }
    }

    /// A relative target as a path of the tree, or nil when it leaves the tree.
    static func resolve(_ destination: String, from path: String) -> String? {
        guard !destination.hasPrefix("/") else { return nil }
        var components = path.split(separator: "/").dropLast().map(String.init)
        for component in destination.split(separator: "/") {
            switch component {
            case ".": continue
            case "..":
                guard !components.isEmpty else { return nil }
                components.removeLast()
            default: components.append(String(component))
            }
        }
        return "/" + components.joined(separator: "/")
    }

    // MARK: - Files

    private func checkFile(
        _ file: Declaration, at path: String, on target: some ConformanceTarget, into report: inout ConformanceReport
    ) async {
        guard await checkStatus(of: file, isDirectory: false, at: path, on: target, into: &report) else { return }
        var refused: [Mutation] = [.unlink, .rename, .utimes, .truncateNonZero]
        if file.changeableAttributes.contains(.mode) {
            await checkNoOpChange(at: path, "chmod", on: target, into: &report) { status async throws(Errno) in
                try await target.setPermissions(path, status.permissions)
            }
        } else {
            refused.append(.chmod)
        }
        if file.changeableAttributes.contains(.owner) {
            await checkNoOpChange(at: path, "chown", on: target, into: &report) { status async throws(Errno) in
                try await target.setOwner(path, uid: status.uid, gid: status.gid)
            }
        } else {
            refused.append(.chown)
        }
        for mutation in refused {
            await expectError(.notPermitted, path, mutation.rawValue) { () async throws(Errno) in
                try await target.attempt(mutation, on: path)
            }.record(into: &report)
        }
        if file.isWritable {
            let oversize = [UInt8](repeating: UInt8(ascii: "1"), count: file.writeLimit + 1)
            await expectError(profile.overLimitErrno, path, "a write of \(oversize.count) bytes") { () async throws(Errno) in
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

    /// A `chmod` or `chown` that a node accepts, to the mode or owner it has: succeeds, changes nothing.
    private func checkNoOpChange(
        at path: String, _ what: String, on target: some ConformanceTarget, into report: inout ConformanceReport,
        _ change: (FileStatus) async throws(Errno) -> Void
    ) async {
        do throws(Errno) {
            let before = try await target.stat(path)
            try await change(before)
            let after = try await target.stat(path)
            report.expect(before == after, path, "\(what) to the same value changed \(before) to \(after)")
        } catch {
            report.fail(path, "\(what) declared as accepted failed: \(error)")
        }
    }

    /// `poll` reports what the declaration promises, asked for every event: a fresh open of a
    /// `.changes` file reports its idle events; a `.readable` one its idle or ready events; a
    /// file without declared readiness what it always reports. A state change between the
    /// open and the poll may make one answer differ: retried once.
    private func checkPoll(
        _ file: Declaration, at path: String, on target: some ConformanceTarget, into report: inout ConformanceReport
    ) async {
        let allowed: [PollEvents]
        switch file.readiness {
        case .changes?: allowed = [file.pollEvents.idle]
        case .readableWhileConditionHolds?: allowed = [file.pollEvents.idle, file.pollEvents.ready]
        case nil:
            guard file.isReadable else { return }  // opened for reading to poll
            allowed = [file.pollEvents.idle]
        }
        for attempt in 0..<2 {
            do throws(Errno) {
                let events = try await target.pollNow(path)
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
        let isOneLine =
            reference.isEmpty
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
        report.expect(
            status.permissions == node.permissions, path,
            "mode \(String(status.permissions, radix: 8)), declared \(String(node.permissions, radix: 8))")
        report.expect(
            status.uid == expectedOwner.uid && status.gid == expectedOwner.gid, path,
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
        case passed
        case failed(String)
        func record(into report: inout ConformanceReport) {
            switch self {
            case .passed: report.pass()
            case .failed(let line):
                report.failures.append(line)
                report.checks += 1
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
