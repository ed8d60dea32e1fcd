/// A fork's outcome on this side, with what the platform supplied to renew it: for the
/// child, host entropy and the host's clock; for the parent, the host's clock (its pause).
public struct ForkReply: Sendable, Hashable {
    /// Which side of the fork this instance is.
    public var outcome: ForkOutcome
    /// Nil when the platform supplied nothing (it does not speak the wire extension).
    public var renewal: PlatformRenewal?

    public init(_ outcome: ForkOutcome, renewal: PlatformRenewal? = nil) {
        self.outcome = outcome
        self.renewal = renewal
    }
}

extension Platform {
    public func forkWithRenewal() async throws(ForkFailure) -> ForkReply {
        ForkReply(try await fork())
    }

    public func hostClock() async -> HostClockReading? { nil }

    public func forkInFlightOutcome() async -> ForkInFlightOutcome { .unknown }
}

extension PlatformEvents {
    public func becameChild(renewal: PlatformRenewal?) async {
        await becameChild()
    }

    public func platformRenewed(_ renewal: PlatformRenewal) {}

    public func childrenReported(_ children: [ReportedChild]) {}
}
