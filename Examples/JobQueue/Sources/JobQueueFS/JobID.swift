public import SystemPackage
public import VFSKit

/// A job's number: its directory name under `jobs/` and what `submit` and `forget` show.
/// Positive decimal, no sign or leading zeros, so `jobs/01` is `ENOENT` rather than job 1.
public struct JobID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: Int

    public init?(_ rawValue: Int) {
        guard rawValue > 0 else { return nil }
        self.rawValue = rawValue
    }

    public var description: String { String(rawValue) }

    public static func < (lhs: JobID, rhs: JobID) -> Bool { lhs.rawValue < rhs.rawValue }
}

extension JobID: PathKey {
    public var pathName: String { description }
    public init?(pathName: String) {
        guard let value = Int(pathName, radix: 10) else { return nil }
        self.init(value)
    }
    public static var placeholder: String { "<id>" }
    public static var example: JobID { JobID(1)! }
}

extension JobID: FileValue {
    public func fileBytes() -> [UInt8] { Array((description + "\n").utf8) }
    public init(fileText: String) throws(Errno) {
        guard let id = JobID(pathName: fileText), id.pathName == fileText else { throw .invalidArgument }
        self = id
    }
    public static var typeName: String { "job id" }
}
