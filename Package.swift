// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "Ensemble",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "ensemble", targets: ["ensemble"]),
        .library(name: "EnsembleCore", targets: ["EnsembleCore"]),
        .library(name: "EnsembleStore", targets: ["EnsembleStore"]),
        .library(name: "EnsemblePostgres", targets: ["EnsemblePostgres"]),
        .library(name: "EnsembleArtifacts", targets: ["EnsembleArtifacts"]),
        .library(name: "EnsembleServer", targets: ["EnsembleServer"]),
        .library(name: "EnsembleClient", targets: ["EnsembleClient"]),
        .library(name: "EnsembleMetrics", targets: ["EnsembleMetrics"]),
        .library(name: "EnsembleJSON", targets: ["EnsembleJSON"]),
        .library(name: "EnsembleEval", targets: ["EnsembleEval"]),
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
        // Declared because the server and the client import NIOCore/NIOHTTP1 and HTTPTypes directly
        // (all three are already in the graph through Hummingbird).
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        // NIOHTTPTypes: the request/response parts the connection guard sees (in the graph through Hummingbird).
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        // Server-rendered web UI; templates escape every value by default.
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        // Authentication: the authenticator middleware and request-context protocol, Basic/Bearer header
        // parsing, and bcrypt for passwords.
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        // The PostgreSQL backend (issue 15): the wire protocol, a bounded connection pool, binds.
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        .target(name: "EnsembleCore", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        // Evaluation metrics: pure Swift, no I/O, no dependencies.
        .target(name: "EnsembleMetrics"),
        // The fast JSON parser and writer, shared by the server and the CLI (`ensemble eval`).
        .target(name: "EnsembleJSON"),
        // `ensemble eval`'s engine: streams a predictions file (CSV / JSON Lines) into EnsembleMetrics.
        // A library of its own so the CLI, handoffs and the release gate share it without the server.
        .target(name: "EnsembleEval", dependencies: ["EnsembleJSON", "EnsembleMetrics"]),
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
        // The metadata store on PostgreSQL, for several servers on one database; same contracts as EnsembleStore.
        .target(
            name: "EnsemblePostgres",
            dependencies: [
                "EnsembleCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                // TLS settings for sslmode=require, and ByteBuffer for bytea (in the graph through postgres-nio).
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "EnsembleArtifacts",
            dependencies: [
                "EnsembleCore",
                .product(name: "Crypto", package: "swift-crypto"),
                // S3-compatible storage: its HTTP client (already the CLI's); SigV4 is ours (S3Signer).
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .target(
            name: "EnsembleClient",
            dependencies: [
                "EnsembleCore",
                "EnsembleArtifacts",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .target(
            name: "EnsembleServer",
            dependencies: [
                "EnsembleCore",
                "EnsembleStore",
                "EnsemblePostgres",
                "EnsembleArtifacts",
                "EnsembleJSON",
                // Handoffs recompute every claimed metric from the uploaded predictions.
                "EnsembleEval",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "HummingbirdAuth", package: "hummingbird-auth"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            ],
            // The OpenAPI document of the native API: the one copy (docs/openapi.json links to it),
            // compiled into the binary so the server needs no files beside it.
            resources: [.embedInCode("Resources/openapi.json")]
        ),
        .executableTarget(
            name: "ensemble",
            dependencies: [
                "EnsembleCore",
                "EnsembleServer",
                "EnsembleClient",
                "EnsembleEval",
                "EnsembleMetrics",
                "EnsembleStore",
                "EnsemblePostgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "EnsembleCoreTests", dependencies: ["EnsembleCore"]),
        .testTarget(name: "EnsembleMetricsTests", dependencies: ["EnsembleMetrics"]),
        .testTarget(name: "EnsembleJSONTests", dependencies: ["EnsembleJSON"]),
        .testTarget(name: "EnsembleEvalTests", dependencies: ["EnsembleEval", "EnsembleMetrics"]),
        .testTarget(
            name: "EnsembleStoreTests",
            dependencies: ["EnsembleStore", "EnsembleCore", "EnsemblePostgres", .product(name: "PostgresNIO", package: "postgres-nio")]
        ),
        .testTarget(
            name: "EnsembleArtifactsTests",
            dependencies: ["EnsembleArtifacts", "EnsembleCore", .product(name: "AsyncHTTPClient", package: "async-http-client")]
        ),
        .testTarget(
            name: "EnsembleClientTests",
            dependencies: [
                "EnsembleClient",
                "EnsembleCore",
                "EnsembleServer",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "EnsembleServerTests",
            dependencies: [
                "EnsembleServer",
                "EnsembleCore",
                "EnsembleJSON",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
