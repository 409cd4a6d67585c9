// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "Ensemble",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "ensemble", targets: ["ensemble"]),
        .library(name: "EnsembleCore", targets: ["EnsembleCore"]),
        .library(name: "EnsembleStore", targets: ["EnsembleStore"]),
        .library(name: "EnsembleArtifacts", targets: ["EnsembleArtifacts"]),
        .library(name: "EnsembleServer", targets: ["EnsembleServer"]),
        .library(name: "EnsembleClient", targets: ["EnsembleClient"]),
        .library(name: "EnsembleMetrics", targets: ["EnsembleMetrics"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // SHA-256 for content-addressed datasets (BoringSSL-backed on Linux: ~1.5 GB/s per core).
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        // The CLI's HTTP client; already in the graph through Hummingbird's test support.
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        // Server-rendered web UI; templates escape every value by default.
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
    ],
    targets: [
        .target(name: "EnsembleCore", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        // Evaluation metrics: pure Swift, no I/O, no dependencies.
        .target(name: "EnsembleMetrics"),
        .target(
            name: "EnsembleStore",
            dependencies: [
                "EnsembleCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                // The SQLite C API, for the two hot loops (metric inserts, history reads) that bind and
                // read columns directly instead of boxing every value.
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ]
        ),
        .target(name: "EnsembleArtifacts", dependencies: ["EnsembleCore", .product(name: "Crypto", package: "swift-crypto")]),
        .target(
            name: "EnsembleClient",
            dependencies: [
                "EnsembleCore",
                "EnsembleArtifacts",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "EnsembleServer",
            dependencies: [
                "EnsembleCore",
                "EnsembleStore",
                "EnsembleArtifacts",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Mustache", package: "swift-mustache"),
            ]
        ),
        .executableTarget(
            name: "ensemble",
            dependencies: [
                "EnsembleServer",
                "EnsembleClient",
                "EnsembleMetrics",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "EnsembleCoreTests", dependencies: ["EnsembleCore"]),
        .testTarget(name: "EnsembleMetricsTests", dependencies: ["EnsembleMetrics"]),
        .testTarget(name: "EnsembleStoreTests", dependencies: ["EnsembleStore"]),
        .testTarget(name: "EnsembleArtifactsTests", dependencies: ["EnsembleArtifacts"]),
        .testTarget(
            name: "EnsembleClientTests",
            dependencies: [
                "EnsembleClient",
                "EnsembleServer",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
        .testTarget(
            name: "EnsembleServerTests",
            dependencies: [
                "EnsembleServer",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
