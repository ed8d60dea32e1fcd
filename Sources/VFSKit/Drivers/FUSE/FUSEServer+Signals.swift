import Dispatch
import Glibc

extension FUSEServer {
    /// `serve()` until one of `signals` arrives (default SIGINT 2 and SIGTERM 15), then stop
    /// and unmount: the main loop of a simple daemon.
    public func serve(untilSignalled signals: [Int32] = [2, 15]) {
        let sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak self] in self?.stop() }
            source.resume()
            return source
        }
        serve()
        for source in sources { source.cancel() }
    }
}
