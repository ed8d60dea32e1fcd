import VFSKit

extension SysfsMachine {
    /// `/sys/class/pwm`: one directory per chip, exported channels inside it.
    @NodeBuilder var pwmClass: [Node] {
        for chip in pwmChips {
            Directory(chip.name, "One PWM controller") {
                File("npwm", "How many channels").read("the number of channels") { _ in chip.npwm }
                File("export", "Export a channel")
                    .write(KernelInteger<UInt32>.self, "a channel: creates pwmM/ (≥ npwm ENODEV, exported EBUSY)") { _, channel in
                        try chip.export(channel.value)
                    }
                File("unexport", "Give a channel back")
                    .write(KernelInteger<UInt32>.self, "an exported channel: removes pwmM/ (else ENODEV)") { _, channel in
                        try chip.unexport(channel.value)
                    }
                Link("subsystem", to: "../../pwm", "The class")
                ForEach(chip.exported, "one directory per exported channel", named: "pwm<M>", entrySummary: "An exported channel") {
                    channel in
                    File("period", "The period")
                        .read("nanoseconds") { _ in try channel.value.current.period }
                        .write(KernelInteger<UInt64>.self, "nanoseconds; below duty_cycle EINVAL") { _, ns in
                            try channel.value.apply { (state: inout PWMChannel.State) throws(Errno) in state.period = ns.value }
                        }
                    File("duty_cycle", "The active time")
                        .read("nanoseconds") { _ in try channel.value.current.dutyCycle }
                        .write(KernelInteger<UInt64>.self, "nanoseconds; above period EINVAL") { _, ns in
                            try channel.value.apply { (state: inout PWMChannel.State) throws(Errno) in state.dutyCycle = ns.value }
                        }
                    File("enable", "Whether the channel runs")
                        .read("`0` or `1`") { _ in try channel.value.current.enabled ? 1 : 0 }
                        .write(KernelInteger<Int32>.self, "`0` or `1` (else EINVAL; 1 with period 0 EINVAL)") { _, value in
                            guard value.value == 0 || value.value == 1 else { throw Errno.invalidArgument }
                            try channel.value.apply { (state: inout PWMChannel.State) throws(Errno) in state.enabled = value.value == 1 }
                        }
                    File("polarity", "Output polarity")
                        .read("`normal` or `inversed`") { _ in try channel.value.current.inversed ? "inversed" : "normal" }
                        .write(String.self, "`normal` or `inversed` (else EINVAL; EBUSY while enabled)") { _, text in
                            guard text == "normal" || text == "inversed" else { throw Errno.invalidArgument }
                            try channel.value.apply { (state: inout PWMChannel.State) throws(Errno) in
                                guard !state.enabled else { throw .resourceBusy }
                                state.inversed = text == "inversed"
                            }
                        }
                }
            }
        }
    }
}
