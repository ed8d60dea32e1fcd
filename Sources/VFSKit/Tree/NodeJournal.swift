import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// The node ids a served tree gave the kernel, kept in a file so that a server taking
/// over the connection (after a crash, or an upgrade) answers for the same ids: each
/// vnode's id with its parent's id and its name, the deaths of dynamic entries, and the
/// kernel poll handles (`kh`) whose pollers are waiting.
///
/// One record per vnode made (not per lookup), appended with one `write(2)`: it survives
/// the process (the page cache keeps it), so no `fsync`. A restart replays the file, keeps
/// the live records, and starts a fresh file with them (the churn of dead entries goes).
final class NodeJournal: Sendable {
    /// A directory entry: the parent's id and the name.
    struct Name: Hashable, Sendable {
        let parent: UInt64
        let name: String
    }

    private struct Recovered {
        var byIno: [UInt64: Name] = [:]
        var inoByName: [Name: UInt64] = [:]
    }

    private enum Kind: UInt8 {
        case node = 1
        case death = 2
        case poll = 3
    }

    let path: String
    private let fd: Int32
    private let recovered: Mutex<Recovered>
    /// The highest id recorded before the restart: new ids start above it.
    let highestRecoveredIno: UInt64
    /// The poll handles recorded before the restart, to wake once.
    let recoveredPolls: [UInt64]
    /// The ids recorded before the restart: the kernel may hold cached attributes of any of
    /// them, also of a node that went while no server ran.
    let recoveredInos: [UInt64]

    /// Opens the journal at `path`. With `restore`, replays what an earlier server recorded
    /// (a record cut short at the end is ignored); otherwise starts empty.
    init(path: String, restore: Bool) throws(Errno) {
        self.path = path
        var state = Recovered()
        var polls: [UInt64] = []
        if restore, let bytes = Self.contents(of: path) {
            Self.replay(bytes, into: &state, polls: &polls)
        }
        // A fresh file with the live records only, renamed into place.
        let temporary = path + ".tmp"
        let out = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard out >= 0 else { throw Errno(rawValue: errno) }
        var compacted: [UInt8] = []
        for (ino, name) in state.byIno { Self.encode(.node, ino, name.parent, name.name, into: &compacted) }
        let written = compacted.withUnsafeBytes { Glibc.write(out, $0.baseAddress, $0.count) }
        close(out)
        guard written == compacted.count, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw Errno(rawValue: errno)
        }
        fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { throw Errno(rawValue: errno) }
        highestRecoveredIno = state.byIno.keys.max() ?? 0
        recoveredPolls = polls
        recoveredInos = Array(state.byIno.keys)
        recovered = Mutex(state)
    }

    deinit { close(fd) }

    // MARK: Recording

    func recordNode(_ ino: UInt64, parent: UInt64, name: String) {
        append(.node, ino, parent, name)
    }

    /// Dynamic entries that died: their ids are never answered for again.
    func recordDeaths(_ inos: [UInt64]) {
        var bytes: [UInt8] = []
        for ino in inos { Self.encode(.death, ino, 0, "", into: &bytes) }
        write(bytes)
        recovered.withLock { state in
            for ino in inos {
                if let name = state.byIno.removeValue(forKey: ino), state.inoByName[name] == ino {
                    state.inoByName[name] = nil
                }
            }
        }
    }

    /// A kernel poll handle with a registered poller.
    func recordPoll(_ kh: UInt64) {
        append(.poll, kh, 0, "")
    }

    // MARK: Recovery

    /// The id the entry `name` of `parent` had before the restart.
    func recoveredIno(of name: Name) -> UInt64? {
        recovered.withLock { $0.inoByName[name] }
    }

    /// The entry id `ino` named before the restart; from now on that entry gets `ino` again.
    func recoveredName(of ino: UInt64) -> Name? {
        recovered.withLock { state in
            guard let name = state.byIno[ino] else { return nil }
            state.inoByName[name] = ino
            return name
        }
    }

    // MARK: Bytes

    private func append(_ kind: Kind, _ a: UInt64, _ b: UInt64, _ name: String) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(19 + name.utf8.count)
        Self.encode(kind, a, b, name, into: &bytes)
        write(bytes)
    }

    private func write(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    }

    /// `[u8 kind][u64 a][u64 b][u16 length][name]`, little-endian.
    private static func encode(_ kind: Kind, _ a: UInt64, _ b: UInt64, _ name: String, into bytes: inout [UInt8]) {
        bytes.append(kind.rawValue)
        withUnsafeBytes(of: a.littleEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: b.littleEndian) { bytes.append(contentsOf: $0) }
        let utf8 = Array(name.utf8.prefix(Int(UInt16.max)))
        withUnsafeBytes(of: UInt16(utf8.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: utf8)
    }

    private static func replay(_ bytes: [UInt8], into state: inout Recovered, polls: inout [UInt64]) {
        var index = 0
        func u64(_ at: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(bytes[at + $1]) << (8 * $1) } }
        while index + 19 <= bytes.count {
            let (kind, a, b) = (Kind(rawValue: bytes[index]), u64(index + 1), u64(index + 9))
            let length = Int(bytes[index + 17]) | Int(bytes[index + 18]) << 8
            guard let kind, index + 19 + length <= bytes.count else { return }
            let name = String(decoding: bytes[(index + 19)..<(index + 19 + length)], as: UTF8.self)
            index += 19 + length
            switch kind {
            case .node:
                let entry = Name(parent: b, name: name)
                state.byIno[a] = entry
                state.inoByName[entry] = a
            case .death:
                if let entry = state.byIno.removeValue(forKey: a), state.inoByName[entry] == a {
                    state.inoByName[entry] = nil
                }
            case .poll:
                polls.append(a)
            }
        }
    }

    private static func contents(of path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            bytes.append(contentsOf: chunk[..<count])
        }
        return bytes
    }
}
