#if canImport(Glibc)
import Glibc
#endif

/// What the machine has, for spreading work.
enum System {
    static let processorCount: Int = {
        #if canImport(Glibc)
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #else
        return 1
        #endif
    }()
}
