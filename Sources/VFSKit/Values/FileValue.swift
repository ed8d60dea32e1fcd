public import SystemPackage

/// A value shown in a control file as ASCII `value\n` and parsed from what a writer wrote.
public protocol FileValue: Sendable {
    /// The file's bytes: the value's text and `\n`, or no bytes for "no value".
    func fileBytes() -> [UInt8]
    /// Parses written bytes (trailing whitespace, such as `echo`'s newline, already trimmed).
    /// Throws `EINVAL` when they do not parse.
    init(fileText: String) throws(Errno)
    /// Parses the raw written bytes; by default they must be printable ASCII and are
    /// decoded, trailing whitespace trimmed, for `init(fileText:)`.
    init(fileBytes: [UInt8]) throws(Errno)
    /// Parses the raw written bytes under a tree's text rule (``TreeProfile/writtenText``);
    /// by default decoded with `rule` for `init(fileText:)`.
    init(fileBytes: [UInt8], rule: WrittenText.Rule) throws(Errno)
    /// How the spec table names the type.
    static var typeName: String { get }
}

extension FileValue {
    public static var typeName: String { String(describing: Self.self) }

    /// Parses written bytes: they must be printable ASCII (`EINVAL` otherwise), and
    /// trailing whitespace is trimmed before `init(fileText:)`.
    public init(fileBytes: [UInt8]) throws(Errno) {
        try self.init(fileText: WrittenText.decode(fileBytes))
    }

    /// Decodes with `rule`, then `init(fileText:)`; the default rule goes through
    /// `init(fileBytes:)`, so types that parse raw bytes themselves keep doing so.
    public init(fileBytes: [UInt8], rule: WrittenText.Rule) throws(Errno) {
        if rule == .trimmingTrailingWhitespace {
            try self.init(fileBytes: fileBytes)
        } else {
            try self.init(fileText: WrittenText.decode(fileBytes, rule: rule))
        }
    }
}

/// A value whose text is its `description`, parsed by `init?(_ text:)`.
public protocol TextFileValue: FileValue, LosslessStringConvertible {}

extension TextFileValue {
    public func fileBytes() -> [UInt8] { Array((description + "\n").utf8) }
    public init(fileText: String) throws(Errno) {
        guard let value = Self(fileText) else { throw .invalidArgument }
        self = value
    }
}

extension String: TextFileValue {
    public static var typeName: String { "string" }
}
extension Int: TextFileValue {
    public static var typeName: String { "integer" }
}
extension Int32: TextFileValue {
    public static var typeName: String { "integer" }
}
extension Int64: TextFileValue {
    public static var typeName: String { "integer" }
}
extension UInt32: TextFileValue {
    public static var typeName: String { "integer" }
}
extension UInt64: TextFileValue {
    public static var typeName: String { "integer" }
}

extension Bool: FileValue {
    /// `1` or `0`, as sysfs shows booleans.
    public func fileBytes() -> [UInt8] { self ? Array("1\n".utf8) : Array("0\n".utf8) }
    /// Accepts `1`/`0`, `y`/`n`, `yes`/`no`, `true`/`false`, `on`/`off` (like the kernel's kstrtobool).
    public init(fileText: String) throws(Errno) {
        switch fileText.lowercased() {
        case "1", "y", "yes", "true", "on": self = true
        case "0", "n", "no", "false", "off": self = false
        default: throw .invalidArgument
        }
    }
    public static var typeName: String { "bool" }
}

extension FileValue where Self: RawRepresentable, RawValue: FileValue {
    public func fileBytes() -> [UInt8] { rawValue.fileBytes() }
    public init(fileText: String) throws(Errno) {
        guard let value = Self(rawValue: try RawValue(fileText: fileText)) else { throw .invalidArgument }
        self = value
    }
}

extension Optional: FileValue where Wrapped: FileValue {
    /// `nil` renders as an empty file.
    public func fileBytes() -> [UInt8] { self?.fileBytes() ?? [] }
    /// Nothing written (after trimming) parses as `nil`.
    public init(fileText: String) throws(Errno) {
        self = fileText.isEmpty ? nil : try Wrapped(fileText: fileText)
    }
    public static var typeName: String { Wrapped.typeName + "?" }
}

/// A written value whose contents are ignored: the write itself is the event.
public struct Ignored: FileValue, Equatable {
    public init() {}
    /// Any bytes at all, ASCII or not: SPEC.md's "the bytes are ignored".
    public init(fileBytes: [UInt8]) {}
    public init(fileBytes: [UInt8], rule: WrittenText.Rule) {}
    public init(fileText: String) {}
    public func fileBytes() -> [UInt8] { [] }
    public static var typeName: String { "any" }
}
