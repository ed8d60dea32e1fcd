import Foundation
import SystemPackage
import Testing

@testable import VFSKit

enum Color: String, FileValue, CaseIterable {
    case red, green, blue
}

enum Level: Int, FileValue {
    case low = 1
    case high = 2
}

/// One value type's round trip through a served file: what is written, what the
/// handler received (rendered back), or the errno.
struct ValueCase: Sendable, CustomTestStringConvertible {
    let testDescription: String
    let written: [UInt8]
    /// The received value rendered with `fileBytes()`; nil when the write must fail with `EINVAL`.
    let expected: String?
    let run: @Sendable ([UInt8]) async throws -> (outcome: Outcome<Int>, received: [[UInt8]])

    static func parse<Value: FileValue>(
        _ type: Value.Type, _ written: [UInt8], _ expected: String?, _ label: String? = nil
    ) -> ValueCase {
        ValueCase(
            testDescription: "\(Value.typeName) ← \(label ?? String(reflecting: written.text))",
            written: written, expected: expected
        ) { written in
            let received = Box<[[UInt8]]>([])
            let driver = try InProcessDriver(
                Tree {
                    File("f", "").write(Value.self, "") { _, value in received.update { $0.append(value.fileBytes()) } }
                })
            let handle = try driver.open("/f", flags: OpenFlags.writeOnly)
            defer { driver.close(handle) }
            let outcome = await Outcome { () async throws(Errno) in try await driver.write(handle, written) }
            return (outcome, received.value)
        }
    }

    static func parse<Value: FileValue>(_ type: Value.Type, _ written: String, _ expected: String?) -> ValueCase {
        parse(type, Array(written.utf8), expected)
    }
}

/// Point 2: typed values.
@Suite("Values")
struct ValueTests {
    static let uuid = "6f1a2b3c-4d5e-4f60-8172-8394a5b6c7d8"

    static let parseCases: [ValueCase] = [
        // String
        .parse(String.self, "hello", "hello\n"),
        .parse(String.self, "hello world\n", "hello world\n"),
        .parse(String.self, "trailing \t \r\n", "trailing\n"),
        .parse(String.self, "tab\there", "tab\there\n"),
        .parse(String.self, "\n", "\n"),
        .parse(String.self, "two\nlines", nil),
        .parse(String.self, "two\nlines\n", nil),
        .parse(String.self, "h\u{e9}llo", nil),
        .parse(String.self, "snow \u{2603}", nil),
        .parse(String.self, [0x61, 0x00, 0x62], nil, "a NUL b"),
        .parse(String.self, [0x00], nil, "NUL"),
        .parse(String.self, [0x61, 0x7f], nil, "DEL"),
        .parse(String.self, [0x61, 0x1b], nil, "ESC"),
        .parse(String.self, [0xff, 0xfe], nil, "invalid UTF-8"),
        // Int
        .parse(Int.self, "42", "42\n"),
        .parse(Int.self, "42\n", "42\n"),
        .parse(Int.self, "-7\n", "-7\n"),
        .parse(Int.self, "+7", "7\n"),
        .parse(Int.self, "9223372036854775807", "9223372036854775807\n"),
        .parse(Int.self, "9223372036854775808", nil),
        .parse(Int.self, "4x", nil),
        .parse(Int.self, "0x10", nil),
        .parse(Int.self, " 42", nil),
        .parse(Int.self, "\n", nil),
        .parse(Int.self, "1 2", nil),
        .parse(UInt32.self, "-1", nil),
        .parse(UInt64.self, "18446744073709551615", "18446744073709551615\n"),
        .parse(Int32.self, "2147483648", nil),
        // Bool
        .parse(Bool.self, "1", "1\n"),
        .parse(Bool.self, "y\n", "1\n"),
        .parse(Bool.self, "yes", "1\n"),
        .parse(Bool.self, "TRUE", "1\n"),
        .parse(Bool.self, "on", "1\n"),
        .parse(Bool.self, "0", "0\n"),
        .parse(Bool.self, "n", "0\n"),
        .parse(Bool.self, "no\n", "0\n"),
        .parse(Bool.self, "false", "0\n"),
        .parse(Bool.self, "off", "0\n"),
        .parse(Bool.self, "2", nil),
        .parse(Bool.self, "maybe", nil),
        .parse(Bool.self, "\n", nil),
        // UUID: always rendered lowercase
        .parse(UUID.self, uuid, uuid + "\n"),
        .parse(UUID.self, uuid + "\n", uuid + "\n"),
        .parse(UUID.self, uuid.uppercased(), uuid + "\n"),
        .parse(UUID.self, String(uuid.dropLast()), nil),
        .parse(UUID.self, uuid + "0", nil),
        .parse(UUID.self, "not-a-uuid", nil),
        .parse(UUID.self, " \n", nil),
        // RawRepresentable enums
        .parse(Color.self, "green\n", "green\n"),
        .parse(Color.self, "Green", nil),
        .parse(Color.self, "purple", nil),
        .parse(Level.self, "2", "2\n"),
        .parse(Level.self, "3", nil),
        .parse(Level.self, "high", nil),
        // Optional: nothing written is nil, which renders as no bytes
        .parse(Int?.self, "5\n", "5\n"),
        .parse(Int?.self, "\n", ""),
        .parse(Int?.self, "five", nil),
        .parse(UUID?.self, uuid, uuid + "\n"),
        // Ignored: any bytes at all (SPEC: the bytes of a fork or wait write are ignored)
        .parse(Ignored.self, "anything at all\n", ""),
        .parse(Ignored.self, "1", ""),
        .parse(Ignored.self, "\u{e9}", ""),
        .parse(Ignored.self, [0x31, 0x00], "", "1 NUL"),
        .parse(Ignored.self, [0xff, 0x00, 0x0a], "", "binary"),
    ]

