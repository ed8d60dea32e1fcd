// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "ukp-micro-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "ukp", path: "../.."),
        .package(url: "https://github.com/ordo-one/package-benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "HotPaths",
            dependencies: [
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "VFSKit", package: "ukp"),
                .product(name: "LibUKP", package: "ukp"),
            ],
            path: "Benchmarks/HotPaths",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
    ]
)
