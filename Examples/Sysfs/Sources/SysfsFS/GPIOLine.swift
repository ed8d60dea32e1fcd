public import VFSKit

/// A line's direction, as `direction` shows it.
public enum GPIODirection: String, Sendable {
    case input = "in"
    case output = "out"
}

/// Which edges of `value` wake pollers, as `edge` shows it.
public enum GPIOEdge: String, Sendable, FileValue {
    case none, rising, falling, both

    public static var typeName: String { "edge" }
}

/// The hardware state of one line, exported or not.
struct GPIOLineState: Sendable {
    var direction = GPIODirection.input
    /// The level this line drives when it is an output.
    var outputLevel = false
    /// The level driven from outside (the control tree), when no wire drives it.
    var externalLevel = false
    /// Only while exported (cleared on unexport, as `gpiod_free` does).
    var activeLow = false
    var edge = GPIOEdge.none
}

/// An exported line, the value behind `gpioN/`: its number and the `sysfs_notify` of `value`.
public struct ExportedLine: Sendable {
    public let number: Int
    public let chip: GPIOChip
    /// Fired on every edge that `edge` selects.
    public let valueChanged = ChangeSignal()
}
