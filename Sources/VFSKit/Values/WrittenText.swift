public import SystemPackage

/// Decodes written bytes into the text a `FileValue` parses.
///
/// Control files hold ASCII: bytes outside printable ASCII (NUL, control characters,
/// UTF-8) are `EINVAL`. What happens to the end of the text is the tree's ``Rule``.
public enum WrittenText {
    /// How the end of a written value is read.
    public enum Rule: Sendable, Equatable {
        /// Trailing spaces, tabs, `\r` and `\n` are trimmed (VFSKit's default), so
        /// `echo value > file` and `printf value` both work.
        case trimmingTrailingWhitespace
        /// Exactly one trailing `\n` is ignored, as sysfs compares (`sysfs_streq`):
        /// `"in\n"` is `in`, while `"in\n\n"` and `"in "` are not.
        case strippingOneNewline
    }

    /// Decodes with the default rule, trimming trailing whitespace.
    public static func decode(_ bytes: some Collection<UInt8>) throws(Errno) -> String {
        try decode(bytes, rule: .trimmingTrailingWhitespace)
    }

    /// Decodes with `rule`: `EINVAL` for bytes outside printable ASCII, or a line break left inside.
    public static func decode(_ bytes: some Collection<UInt8>, rule: Rule) throws(Errno) -> String {
        var scalars = [UInt8]()
        scalars.reserveCapacity(bytes.count)
        for byte in bytes {
            guard (0x20...0x7e).contains(byte) || byte == 0x09 || byte == 0x0a || byte == 0x0d else {
                throw .invalidArgument
            }
            scalars.append(byte)
        }
        switch rule {
        case .trimmingTrailingWhitespace:
            while let last = scalars.last, last == 0x20 || last == 0x09 || last == 0x0a || last == 0x0d {
                scalars.removeLast()
            }
        case .strippingOneNewline:
            if scalars.last == 0x0a { scalars.removeLast() }
        }
        if scalars.contains(0x0a) { throw .invalidArgument }
        return String(decoding: scalars, as: UTF8.self)
    }
}
