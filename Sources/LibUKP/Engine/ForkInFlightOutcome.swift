/// What became of a fork that an earlier server of this instance sent to the platform and
/// never saw answered (the state journal holds its kernel request): `Platform.forkInFlightOutcome()`.
public enum ForkInFlightOutcome: Sendable, Hashable {
    /// The platform answered it: as `forkWithRenewal()` would have returned or thrown.
    case answered(Result<ForkReply, ForkFailure>)
    /// The platform never received it: nothing was forked, and its request, resent, forks anew.
    case neverReceived
    /// The platform cannot tell: its request, resent, fails with `EIO` (it may have created
    /// a child, which is not forked again).
    case unknown
}
