public import SystemPackage

/// Decodes written bytes into the text a `FileValue` parses.
///
/// Control files hold ASCII: bytes outside printable ASCII (NUL, control characters,
/// UTF-8) are `EINVAL`. Trailing whitespace is trimmed, so `echo value > file` works.
public enum WrittenText {
    public static func decode(_ bytes: some Collection<UInt8>) throws(Errno) -> String {
        var scalars = [UInt8]()
        scalars.reserveCapacity(bytes.count)
        for byte in bytes {
            guard (0x20...0x7e).contains(byte) || byte == 0x09 || byte == 0x0a || byte == 0x0d else {
                throw .invalidArgument
            }
            scalars.append(byte)
        }
        while let last = scalars.last, last == 0x20 || last == 0x09 || last == 0x0a || last == 0x0d {
            scalars.removeLast()
        }
        if scalars.contains(0x0a) { throw .invalidArgument }
        return String(decoding: scalars, as: UTF8.self)
    }
}
