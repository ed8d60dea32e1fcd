import VFSKit

extension SysfsMachine {
    /// `/sys/class/leds`: one directory per LED.
    @NodeBuilder var ledClass: [Node] {
        for led in leds {
            Directory(led.name, "One LED") {
                File("brightness", "The LED's brightness")
                    .read("0 to max_brightness") { _ in led.brightness }
                    .write(String.self, "decimal; above max_brightness is clamped; 0 also removes the trigger") { _, text in
                        try led.setBrightness(text)
                    }
                File("max_brightness", "The brightest level").read("an integer") { _ in led.maxBrightness }
                File("trigger", "What drives the LED")
                    .read("every trigger, the active one in [brackets]") { _ in led.triggerList }
                    .write(String.self, "a trigger name (unknown EINVAL)") { _, name in try led.setTrigger(name) }
                let timer = Condition(when: { led.trigger == .timer }, signalledBy: led.triggerChanged)
                File("delay_on", "Blink on-time (timer trigger)")
                    .read("milliseconds") { _ in led.delayOn }
                    .write(KernelInteger<UInt>.self, "milliseconds") { _, ms in led.setDelay(on: true, ms.value) }
                    .present(while: timer)
                File("delay_off", "Blink off-time (timer trigger)")
                    .read("milliseconds") { _ in led.delayOff }
                    .write(KernelInteger<UInt>.self, "milliseconds") { _, ms in led.setDelay(on: false, ms.value) }
                    .present(while: timer)
                Link("subsystem", to: "../../leds", "The class")
            }
        }
    }
}
