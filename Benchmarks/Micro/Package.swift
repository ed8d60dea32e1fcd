// swift-tools-version: 6.1
// Micro-benchmarks of the hot paths, with ordo-one/benchmark (package-benchmark). A package
// of its own so that building or testing the root package never builds the benchmark tool.
//
// Only the "MallocInterposer" trait is enabled: the default traits also enable
// "RuntimeInterposer", whose package (ordo-one/swift-runtime-interposer, needed on Linux
// with Swift 6.3 only, for ARC metrics) is not available here. With that trait off,
// SwiftPM does not resolve the package at all. Do not request the ARC metrics (`.arc`,
// `.retainCount`, ...): on Swift 6.3 for Linux they need that interposer.
import PackageDescription

let package = Package(
    name: "ukp-micro-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        // Named, because a path dependency is otherwise known by its folder's name.
        .package(name: "ukp", path: "../.."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "HotPaths",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "VFSKit", package: "ukp"),
                .product(name: "LibUKP", package: "ukp"),
            ],
            path: "Benchmarks/HotPaths",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    ]
)
