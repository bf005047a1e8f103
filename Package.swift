// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "jobqueue",
    products: [
        .library(name: "JobCore", targets: ["JobCore"]),
        .library(name: "JobStore", targets: ["JobStore"]),
        .library(name: "JobClient", targets: ["JobClient"]),
        .executable(name: "jobqueued", targets: ["jobqueued"]),
        .executable(name: "jobctl", targets: ["jobctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        // The system libsqlite3 (Debian: libsqlite3-dev), never a vendored copy.
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        // The model: no I/O, no SQLite, never reads the clock.
        .target(name: "JobCore", swiftSettings: strict),
        // The only module with SQL text.
        .target(name: "JobStore", dependencies: ["JobCore", "CSQLite"], swiftSettings: strict),
        // The PostgreSQL engine (CLUSTER.md): the same JobStorage, many nodes on one database.
        .target(
            name: "JobStorePostgres",
            dependencies: [
                "JobCore", "JobStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // posix_spawn with a new process group and every other fd closed.
        .target(name: "CSpawn"),
        // The wire contract: JSON reading/writing, envelopes, params, error codes. No store, no engine.
        .target(name: "JobRPC", dependencies: ["JobCore"], swiftSettings: strict),
        // Config, dispatcher, workers, handlers.
        .target(
            name: "JobEngine",
            dependencies: [
                "JobCore", "JobStore", "CSpawn",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strict
        ),
        // The socket: connections, framing, one handler per method, errors to wire codes.
        .target(
            name: "JobServer",
            dependencies: [
                "JobCore", "JobStore", "JobEngine", "JobRPC",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The HTTP listener (OBSERVABILITY.md): /metrics, the dashboard and its /api/v1/.
        .target(
            name: "JobHTTP",
            dependencies: [
                "JobCore", "JobStore", "JobEngine", "JobServer", "JobRPC",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            // Served from the binary: no file outside it, nothing from a CDN.
            resources: [
                .embedInCode("Dashboard/index.html"),
                .embedInCode("Dashboard/app.css"),
                .embedInCode("Dashboard/app.js"),
                .embedInCode("Dashboard/views.js"),
            ],
            swiftSettings: strict
        ),
        // sd_notify, socket activation, watchdog, journald: pure Swift, no libsystemd.
        .target(name: "SystemdSupport", swiftSettings: strict),
        // The Swift client library other programs use.
        .target(
            name: "JobClient",
            dependencies: [
                "JobCore", "JobRPC",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "jobctl",
            dependencies: [
                "JobCore", "JobRPC", "JobClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "jobqueued",
            dependencies: [
                "JobCore", "JobStore", "JobStorePostgres", "JobEngine", "JobServer", "JobRPC", "JobHTTP", "SystemdSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "StoreBenchmark",
            dependencies: ["JobStore", "JobCore"],
            path: "Benchmarks/StoreBenchmark",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "LoadGenerator",
            dependencies: ["JobCore"],
            path: "Benchmarks/LoadGenerator",
            swiftSettings: strict
        ),
        .testTarget(name: "JobCoreTests", dependencies: ["JobCore"], swiftSettings: strict),
        .testTarget(name: "JobStoreTests", dependencies: ["JobStore", "JobCore", "CSQLite"], swiftSettings: strict),
        // Against a private PostgreSQL server the tests start (Debian's postgresql package).
        .target(name: "PostgresTestServer", dependencies: ["CSpawn"], path: "Tests/Support/PostgresTestServer", swiftSettings: strict),
        .testTarget(name: "PostgresStoreTests", dependencies: ["JobStorePostgres", "JobStore", "JobCore", "PostgresTestServer"],
                    swiftSettings: strict),
        .testTarget(name: "JobRPCTests", dependencies: ["JobRPC", "JobCore"], swiftSettings: strict),
        .testTarget(name: "JobEngineTests", dependencies: ["JobEngine", "JobStore", "JobCore"], swiftSettings: strict),
        .testTarget(
            name: "JobServerTests",
            dependencies: [
                "JobServer", "JobRPC", "JobCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // Runs the real binaries: depending on the executable makes `swift test` build it.
        .testTarget(name: "EndToEndTests", dependencies: ["jobqueued", "jobctl", "JobClient", "JobCore", "PostgresTestServer"],
                    swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)
