#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif
public import SystemPackage

extension UUID: FileValue {
    /// Lowercase canonical form.
    public func fileBytes() -> [UInt8] { Array((lowercaseText + "\n").utf8) }
    public init(fileText: String) throws(Errno) {
        guard let uuid = UUID(uuidString: fileText) else { throw .invalidArgument }
        self = uuid
    }
    public static var typeName: String { "uuid" }
}
