public import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// The real system effects: the kernel's random device, `CLOCK_REALTIME`, and hooks run as
/// processes (`HookProcess`). Reseeding and stepping the clock need root (`CAP_SYS_ADMIN`,
/// `CAP_SYS_TIME`).
public struct LinuxRenewalSystem: RenewalSystem {
    /// The device the random ioctls go to.
    public var randomDevice: String

    public init(randomDevice: String = "/dev/urandom") {
        self.randomDevice = randomDevice
    }

    // <linux/random.h>: _IOW('R', 0x03, int[2]) and _IO('R', 0x07).
    static let addEntropyRequest: UInt = 0x4008_5203
    static let reseedRequest: UInt = 0x5207

    public func addEntropy(_ bytes: [UInt8]) throws(Errno) {
        // struct rand_pool_info { int entropy_count (bits); int buf_size (bytes); __u32 buf[]; }
        var info = [UInt8]()
        info.appendLittleEndian(Int32(clamping: bytes.count * 8))
        info.appendLittleEndian(Int32(clamping: bytes.count))
        info += bytes + [UInt8](repeating: 0, count: (4 - bytes.count % 4) % 4)
        try withRandomDevice { fd throws(Errno) in
            let result = info.withUnsafeMutableBytes { ioctl(fd, Self.addEntropyRequest, $0.baseAddress!) }
            if result != 0 { throw Errno(rawValue: errno) }
        }
    }

    public func reseedCRNG() throws(Errno) {
        try withRandomDevice { fd throws(Errno) in
            if ioctl(fd, Self.reseedRequest) != 0 { throw Errno(rawValue: errno) }
        }
    }

    public func realtime() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }

    public func setRealtime(_ nanoseconds: Int64) throws(Errno) {
        guard nanoseconds > 0 else { throw .invalidArgument }
        var time = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
        if clock_settime(CLOCK_REALTIME, &time) != 0 { throw Errno(rawValue: errno) }
    }

    public func hooks(in directory: String) throws(Errno) -> [String] {
        guard let stream = opendir(directory) else { throw Errno(rawValue: errno) }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if !name.hasPrefix(".") { names.append(name) }
        }
        let base = directory.hasSuffix("/") ? directory : directory + "/"
        return names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            .map { base + $0 }
            .filter { path in
                var info = stat()
                return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFREG && access(path, X_OK) == 0
            }
    }

    public func runHook(_ path: String, environment: [String: String], timeout: Duration) async -> HookResult {
        await HookProcess.run(path, environment: environment, timeout: timeout)
    }

    private func withRandomDevice(_ body: (Int32) throws(Errno) -> Void) throws(Errno) {
        let fd = open(randomDevice, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Errno(rawValue: errno) }
        defer { close(fd) }
        try body(fd)
    }
}
