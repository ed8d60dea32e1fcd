public import VFSKit

/// The emulated machine: GPIO chips, LEDs and PWM chips, as `sysfs-fuse` serves them.
public final class SysfsMachine: Sendable {
    public let gpio: GPIOController
    public let leds: [LED]
    public let pwmChips: [PWMChip]

    public init(gpio: GPIOController, leds: [LED], pwmChips: [PWMChip]) {
        self.gpio = gpio
        self.leds = leds
        self.pwmChips = pwmChips
    }

    /// Two GPIO chips (lines 0–31 that can interrupt, 32–39 that cannot), two LEDs, one PWM
    /// chip with two channels.
    public static func demo() -> SysfsMachine {
        SysfsMachine(
            gpio: GPIOController(chips: [
                GPIOChip(base: 0, ngpio: 32, label: "sysfs-fuse-a"),
                GPIOChip(base: 32, ngpio: 8, label: "sysfs-fuse-b", canInterrupt: false),
            ]),
            leds: [
                LED(name: "sysfs-fuse:green:status", maxBrightness: 255),
                LED(name: "sysfs-fuse:red:fault", maxBrightness: 1),
            ],
            pwmChips: [PWMChip(base: 0, npwm: 2)])
    }

    /// The whole tree: `class/gpio`, `class/leds`, `class/pwm` (each mountable over
    /// `/sys/class/…`) and `control/` (drive inputs, wire lines).
    public var tree: Tree {
        Tree("sysfs GPIO, LED and PWM classes, emulated", profile: .sysfs) {
            Directory("class", "Device classes") {
                Directory("gpio", "The GPIO class (Documentation/ABI/obsolete/sysfs-gpio)") { gpioClass }
                Directory("leds", "The LED class (Documentation/ABI/testing/sysfs-class-led)") { ledClass }
                Directory("pwm", "The PWM class (Documentation/ABI/testing/sysfs-class-pwm)") { pwmClass }
            }
            Directory("control", "Not sysfs: the world outside the pins") { control }
        }
    }
}
