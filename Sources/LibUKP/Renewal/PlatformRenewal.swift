/// What the platform supplied to renew this instance: fresh entropy from the host and the
/// host's wall clock (this project's wire extension, `Renewal`).
///
/// A child gets one with the fork's answer (at least 32 bytes of entropy and the clock), the
/// parent a clock alone (its pause), and an instance that connects one in answer to `Hello`.
public struct PlatformRenewal: Sendable, Hashable {
    /// Bytes from the host's random source; empty when the platform sent none.
    public var entropy: [UInt8]
    /// The host's `CLOCK_REALTIME` when it sent this; nil when the platform sent no clock.
    public var hostClock: HostClockReading?

    public init(entropy: [UInt8] = [], hostClock: HostClockReading? = nil) {
        self.entropy = entropy
        self.hostClock = hostClock
    }

    /// The least entropy a child's renewal carries (`RNDADDENTROPY` credits what it gets).
    public static let minimumEntropy = 32
}

/// The host's wall clock as one message carried it, and when the message arrived here.
public struct HostClockReading: Sendable, Hashable {
    /// The host's `CLOCK_REALTIME` in nanoseconds since the Unix epoch, as sent.
    public var realtime: Int64
    /// This instance's monotonic clock when the message arrived.
    public var received: ContinuousClock.Instant
    /// How long the message is estimated to have travelled (half a round trip where one
    /// was measured; zero for an unsolicited message).
    public var transit: Duration

    public init(realtime: Int64, received: ContinuousClock.Instant = .now, transit: Duration = .zero) {
        self.realtime = realtime
        self.received = received
        self.transit = transit
    }

    /// The host's `CLOCK_REALTIME` estimated for the local monotonic instant `now`, in nanoseconds.
    public func hostTime(at now: ContinuousClock.Instant = .now) -> Int64 {
        realtime &+ (now - received + transit).nanoseconds
    }
}

extension Duration {
    /// The duration in whole nanoseconds (saturating).
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return scaled &+ attoseconds / 1_000_000_000
    }
}
