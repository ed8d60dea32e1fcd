import VFSKit

/// The tree the C baseline serves: `/status` ("Running\n") and, with entries,
/// a directory `/dir` of UUID-named directories (for readdir benchmarks).
func benchTree(entries: DynamicEntries<UUIDName, Void>) -> Tree {
    Tree("read benchmark") {
        File("status", "a one-line value").read("state name") { _ in "Running" }
        Directory("dir", "many entries") {
            ForEach(entries, "one directory per entry") { _ in }
        }
    }
}

/// A UUID-shaped name, the same ones the C baseline lists.
struct UUIDName: PathKey {
    let pathName: String
    init?(pathName: String) {
        guard pathName.utf8.count == 36 else { return nil }
        self.pathName = pathName
    }
    static var placeholder: String { "<uuid>" }
    static var example: UUIDName { UUIDName(pathName: "00000000-0000-4000-8000-000000000000")! }

    /// Same names as Benchmarks/c-baseline/server.c's entry_name.
    static func numbered(_ i: UInt64) -> UUIDName {
        let a = 0x9e37_79b9_7f4a_7c15 &* (i + 1)
        let b = 0xc2b2_ae3d_27d4_eb4f &* (i + 7)
        func hex(_ value: UInt64, _ width: Int) -> String {
            let digits = String(value, radix: 16)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        let name = [
            hex(a >> 32, 8), hex((a >> 16) & 0xffff, 4), hex(0x4000 | (a & 0x0fff), 4),
            hex(0x8000 | (b >> 48 & 0x3fff), 4), hex(b & 0xffff_ffff_ffff, 12),
        ].joined(separator: "-")
        return UUIDName(pathName: name)!
    }
}
