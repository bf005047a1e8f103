import Foundation
import PostgresTestServer
import Testing

/// The store a test daemon runs on: its own SQLite file, or its own
/// database on the tests' private PostgreSQL server (CLUSTER.md).
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres
    var testDescription: String { rawValue }
}

/// A real `jobqueued` in a fresh temp folder (short path: a socket path
/// must fit in 108 bytes), with its own database, socket and config.
final class Daemon: @unchecked Sendable {
    let folder: String
    /// A command the daemon runs under (`ip netns exec NS`), empty for none.
    var launcher: [String] = []
    var socket: String { folder + "/s.sock" }
    /// The SQLite file, or the postgres:// URL.
    let database: String
    var configPath: String { folder + "/jobqueued.yaml" }
    var logPath: String { folder + "/daemon.log" }
    private(set) var process: Process?

    static var binary: String {
        let tests = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [tests, tests.deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent("jobqueued").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return ".build/debug/jobqueued"
    }

    /// `database`: a postgres:// URL several daemons share (a cluster's nodes).
    init(engine: StoreKind = .sqlite, database: String? = nil, config: String = "", start: Bool = true, extraArguments: [String] = [],
         launcher: [String] = []) throws {
        self.launcher = launcher
        folder = "/tmp/jqe-" + UUID().uuidString.prefix(8).lowercased()
        self.database = try database ?? (engine == .postgres ? PostgresTestServer.shared().makeDatabase() : folder + "/jobs.db")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        // On PostgreSQL a loaded test machine is not an outage: requests may
        // wait a minute (the outage tests set their own request_timeout).
        let onPostgres = self.database.hasPrefix("postgres://")
        try writeConfig(onPostgres && !config.contains("postgres:") ? config + "\npostgres:\n  request_timeout: 60s\n  pool: 3\n" : config)
        if start { try self.start(extraArguments: extraArguments) }
    }

    deinit {
        if let process, process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            waitForExit(timeout: 10)  // not waitUntilExit(): it can hang when called from a deinit
        }
        try? FileManager.default.removeItem(atPath: folder)
    }

    func writeConfig(_ text: String) throws {
        try text.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// Starts the daemon and waits until `ping` answers and the log has this
    /// start's "jobqueued started" line, which comes after the socket answers
    /// (deadline 60 s: a loaded machine starts a debug build slowly).
    func start(extraArguments: [String] = [], environment: [String: String]? = nil) throws {
        let startsBefore = startLines
        let process = try launch(["--config", configPath, "--db", database, "--socket", socket, "--log-level", "debug"] + extraArguments,
                                 environment: environment)
        self.process = process
        let deadline = Date().addingTimeInterval(60)
        var answered = false
        while Date() < deadline {
            if !process.isRunning { throw DaemonError.exited(process.terminationStatus, log) }
            if !answered, let client = try? Client(socket), (try? client.call("ping")) != nil { answered = true }
            if answered && startLines > startsBefore { return }
            usleep(20_000)
        }
        throw DaemonError.notReady(log)
    }

    /// How many times the log says "jobqueued started" (it is kept across restarts).
    var startLines: Int { log.components(separatedBy: "jobqueued started").count - 1 }

    /// Runs `jobqueued` with `arguments` (logs to daemon.log).
    func launch(_ arguments: [String], environment: [String: String]? = nil) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: launcher.first ?? Self.binary)
        process.arguments = launcher.isEmpty ? arguments : Array(launcher.dropFirst()) + [Self.binary] + arguments
        if let environment { process.environment = environment }
        if !FileManager.default.fileExists(atPath: logPath) {
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        }
        let log = FileHandle(forWritingAtPath: logPath)!
        log.seekToEndOfFile()
        process.standardError = log
        process.standardOutput = log
        try process.run()
        return process
    }

    /// Runs `jobqueued ARGS` to its end: exit status and output.
    static func runToEnd(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let run = try EndToEndTests.runToEnd(binary, arguments)
        return (run.status, run.output)
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func signal(_ signal: Int32) {
        if let process { kill(process.processIdentifier, signal) }
    }

    /// Waits for the process to exit; its status.
    @discardableResult
    func waitForExit(timeout: TimeInterval = 30) -> Int32? {
        guard let process else { return nil }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// SIGKILL, as a crash.
    func crash() {
        signal(SIGKILL)
        waitForExit()
    }

    func stop() {
        signal(SIGTERM)
        waitForExit()
    }

    func client() throws -> Client { try Client(socket) }
}

enum DaemonError: Error, CustomStringConvertible {
    case exited(Int32, String)
    case notReady(String)

    var description: String {
        switch self {
        case .exited(let status, let log): "jobqueued exited with \(status):\n\(log)"
        case .notReady(let log): "jobqueued did not answer ping in time:\n\(log)"
        }
    }
}

/// Tests that act as another user or mount a file system need root (CI runs
/// as root); elsewhere they are skipped, with the reason in the output.
let isRoot = getuid() == 0

/// Polls `condition` until true or the deadline passes. The default deadline
/// is long on purpose: it only costs time when the test fails, and a
/// loaded machine can take seconds for what takes milliseconds here.
func eventually(timeout: TimeInterval = 30, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        usleep(10_000)
    }
    return try condition()
}

/// Another process (Python's sqlite3) holding a database's write lock for
/// some seconds; it ends by itself. It prints the wall-clock time
/// (CLOCK_REALTIME, seconds) when it took the lock and when it lets it go,
/// so a test can tell what happened while it was held whatever its own
/// thread was doing meanwhile.
final class WriteLock {
    let process = Process()
    private let output = Pipe()
    /// When the lock was taken.
    private(set) var lockedAt: Double = 0

    /// Returns once the lock is held.
    init(_ database: String, seconds: Double) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", "import sqlite3, time; c = sqlite3.connect('\(database)', isolation_level=None); "
                             + "c.execute('BEGIN IMMEDIATE'); print('locked', time.time(), flush=True); time.sleep(\(seconds)); "
                             + "print('releasing', time.time(), flush=True); c.execute('COMMIT')"]
        process.standardOutput = output
        try process.run()
        lockedAt = try time(after: "locked")
    }

    /// Waits until the lock is let go and the process ended; when it let go.
    func waitForRelease() throws -> Double {
        let releasedAt = try time(after: "releasing")
        while process.isRunning { usleep(10_000) }
        return releasedAt
    }

    private func time(after word: String) throws -> Double {
        var text = ""
        while !text.contains("\n") {
            let data = output.fileHandleForReading.availableData
            if data.isEmpty { throw ClientError.failed("the lock holder ended before printing \(word)") }
            text += String(decoding: data, as: UTF8.self)
        }
        let fields = text.split(separator: " ")
        guard fields.count == 2, fields[0] == word, let time = Double(fields[1].trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw ClientError.failed("the lock holder printed \(text)")
        }
        return time
    }
}
