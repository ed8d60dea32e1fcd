import SystemPackage
import Testing
import VFSKit

/// `kstrtol`/`kstrtoul` with base 0, as lib/kstrtox.c reads written integers.
@Suite struct KernelIntegerTests {
    @Test(arguments: [
        ("27", 27), ("0x1b", 27), ("0X1B", 27), ("033", 27), ("0", 0), ("+5", 5), ("-5", -5),
        ("-0x10", -16), ("9223372036854775807", Int.max), ("-9223372036854775808", Int.min),
    ])
    func parses(_ text: String, _ value: Int) throws {
        #expect(try KernelInteger<Int>(fileText: text).value == value)
    }

    @Test(arguments: [
        ("", Errno.invalidArgument), (" 5", .invalidArgument), ("5 ", .invalidArgument), ("08", .invalidArgument),
        ("0x", .invalidArgument), ("5x", .invalidArgument), ("--5", .invalidArgument), ("+-5", .invalidArgument),
        ("9223372036854775808", .outOfRange), ("-9223372036854775809", .outOfRange),
        ("99999999999999999999999", .outOfRange),
    ])
    func refuses(_ text: String, _ errno: Errno) {
        #expect(throws: errno) { try KernelInteger<Int>(fileText: text) }
    }

    @Test func rangesOfSmallerAndUnsignedTypes() throws {
        #expect(throws: Errno.outOfRange) { try KernelInteger<UInt8>(fileText: "256") }
        #expect(try KernelInteger<UInt8>(fileText: "0xff").value == 255)
        #expect(throws: Errno.invalidArgument) { try KernelInteger<UInt32>(fileText: "-1") }
        #expect(throws: Errno.outOfRange) { try KernelInteger<Int32>(fileText: "-2147483649") }
        #expect(try KernelInteger<Int>.parse("010", base: 10) == 10)
        #expect(throws: Errno.invalidArgument) { try KernelInteger<Int>.parse("0x10", base: 10) }
        #expect(try KernelInteger<Int>.parse("0x10", base: 16) == 16)
    }

    @Test func oneTrailingNewlineUnderTheSysfsRule() throws {
        #expect(try KernelInteger<Int>(fileBytes: Array("12\n".utf8), rule: .strippingOneNewline).value == 12)
        #expect(throws: Errno.invalidArgument) {
            try KernelInteger<Int>(fileBytes: Array("12\n\n".utf8), rule: .strippingOneNewline)
        }
        #expect(KernelInteger<Int>(-3).fileBytes() == Array("-3\n".utf8))
    }
}
