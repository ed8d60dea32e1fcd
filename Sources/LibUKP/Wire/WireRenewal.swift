/// The body of `Renewal` (this project's extension): what a platform sends to renew an instance.
///
/// To a child before `ParentId`: at least 32 bytes of entropy and the clock. To the parent
/// before `ForkCreated`: the clock (its pause). In answer to `Hello`: both.
public struct WireRenewal: Sendable, Hashable {
    /// The host's `CLOCK_REALTIME` in nanoseconds since the Unix epoch; 0 for none.
    public var hostRealtime: UInt64
    /// Bytes from the host's random source: none, or 32 to 512.
    public var entropy: [UInt8]

    public init(hostRealtime: UInt64, entropy: [UInt8] = []) {
        self.hostRealtime = hostRealtime
        self.entropy = entropy
    }

    /// The most entropy one message may carry.
    public static let maximumEntropy = 512

    /// The renewal as the engine takes it, the clock stamped with its arrival here.
    public func renewal(receivedAt received: ContinuousClock.Instant, transit: Duration = .zero) -> PlatformRenewal {
        PlatformRenewal(
            entropy: entropy,
            hostClock: hostRealtime == 0
                ? nil
                : HostClockReading(realtime: Int64(hostRealtime), received: received, transit: transit))
    }
}
