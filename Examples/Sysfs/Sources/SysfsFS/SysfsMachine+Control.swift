import VFSKit

extension SysfsMachine {
    /// `control/`: what the world outside the pins does. Not part of sysfs.
    @NodeBuilder var control: [Node] {
        let gpio = self.gpio
        Directory("gpio", "Every GPIO line, exported or not") {
            ForEach(gpio.allLines, "one directory per line", named: "line<N>", entrySummary: "One line's outside") { line in
                File("input", "The level driven into the line from outside")
                    .read("`0` or `1`") { _ in gpio.externalLevel(of: line.key) }
                    .write(KernelInteger<Int>.self, "`0` or non-zero: drives the line (edges fire on inputs)") { _, level in
                        gpio.drive(line.key, high: level.value != 0)
                    }
            }
        }
        File("wires", "Outputs wired to inputs")
            .read("`A>B` pairs: input B follows output A") { _ in gpio.wires.map { "\($0.from)>\($0.to)" }.joined(separator: " ") }
        File("wire", "Wire an output to an input")
            .write(String.self, "`A B`: line B follows line A (EBUSY if B is wired already)") { _, text in
                let (from, to) = try Self.pair(text)
                try gpio.wire(from, to: to)
            }
        File("unwire", "Remove a wire")
            .write(String.self, "`A B`: line B no longer follows line A (EINVAL if it did not)") { _, text in
                let (from, to) = try Self.pair(text)
                try gpio.unwire(from, to: to)
            }
    }

    private static func pair(_ text: String) throws(Errno) -> (Int, Int) {
        let parts = text.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 2 else { throw .invalidArgument }
        return (try KernelInteger<Int>.parse(String(parts[0])), try KernelInteger<Int>.parse(String(parts[1])))
    }
}
