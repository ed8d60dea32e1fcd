import Synchronization
public import VFSKit

/// An LED trigger, as `trigger` lists it.
public enum LEDTrigger: String, Sendable, CaseIterable {
    case none, timer
    case defaultOn = "default-on"
}

/// One LED of the LED class (`/sys/class/leds/<name>/`), with the kernel's rules
/// (drivers/leds/led-class.c, led-triggers.c, trigger/ledtrig-timer.c). Blinking is not
/// simulated: `brightness` shows the level last set.
public final class LED: Sendable {
    public let name: String
    public let maxBrightness: Int
    /// Fired when the trigger changes: `delay_on`/`delay_off` come and go with `timer`.
    public let triggerChanged = ChangeSignal()

    private struct State {
        var brightness = 0
        var trigger = LEDTrigger.none
        var delayOn = 0
        var delayOff = 0
    }

    private let state = Mutex(State())

    public init(name: String, maxBrightness: Int) {
        self.name = name
        self.maxBrightness = maxBrightness
    }

    public var brightness: Int { state.withLock { $0.brightness } }

    /// `brightness`: `kstrtoul` base 10; above `max_brightness` is clamped; 0 also removes
    /// the trigger (`led_trigger_remove`).
    public func setBrightness(_ text: String) throws(Errno) {
        let value = try KernelInteger<UInt>.parse(text, base: 10)
        let triggerRemoved = state.withLock { state -> Bool in
            state.brightness = Int(min(value, UInt(maxBrightness)))
            guard value == 0, state.trigger != .none else { return false }
            state.trigger = .none
            return true
        }
        if triggerRemoved { triggerChanged.signal() }
    }

    public var trigger: LEDTrigger { state.withLock { $0.trigger } }

    /// `trigger` as read: every trigger, the active one in brackets.
    public var triggerList: String {
        let active = trigger
        return LEDTrigger.allCases.map { $0 == active ? "[\($0.rawValue)]" : $0.rawValue }.joined(separator: " ")
    }

    /// `trigger` written: a trigger's name; unknown `EINVAL`. `timer` starts with 500 ms
    /// on and off unless set; `default-on` lights it fully.
    public func setTrigger(_ name: String) throws(Errno) {
        guard let trigger = LEDTrigger(rawValue: name) else { throw .invalidArgument }
        state.withLock { state in
            state.trigger = trigger
            switch trigger {
            case .timer:
                if state.delayOn == 0 && state.delayOff == 0 { (state.delayOn, state.delayOff) = (500, 500) }
            case .defaultOn: state.brightness = maxBrightness
            case .none: break
            }
        }
        triggerChanged.signal()
    }

    public var delayOn: Int { state.withLock { $0.delayOn } }
    public var delayOff: Int { state.withLock { $0.delayOff } }

    /// `delay_on`/`delay_off` (only while the trigger is `timer`): milliseconds, `kstrtoul` base 0.
    public func setDelay(on: Bool, _ milliseconds: UInt) {
        state.withLock { state in
            if on { state.delayOn = Int(milliseconds) } else { state.delayOff = Int(milliseconds) }
        }
    }
}
