import Synchronization
public import VFSKit

/// One exported PWM channel (`pwmchipN/pwmM/`), with the kernel's rules (drivers/pwm/core.c).
public final class PWMChannel: Sendable {
    public let number: Int

    public struct State: Sendable, Equatable {
        public var period: UInt64 = 0
        public var dutyCycle: UInt64 = 0
        public var enabled = false
        public var inversed = false
    }

    private let state = Mutex(State())

    init(number: Int) { self.number = number }

    public var current: State { state.withLock { $0 } }

    /// Applies a change as `pwm_apply_might_sleep` would: a state with `duty_cycle > period`,
    /// or enabled with period 0, is `EINVAL` and nothing changes.
    public func apply(_ change: (inout State) throws(Errno) -> Void) throws(Errno) {
        try state.withLock { state throws(Errno) in
            var next = state
            try change(&next)
            guard next.dutyCycle <= next.period, !(next.enabled && next.period == 0) else { throw .invalidArgument }
            state = next
        }
    }
}

/// A PWM controller as the PWM class shows it (`pwmchipN/`): `npwm` channels, exported on demand.
public final class PWMChip: Sendable {
    public let base: Int
    public let npwm: Int
    public let exported = DynamicEntries<Int, PWMChannel>()

    public init(base: Int, npwm: Int) {
        self.base = base
        self.npwm = npwm
    }

    public var name: String { "pwmchip\(base)" }

    /// `export`: a channel ≥ `npwm` is `ENODEV`, an exported one `EBUSY`.
    public func export(_ channel: UInt32) throws(Errno) {
        guard channel < npwm else { throw .operationNotSupportedByDevice }
        guard exported[Int(channel)] == nil else { throw .resourceBusy }
        exported.insert(PWMChannel(number: Int(channel)), for: Int(channel))
    }

    /// `unexport`: a channel ≥ `npwm`, or not exported, is `ENODEV`.
    public func unexport(_ channel: UInt32) throws(Errno) {
        guard channel < npwm, exported.remove(Int(channel)) != nil else { throw .operationNotSupportedByDevice }
    }
}
