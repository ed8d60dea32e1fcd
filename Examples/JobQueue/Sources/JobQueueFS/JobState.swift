public import VFSKit

/// Where a job is in its life. `done` and `cancelled` are final.
public enum JobState: String, Sendable, CaseIterable, FileValue {
    /// Waiting for a free slot.
    case queued
    /// Its command is running.
    case running
    /// The command exited by itself.
    case done
    /// Cancelled before it ran, or stopped by `cancel` while running.
    case cancelled

    public var isFinished: Bool { self == .done || self == .cancelled }

    public static var typeName: String { "state" }
}
