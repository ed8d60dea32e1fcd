public import SystemPackage

/// An integer written the way the kernel's `kstrtol`/`kstrtoul` read it with base 0, for
/// files that must accept what sysfs accepts: `0x1b` (hex), `017` (octal), `27`, a leading
/// `+`, and `-` for signed types. Out of `Value`'s range is `ERANGE`; anything else
/// malformed (`" 5"`, `"08"`, `"5x"`, a `-` for an unsigned type) is `EINVAL`.
///
/// ```swift
/// File("export", "Export a line")
///     .write(KernelInteger<Int>.self, "a line number") { _, line in try chip.export(line.value) }
/// ```
/// Opt-in: plain `Int` files keep parsing decimal only. Shown as decimal.
public struct KernelInteger<Value: FixedWidthInteger & Sendable>: FileValue, Hashable, CustomStringConvertible {
    public var value: Value

    public init(_ value: Value) { self.value = value }

    public var description: String { String(value) }

    public func fileBytes() -> [UInt8] { Array((String(value) + "\n").utf8) }

    public init(fileText: String) throws(Errno) {
        value = try Self.parse(Array(fileText.utf8))
    }

    public static var typeName: String { "integer" }

    /// Parses `text` as the kernel's `kstrto*` with `base` (0: by prefix; 8, 10 or 16), for
    /// handlers that must check something else first (sysfs `value` is `EPERM` on an input
    /// before its text is looked at) or that use a fixed base (LED `brightness`: 10).
    public static func parse(_ text: String, base: Int = 0) throws(Errno) -> Value {
        try parse(Array(text.utf8), base: base)
    }

    /// `kstrtoll`/`kstrtoull` (lib/kstrtox.c), then the range of `Value`.
    static func parse(_ text: [UInt8], base: Int = 0) throws(Errno) -> Value {
        var digits = text[...]
        var negative = false
        if digits.first == UInt8(ascii: "-") {
            guard Value.isSigned else { throw .invalidArgument }
            negative = true
            digits = digits.dropFirst()
        } else if digits.first == UInt8(ascii: "+") {
            digits = digits.dropFirst()
        }
        var radix = UInt64(base == 0 ? 10 : base)
        if base == 16, digits.first == UInt8(ascii: "0"), let x = digits.dropFirst().first, x | 0x20 == UInt8(ascii: "x") {
            digits = digits.dropFirst(2)
        } else if base == 0, digits.first == UInt8(ascii: "0") {
            let afterZero = digits.dropFirst()
            if let x = afterZero.first, x | 0x20 == UInt8(ascii: "x"), let next = afterZero.dropFirst().first,
                hexDigit(next) != nil
            {
                radix = 16
                digits = afterZero.dropFirst()
            } else {
                radix = 8
            }
        }
        var magnitude: UInt64 = 0
        var overflow = false
        var count = 0
        for byte in digits {
            guard let digit = hexDigit(byte), UInt64(digit) < radix else { throw .invalidArgument }
            let (shifted, o1) = magnitude.multipliedReportingOverflow(by: radix)
            let (sum, o2) = shifted.addingReportingOverflow(UInt64(digit))
            overflow = overflow || o1 || o2
            magnitude = sum
            count += 1
        }
        guard count > 0 else { throw .invalidArgument }
        if overflow { throw .outOfRange }
        if negative {
            guard magnitude <= UInt64(Value.min.magnitude) else { throw .outOfRange }
            return magnitude == UInt64(Value.min.magnitude) ? Value.min : 0 - Value(magnitude)
        }
        guard let value = Value(exactly: magnitude) else { throw .outOfRange }
        return value
    }

    private static func hexDigit(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
