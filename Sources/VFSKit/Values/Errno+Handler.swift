public import SystemPackage

extension Errno {
    /// The errno a handler's error answers: itself for an `Errno`, `EINTR` for a
    /// `CancellationError` (the caller was interrupted), `EIO` for anything else.
    public init(handlerError error: any Error) {
        switch error {
        case let errno as Errno: self = errno
        case is CancellationError: self = .interrupted
        default: self = .ioError
        }
    }
}
