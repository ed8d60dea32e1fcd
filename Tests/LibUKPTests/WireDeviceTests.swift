import Foundation
import Glibc
import LibUKP
import SystemPackage
import Testing

/// `WirePlatform` on a character device (as `/dev/virtio-ports/ukp` is in a guest): a
/// pseudo-terminal in raw mode, whose master side the test plays as the platform.
@Suite(.timeLimit(.minutes(1))) struct WireDeviceTests {
    @Test(.enabled(if: access("/dev/ptmx", R_OK | W_OK) == 0, "needs /dev/ptmx"))
    func aForkOverACharacterDevice() async throws {
        let master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
        try #require(master >= 0)
        defer { close(master) }
        var unlock: Int32 = 0
        var number: UInt32 = 0
        let (setLock, getNumber): (UInt, UInt) = (0x4004_5431, 0x8004_5430)  // TIOCSPTLCK, TIOCGPTN
        #expect(ioctl(master, setLock, &unlock) == 0)
        #expect(ioctl(master, getNumber, &number) == 0)
        let path = "/dev/pts/\(number)"
        var raw = termios()
        tcgetattr(master, &raw)
        cfmakeraw(&raw)
        tcsetattr(master, TCSANOW, &raw)
        _ = fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK)

        let platform = WirePlatform(path: path, reconnectDelay: .milliseconds(20))
        let engine = ForkEngine(platform: platform)
        try platform.start()
        defer { platform.close() }
        // The slave's line discipline carries the bytes: make it raw (no echo, no newline mapping).
        try await until("slave open") { platform.isConnected }
        let slave = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC)
        #expect(slave >= 0)
        defer { close(slave) }
        tcsetattr(slave, TCSANOW, &raw)

        let task = Task { try await engine.fork(thread: 1) }
        var decoder = WireDecoder()
        var request: WireMessage?
        try await until("ForkRequest") {
            var buffer = [UInt8](repeating: 0, count: 64)
            let count = read(master, &buffer, buffer.count)
            if count > 0 { decoder.append(buffer[..<count]) }
            request = try? decoder.next()
            return request != nil
        }
        #expect(request?.payload == .forkRequest)
        let child = UUID()
        let reply = WireMessage(
            correlationID: request!.correlationID,
            .forkCreated(
                WireForkCreated(
                    child: child, snapshot: UUID(), creationTime: 77, fqdn: "pty")))
        #expect(write(master, reply.encoded, reply.encoded.count) == reply.encoded.count)
        #expect(try await task.value == child)
        #expect(engine.children[child]?.creationTime == 77)
    }
}
