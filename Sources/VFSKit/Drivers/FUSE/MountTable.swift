import Glibc

/// This process's view of the mount table (`/proc/self/mountinfo`).
enum MountTable {
    /// The filesystem type (`fuse.<subtype>`, `tmpfs`, …) of the topmost mount whose mount
    /// point is exactly `path`; nil when `path` is no mount point.
    static func type(mountedAt path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        let target = String(cString: resolved)
        guard let file = fopen("/proc/self/mountinfo", "r") else { return nil }
        defer { fclose(file) }
        var found: String?
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0, let line {
            // "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPER"
            let fields = String(cString: line).split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count > 4, unescaped(fields[4]) == target,
                let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count
            else { continue }
            found = String(fields[dash + 1])  // later lines are mounted on top of earlier ones
        }
        return found
    }

    /// mountinfo writes space, tab, newline and backslash as `\ooo`.
    private static func unescaped(_ field: Substring) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(field.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "\\"), utf8.count >= 3,
                let code = UInt8(String(decoding: utf8.prefix(3), as: UTF8.self), radix: 8)
            {
                bytes.append(code)
                utf8 = utf8.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
