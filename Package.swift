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
        .executableTarget(
            name: "StoreBenchmark",
            dependencies: ["JobStore", "JobCore"],
            path: "Benchmarks/StoreBenchmark",
            swiftSettings: strict
        ),
        .testTarget(name: "JobCoreTests", dependencies: ["JobCore"], swiftSettings: strict),
        .testTarget(name: "JobStoreTests", dependencies: ["JobStore", "JobCore", "CSQLite"], swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)
