#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// A type that names the entries of a dynamic directory, converting to and from a file name.
///
/// Lookup parses the name and accepts it only when it renders back to the same name,
/// so `ENOENT` covers malformed and non-canonical names without string matching in handlers.
public protocol PathKey: Hashable, Sendable {
    /// The entry's file name.
    var pathName: String { get }
    /// Parses a file name; nil when it does not name an entry of this type.
    init?(pathName: String)
    /// How the spec table shows the varying part of the path, e.g. `<uuid>`.
    static var placeholder: String { get }
    /// A value used to walk the declarations for the spec table.
    static var example: Self { get }
}

extension UUID: PathKey {
    /// Lowercase canonical form, as SPEC.md writes UUIDs.
    public var pathName: String { lowercaseText }
    public init?(pathName: String) { self.init(uuidString: pathName) }
    public static var placeholder: String { "<uuid>" }
    public static var example: UUID { .zero }
}

extension Int: PathKey {
    public var pathName: String { String(self) }
    public init?(pathName: String) { self.init(pathName, radix: 10) }
    public static var placeholder: String { "<n>" }
    public static var example: Int { 0 }
}

extension String: PathKey {
    public var pathName: String { self }
    public init?(pathName: String) { self = pathName }
    public static var placeholder: String { "<name>" }
    public static var example: String { "example" }
}
