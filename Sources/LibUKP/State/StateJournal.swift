import Synchronization
public import SystemPackage

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// What an instance must not forget across a restart of its daemon, in one file
/// (`state.log` in the state directory): a journal of `StateEvent`s (and, for the
/// simulator, `SimEvent`s), one line each, appended before the answer that depends on it.
///
/// Appends are one `write(2)` each: they survive the process (the page cache keeps them),
/// so there is no `fsync` (a machine that goes down takes the instance with it). The
/// journal also keeps what it says in memory; it is rewritten from that, atomically, when
/// opened and whenever it has grown to several times its live size.
public final class StateJournal: Sendable {
    /// What the journal says: per instance (nil: the engine's own), and the simulator's.
    struct Contents: Sendable {
        var instances: [UUID?: InstanceRecord] = [:]
        var sim = SimRecord()
    }

    private struct State {
        var contents = Contents()
        var fd: Int32 = -1
        var written = 0
        var compactedSize = 0
    }

    /// The journal's file.
    public let path: String
    /// What it held when opened (empty after a corrupt or unreadable file).
    let restored: Contents
    /// Why the file's contents could not be used, if they could not (one line).
    public let problem: String?
    private let state = Mutex(State())

    /// Opens (or creates) `state.log` in `directory` and replays it. A file that cannot be
    /// read or parsed is set aside (`state.log.corrupt`), named in `problem`, and the
    /// journal starts empty.
    public init(directory: String) throws(Errno) {
        path = directory + "/state.log"
        var contents = Contents()
        var problem: String?
        switch Self.read(path) {
        case .success(let text?):
            if let bad = Self.replay(text, into: &contents) {
                problem = "state file \(path) is corrupt at line \(bad): starting empty (kept as \(path).corrupt)"
                contents = Contents()
                rename(path, path + ".corrupt")
            }
        case .success(nil):
            break
        case .failure(let error):
            problem = "state file \(path) cannot be read (\(error)): starting empty"
            rename(path, path + ".corrupt")
        }
        restored = contents
        self.problem = problem
        try state.withLock { state throws(Errno) in
            state.contents = contents
            try Self.compact(&state, path: path)
        }
    }

    deinit {
        state.withLock { if $0.fd >= 0 { close($0.fd) } }
    }

    // MARK: Recording

    /// Records events of `instance` (nil: the engine's own), in one write.
    func record(_ events: [StateEvent], instance: UUID?) {
        guard !events.isEmpty else { return }
        var text = ""
        for event in events { text += event.line(instance: instance) + "\n" }
        append(text) { contents in
            for event in events { contents.instances[instance, default: InstanceRecord()].apply(event) }
        }
    }

    func record(_ event: StateEvent, instance: UUID?) {
        record([event], instance: instance)
    }

    func record(_ event: SimEvent) {
        record([event])
    }

    /// Records simulator events in one write (all of them survive a crash, or none).
    func record(_ events: [SimEvent]) {
        guard !events.isEmpty else { return }
        append(events.map { $0.line + "\n" }.joined()) { contents in
            for event in events { contents.sim.apply(event) }
        }
    }

    /// Whether the `exit` write with this kernel request id was applied.
    func simAppliedExit(_ request: UInt64) -> Bool {
        state.withLock { $0.contents.sim.exitsApplied.contains(request) }
    }

    /// What the journal says about `instance` now.
    func record(of instance: UUID?) -> InstanceRecord? {
        state.withLock { $0.contents.instances[instance] }
    }

    /// What the journal says about the simulator now.
    var sim: SimRecord { state.withLock { $0.contents.sim } }

    /// Forgets an instance's own events (the simulator removed it).
    func forget(instance: UUID) {
        state.withLock { state in
            state.contents.instances.removeValue(forKey: instance)
            state.contents.instances.shrinkIfSparse()
        }
    }

    private func append(_ text: String, applying change: (inout Contents) -> Void) {
        state.withLock { state in
            change(&state.contents)
            var text = text
            let count = text.withUTF8 { bytes in Glibc.write(state.fd, bytes.baseAddress, bytes.count) }
            if count > 0 { state.written += count }
            if state.written > max(1 << 20, 4 * state.compactedSize) {
                try? Self.compact(&state, path: path)
            }
        }
    }

    // MARK: The file

    /// Rewrites the file from the contents: a temporary file renamed into place.
    private static func compact(_ state: inout State, path: String) throws(Errno) {
        var text = ""
        for event in state.contents.sim.events { text += event.line + "\n" }
        for (instance, record) in state.contents.instances {
            for event in record.events { text += event.line(instance: instance) + "\n" }
        }
        let temporary = path + ".tmp"
        let out = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard out >= 0 else { throw Errno(rawValue: errno) }
        let written = text.withUTF8 { Glibc.write(out, $0.baseAddress, $0.count) }
        close(out)
        guard written == text.utf8.count, rename(temporary, path) == 0 else {
            let error = Errno(rawValue: errno)
            unlink(temporary)
            throw error
        }
        if state.fd >= 0 { close(state.fd) }
        state.fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard state.fd >= 0 else { throw Errno(rawValue: errno) }
        state.compactedSize = written
        state.written = 0
    }

    /// The file's text; nil when there is none.
    private static func read(_ path: String) -> Result<String?, Errno> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return errno == ENOENT ? .success(nil) : .failure(Errno(rawValue: errno)) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(Errno(rawValue: errno))
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[..<count])
        }
        return .success(String(decoding: bytes, as: UTF8.self))
    }

    /// Applies every line; a last line cut short (no newline) is ignored. Returns the
    /// number of the first line that does not parse, if any.
    private static func replay(_ text: String, into contents: inout Contents) -> Int? {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        lines.removeLast()  // the empty string after the last newline, or a line cut short
        for (number, line) in lines.enumerated() {
            if line.hasPrefix("~ ") {
                guard let event = SimEvent.parse(line) else { return number + 1 }
                contents.sim.apply(event)
            } else {
                guard let (instance, event) = StateEvent.parse(line) else { return number + 1 }
                contents.instances[instance, default: InstanceRecord()].apply(event)
            }
        }
        return nil
    }
}
