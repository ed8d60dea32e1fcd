import Synchronization
public import SystemPackage
public import VFSKit

/// One submitted command: what `jobs/<id>/` stands for. Its state lives in the queue;
/// the job keeps what is its own: the command line and the output so far.
public final class Job: Sendable {
    /// How much output a job keeps: the last 64 KiB.
    public static let outputLimit = 64 * 1024

    public let id: JobID
    public let command: String
    /// The uid that submitted it.
    public let submitter: UInt32
    /// Fires on every state change (`state`, `wait`).
    public let stateChanged = ChangeSignal()
    /// Fires whenever output arrives (`output`).
    public let outputChanged = ChangeSignal()
    private let outputTail = Mutex<[UInt8]>([])

    init(id: JobID, command: String, submitter: UInt32) {
        self.id = id
        self.command = command
        self.submitter = submitter
    }

    /// The command's stdout and stderr, interleaved as written; the last 64 KiB.
    public var output: JobOutput { JobOutput(bytes: outputTail.withLock { $0 }) }

    func appendOutput(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        outputTail.withLock { tail in
            tail.append(contentsOf: bytes)
            if tail.count > Self.outputLimit { tail.removeFirst(tail.count - Self.outputLimit) }
        }
        outputChanged.signal()
    }
}

/// A job's output as the `output` file shows it: the bytes as written, no newline added.
public struct JobOutput: FileValue, Equatable {
    public let bytes: [UInt8]
    public var text: String { String(decoding: bytes, as: UTF8.self) }
    public func fileBytes() -> [UInt8] { bytes }
    public init(bytes: [UInt8]) { self.bytes = bytes }
    /// Output is not written through the tree.
    public init(fileText: String) throws(Errno) { throw .invalidArgument }
    public static var typeName: String { "bytes" }
}
