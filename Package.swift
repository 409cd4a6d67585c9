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
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        .target(name: "EnsembleCore"),
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
        .target(name: "EnsembleArtifacts", dependencies: ["EnsembleCore"]),
        .target(
            name: "EnsembleServer",
            dependencies: [
                "EnsembleCore",
                "EnsembleStore",
                "EnsembleArtifacts",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "ensemble",
            dependencies: [
                "EnsembleServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "EnsembleCoreTests", dependencies: ["EnsembleCore"]),
        .testTarget(name: "EnsembleStoreTests", dependencies: ["EnsembleStore"]),
        .testTarget(name: "EnsembleArtifactsTests", dependencies: ["EnsembleArtifacts"]),
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
