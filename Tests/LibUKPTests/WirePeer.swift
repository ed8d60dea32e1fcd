import Foundation
import Glibc
import LibUKP
import Synchronization
import SystemPackage
import Testing

/// The platform's side of the wire, played by a test: a listening Unix socket whose
/// connections speak the protocol's bytes (non-blocking, polled, with deadlines).
final class WirePeer: Sendable {
    let path: String
    private let listener: Int32

    init() throws {
        path = "/tmp/ukp-wire-\(UUID().uuidString.prefix(8)).sock"
        // Close-on-exec: a fusermount3 that libfuse forks in a parallel test must not keep it open.
        listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard listener >= 0 else { throw Errno(rawValue: errno) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0, listen(listener, 8) == 0 else { throw Errno(rawValue: errno) }
    }

    deinit {
        close(listener)
        unlink(path)
    }

    /// The next connection from the platform under test.
    func accept(timeout: Duration = .seconds(60)) async throws -> WirePeerConnection {
        let deadline = ContinuousClock.now + timeout
        while true {
            let fd = Glibc.accept(listener, nil, nil)
            if fd >= 0 {
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                return WirePeerConnection(fd: fd)
            }
            guard errno == EAGAIN || errno == EWOULDBLOCK else { throw Errno(rawValue: errno) }
            guard ContinuousClock.now < deadline else {
                Issue.record("no connection to \(path)")
                throw TimedOut()
            }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    /// Stops accepting: later connection attempts fail.
    func stopListening() { unlink(path) }
}

/// One connection, seen from the platform's side.
final class WirePeerConnection: Sendable {
    private let fd: Int32
    private let decoder = Mutex(WireDecoder())
    private let closed = Atomic(false)

    init(fd: Int32) { self.fd = fd }

    deinit { close() }

    func send(_ bytes: [UInt8]) throws {
        let sent = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard sent == bytes.count else { throw Errno(rawValue: errno) }
    }

    func send(_ message: WireMessage) throws { try send(message.encoded) }

    /// The next message the platform under test sent.
    func receive(timeout: Duration = .seconds(60)) async throws -> WireMessage {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let message = try decoder.withLock({ try $0.next() }) { return message }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if count > 0 {
                decoder.withLock { $0.append(buffer[..<count]) }
                continue
            }
            if count == 0 { throw Errno.connectionReset }
            guard errno == EAGAIN || errno == EWOULDBLOCK else { throw Errno(rawValue: errno) }
            guard ContinuousClock.now < deadline else {
                Issue.record("no message from the platform")
                throw TimedOut()
            }
            try await Task.sleep(for: .milliseconds(1))
        }
    }

    /// Waits until the platform under test has closed its end.
    func waitForEnd(timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            var byte: UInt8 = 0
            let count = recv(fd, &byte, 1, Int32(MSG_DONTWAIT))
            if count == 0 || (count < 0 && errno != EAGAIN && errno != EWOULDBLOCK) { return }
            guard ContinuousClock.now < deadline else {
                Issue.record("the platform kept the connection open")
                throw TimedOut()
            }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    func close() {
        if !closed.exchange(true, ordering: .relaxed) { Glibc.close(fd) }
    }
}

/// Collects a wire platform's log lines.
final class LogLines: Sendable {
    private let lines = Mutex<[(WireLogLevel, String)]>([])

    var log: WirePlatform.Log { { level, line in self.lines.withLock { $0.append((level, line)) } } }

    /// The lines at `level` or above that contain `text`.
    func matching(_ text: String, atLeast level: WireLogLevel = .warning) -> [String] {
        let order: [WireLogLevel] = [.debug, .info, .warning, .error]
        return lines.withLock { lines in
            lines.filter { order.firstIndex(of: $0.0)! >= order.firstIndex(of: level)! && $0.1.contains(text) }
                .map(\.1)
        }
    }
}
