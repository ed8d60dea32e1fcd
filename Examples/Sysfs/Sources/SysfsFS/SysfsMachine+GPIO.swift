import VFSKit

extension SysfsMachine {
    /// For conditions over what never changes (a chip's wiring).
    static let never = ChangeSignal()

    /// `/sys/class/gpio`: `export`, `unexport`, `gpiochipN/`, `gpioN/`.
    @NodeBuilder var gpioClass: [Node] {
        let gpio = self.gpio
        File("export", "Export a line to user space")
            .write(KernelInteger<Int>.self, "a global line number: creates gpioN/ (exported EBUSY, no such line EINVAL)") { _, line in
                try gpio.export(line.value)
            }
        File("unexport", "Give a line back")
            .write(KernelInteger<Int>.self, "an exported line number: removes gpioN/ (not exported EINVAL)") { _, line in
                try gpio.unexport(line.value)
            }
        for chip in gpio.chips {
            Directory(chip.name, "One GPIO controller") {
                File("base", "First line number").read("the chip's first global line number") { _ in chip.base }
                File("label", "The chip's label").read("its label") { _ in chip.label }
                File("ngpio", "How many lines").read("the number of lines") { _ in chip.ngpio }
                Link("subsystem", to: "../../gpio", "The class")
            }
        }
        ForEach(gpio.exported, "one directory per exported line", named: "gpio<N>", entrySummary: "An exported line") { line in
            let number = line.key
            File("direction", "in or out")
                .read("`in` or `out`") { _ in gpio.direction(of: number).rawValue }
                .write(String.self, "`in`, `out` (low), `high`, `low`; `EIO` while edge is set") { _, text in
                    try gpio.setDirection(of: number, to: text)
                }
                .allowing([.mode, .owner])
            File("value", "The line's logical level")
                .read("`0` or `1` (inverted by active_low)") { _ in gpio.value(of: number) }
                .write(String.self, "`0` or non-zero, outputs only (an input `EPERM`)") { _, text in
                    try gpio.setValue(of: number, text: text)
                }
                .poll("POLLPRI|POLLERR on each edge that `edge` selects", .changes { _ in try line.value.valueChanged })
                .allowing([.mode, .owner])
            File("edge", "Which edges wake poll(2) on value (only on lines that can interrupt)")
                .read("`none`, `rising`, `falling` or `both`") { _ in gpio.edge(of: number) }
                .write(GPIOEdge.self, "an edge; `EIO` on an output") { _, edge in try gpio.setEdge(of: number, to: edge) }
                .allowing([.mode, .owner])
                .present(while: Condition(when: { gpio.chip(of: number)?.canInterrupt ?? false }, signalledBy: Self.never))
            File("active_low", "Invert value for reads, writes and edges")
                .read("`0` or `1`") { _ in gpio.activeLow(of: number) }
                .write(KernelInteger<Int>.self, "an integer, non-zero inverts") { _, value in
                    gpio.setActiveLow(of: number, to: value.value)
                }
                .allowing([.mode, .owner])
            Link("device", "The line's chip") { "../" + (try line.value).chip.name }
            Link("subsystem", to: "../../gpio", "The class")
        }
    }
}
