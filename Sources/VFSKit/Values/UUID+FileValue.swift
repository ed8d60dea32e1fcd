public import SystemPackage

#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

extension UUID: FileValue {
    /// Lowercase canonical form.
    public func fileBytes() -> [UInt8] { Array((lowercaseText + "\n").utf8) }
    public init(fileText: String) throws(Errno) {
        guard let uuid = UUID(uuidString: fileText) else { throw .invalidArgument }
        self = uuid
    }
    public static var typeName: String { "uuid" }
}

extension UUID {
    /// `00000000-0000-0000-0000-000000000000`, the zero UUID.
    public static let zero = UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))

    /// The lowercase canonical form (`uuidString.lowercased()`), written straight into one string: `uuidString` formats
    /// through `vfprintf` and `lowercased()` copies it again, ≈30% of a 100,000-entry readdir.
    public var lowercaseText: String {
        withUnsafeBytes(of: uuid) { raw in
            String(unsafeUninitializedCapacity: 36) { out in
                var i = 0
                for (n, byte) in raw.enumerated() {
                    if n == 4 || n == 6 || n == 8 || n == 10 {
                        out[i] = 0x2d
                        i += 1
                    }
                    let high = byte >> 4
                    let low = byte & 0x0f
                    out[i] = high < 10 ? 0x30 + high : 0x57 + high
                    out[i + 1] = low < 10 ? 0x30 + low : 0x57 + low
                    i += 2
                }
                return i
            }
        }
    }
}
