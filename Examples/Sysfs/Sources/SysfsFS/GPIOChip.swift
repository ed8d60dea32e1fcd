/// One GPIO controller as the GPIO class shows it (`gpiochipN/`): lines `base..<base+ngpio`.
public struct GPIOChip: Sendable, Equatable {
    public let base: Int
    public let ngpio: Int
    public let label: String
    /// Whether its lines can raise interrupts: without, exported lines have no `edge` file.
    public let canInterrupt: Bool

    public init(base: Int, ngpio: Int, label: String, canInterrupt: Bool = true) {
        self.base = base
        self.ngpio = ngpio
        self.label = label
        self.canInterrupt = canInterrupt
    }

    public var lines: Range<Int> { base..<base + ngpio }
    /// The class entry's name.
    public var name: String { "gpiochip\(base)" }
}
