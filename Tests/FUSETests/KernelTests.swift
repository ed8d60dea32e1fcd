import Testing

/// Every test here mounts a tree through the kernel; they run one at a time
/// (a 2-core machine, and the 10,000-writer test wants it to itself).
@Suite(.serialized, .enabled(if: KernelFixture.isAvailable, "SKIPPED: /dev/fuse missing"))
struct KernelTests {}