    @Test(arguments: parseCases)
    func writtenBytesParse(_ testCase: ValueCase) async throws {
        let (outcome, received) = try await testCase.run(testCase.written)
        if let expected = testCase.expected {
            #expect(outcome == .value(testCase.written.count))
            #expect(received == [Array(expected.utf8)])
        } else {
            #expect(outcome == .error(.invalidArgument))
            #expect(received.isEmpty, "the handler must not be called with bytes that do not parse")
        }
    }

    struct RenderCase: Sendable, CustomTestStringConvertible {
        let testDescription: String
        let value: any FileValue
        let expected: String
    }

    static let renderCases: [RenderCase] = [
        RenderCase(testDescription: "String", value: "abc", expected: "abc\n"),
        RenderCase(testDescription: "empty String", value: "", expected: "\n"),
        RenderCase(testDescription: "Int", value: -12, expected: "-12\n"),
        RenderCase(testDescription: "Int64", value: Int64.max, expected: "9223372036854775807\n"),
        RenderCase(testDescription: "UInt32", value: UInt32(7), expected: "7\n"),
        RenderCase(testDescription: "true", value: true, expected: "1\n"),
        RenderCase(testDescription: "false", value: false, expected: "0\n"),
        RenderCase(testDescription: "UUID", value: UUID(uuidString: uuid.uppercased())!, expected: uuid + "\n"),
        RenderCase(testDescription: "enum", value: Color.blue, expected: "blue\n"),
        RenderCase(testDescription: "Int enum", value: Level.low, expected: "1\n"),
        RenderCase(testDescription: "Optional some", value: Int?.some(3), expected: "3\n"),
        RenderCase(testDescription: "Optional none", value: Int?.none, expected: ""),
        RenderCase(testDescription: "Optional UUID none", value: UUID?.none, expected: ""),
        RenderCase(testDescription: "Ignored", value: Ignored(), expected: ""),
    ]

    @Test(arguments: renderCases)
    func valuesRender(_ testCase: RenderCase) async throws {
        let value = testCase.value
        let driver = try InProcessDriver(
            Tree {
                File("f", "").read("") { _ in AnyFileValue(value) }
            })
        #expect(try await driver.readText("/f") == testCase.expected)
        #expect(testCase.value.fileBytes() == Array(testCase.expected.utf8))
    }

    @Test func typeNames() {
        #expect(String.typeName == "string")
        #expect(Int.typeName == "integer")
        #expect(Bool.typeName == "bool")
        #expect(UUID.typeName == "uuid")
        #expect(Optional<UUID>.typeName == "uuid?")
        #expect(Ignored.typeName == "any")
        #expect(Color.typeName == "Color")
    }

    @Test func writtenTextDecoding() throws {
        #expect(try WrittenText.decode(bytes("x \t\r\n")) == "x")
        #expect(try WrittenText.decode(bytes("  leading kept")) == "  leading kept")
        #expect(throws: Errno.invalidArgument) { try WrittenText.decode([0x78, 0x80]) }
        #expect(throws: Errno.invalidArgument) { try WrittenText.decode(bytes("a\nb")) }
    }

    @Test func readOnlyValueIsUnchangedByAFailedParse() async throws {
        let stored = Box(10)
        let driver = try InProcessDriver(
            Tree {
                File("n", "").read("") { _ in stored.value }.write(Int.self, "") { _, value in stored.value = value }
            })
        try await driver.writeText("/n", "11\n")
        #expect(try await driver.readText("/n") == "11\n")
        await #expect(throws: Errno.invalidArgument) { try await driver.writeText("/n", "twelve") }
        #expect(try await driver.readText("/n") == "11\n")
    }
}

/// Renders any value, for table-driven rendering tests.
struct AnyFileValue: FileValue {
    let base: any FileValue
    init(_ base: any FileValue) { self.base = base }
    init(fileText: String) throws(Errno) { throw .invalidArgument }
    func fileBytes() -> [UInt8] { base.fileBytes() }
}
