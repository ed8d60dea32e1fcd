// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "ukp",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "VFSKit", targets: ["VFSKit"]),
        .library(name: "VFSConformance", targets: ["VFSConformance"]),
        .library(name: "LibUKP", targets: ["LibUKP"]),
        .executable(name: "ukp-fuse", targets: ["ukp-fuse"]),
        .library(name: "JobQueueFS", targets: ["JobQueueFS"]),
        .executable(name: "jobqueue-fuse", targets: ["jobqueue-fuse"]),
        .library(name: "SysfsFS", targets: ["SysfsFS"]),
        .executable(name: "sysfs-fuse", targets: ["sysfs-fuse"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        // Child hooks run as processes (no Foundation: the guest's static binary stays small).
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2", traits: []),
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CFUSE",
            pkgConfig: "fuse3",
            providers: [.apt(["libfuse3-dev"])]
        ),
        /// The FUSE device I/O hooks: taking over an initialized connection, request headers.
        .target(name: "CVFSKitIO"),
        .target(
            name: "VFSKit",
            dependencies: [
                "CFUSE", "CVFSKitIO",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Collections", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "VFSConformance",
            dependencies: ["VFSKit", .product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: strict
        ),
        .target(
            name: "LibUKP",
            dependencies: [
                "VFSKit",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Collections", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Subprocess", package: "swift-subprocess"),
            ],
            swiftSettings: strict
        ),
        /// glibc controls Swift cannot call: the allocator (giving freed heap back), prctl.
        .target(name: "CDaemon"),
        .executableTarget(
            name: "ukp-fuse",
            dependencies: [
                "VFSKit", "LibUKP", "CDaemon",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "VFSKitTests",
            dependencies: ["VFSKit", .product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ConformanceTests",
            dependencies: ["VFSConformance", "LibUKP", "VFSKit"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "LibUKPTests",
            dependencies: [
                "LibUKP", "VFSKit",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "vfs-bench-server",
            dependencies: ["VFSKit"],
            path: "Benchmarks/vfs-bench-server",
            swiftSettings: strict
        ),
        .testTarget(
            name: "FUSETests",
            dependencies: ["VFSKit", "VFSConformance", .product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: strict
        ),
        .target(
            name: "CJobQueue",
            path: "Examples/JobQueue/Sources/CJobQueue"
        ),
        .target(
            name: "JobQueueFS",
            dependencies: [
                "CJobQueue", "VFSKit",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Collections", package: "swift-collections"),
            ],
            path: "Examples/JobQueue/Sources/JobQueueFS",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "jobqueue-fuse",
            dependencies: ["JobQueueFS", "VFSKit"],
            path: "Examples/JobQueue/Sources/jobqueue-fuse",
            swiftSettings: strict
        ),
        .testTarget(
            name: "JobQueueFSTests",
            dependencies: ["JobQueueFS", "VFSKit", .product(name: "SystemPackage", package: "swift-system")],
            path: "Examples/JobQueue/Tests/JobQueueFSTests",
            swiftSettings: strict
        ),
        .target(
            name: "SysfsFS",
            dependencies: ["VFSKit"],
            path: "Examples/Sysfs/Sources/SysfsFS",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "sysfs-fuse",
            dependencies: ["SysfsFS", "VFSKit", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Examples/Sysfs/Sources/sysfs-fuse",
            swiftSettings: strict
        ),
        .testTarget(
            name: "SysfsFSTests",
            dependencies: ["SysfsFS", "VFSKit", "VFSConformance"],
            path: "Examples/Sysfs/Tests/SysfsFSTests",
            swiftSettings: strict
        ),
    ]
)
