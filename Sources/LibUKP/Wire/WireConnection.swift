import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// One open byte stream to the platform: a connected Unix socket or a character device
/// (a virtio-serial port such as `/dev/virtio-ports/ukp`).
///
/// `receive` blocks (call it from one thread); `send` may be called from any thread;
/// `interrupt` wakes a blocked `receive` for good. The descriptors close with the object.
final class WireConnection: Sendable {
    /// What one `receive` got.
    enum Received {
        case bytes([UInt8])
        /// The other side closed the stream (or, for a virtio port, the host is not connected).
        case end
        case failed(Errno)
        /// `interrupt()` was called.
        case interrupted
    }

    let path: String
    private let fd: Int32
    private let isSocket: Bool
    private let wakeRead: Int32
    private let wakeWrite: Int32

    /// Connects to the Unix socket at `path`, or opens the device or FIFO there for reading and writing.
    init(path: String) throws(Errno) {
        var info = stat()
        guard stat(path, &info) == 0 else { throw Errno(rawValue: errno) }
        let isSocket = info.st_mode & S_IFMT == S_IFSOCK
        let fd: Int32
        if isSocket {
            fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw Errno(rawValue: errno) }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
                close(fd)
                throw .fileNameTooLong
            }
            withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            guard connected == 0 else {
                let error = Errno(rawValue: errno)
                close(fd)
                throw error
            }
        } else {
            fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY)
            guard fd >= 0 else { throw Errno(rawValue: errno) }
        }
        var wake: [Int32] = [-1, -1]
        guard pipe(&wake) == 0 else {
            let error = Errno(rawValue: errno)
            close(fd)
            throw error
        }
        for end in wake { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        self.path = path
        self.fd = fd
        self.isSocket = isSocket
        self.wakeRead = wake[0]
        self.wakeWrite = wake[1]
    }

    deinit {
        close(fd)
        close(wakeRead)
        close(wakeWrite)
    }

    /// Writes all of `bytes` (messages are small: a blocking write is brief).
    func send(_ bytes: [UInt8]) throws(Errno) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { buffer in
                isSocket
                    ? Glibc.send(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL))
                    : write(fd, buffer.baseAddress, buffer.count)
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw Errno(rawValue: errno)
            }
            offset += written
        }
    }

    /// Blocks until bytes arrive, the stream ends or fails, or `interrupt()` is called.
    func receive() -> Received {
        var fds = [
            pollfd(fd: fd, events: Int16(POLLIN), revents: 0),
            pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0),
        ]
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            if poll(&fds, 2, -1) < 0 {
                if errno == EINTR { continue }
                return .failed(Errno(rawValue: errno))
            }
            if fds[1].revents != 0 { return .interrupted }
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count > 0 { return .bytes(Array(buffer[..<count])) }
            if count == 0 { return .end }
            if errno == EINTR || errno == EAGAIN { continue }
            return .failed(Errno(rawValue: errno))
        }
    }

    /// Wakes `receive` for good and, for a socket, tells the other side the stream is over.
    func interrupt() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
        if isSocket { shutdown(fd, Int32(SHUT_RDWR)) }
    }
}
