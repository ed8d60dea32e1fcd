#if canImport(Glibc)
import Glibc
#endif

/// What this kernel's FUSE can do, as far as the daemon's survival depends on it.
enum KernelFeatures {
    /// The running kernel's release (`uname -r`).
    static let release: String = {
        var name = utsname()
        uname(&name)
        return withUnsafeBytes(of: name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }()

    /// `FUSE_NOTIFY_RESEND` came in Linux 6.9: a server that takes over a connection gets
    /// the requests its dead predecessor had read.
    static var hasResend: Bool {
        let numbers = release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
        guard numbers.count == 2 else { return false }
        return (numbers[0], numbers[1]) >= (6, 9)
    }
}
