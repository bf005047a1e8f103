import Foundation
import Testing

/// A real `jobqueued` in a fresh temp folder (short path: a socket path
/// must fit in 108 bytes), with its own database, socket and config.
final class Daemon: @unchecked Sendable {
    let folder: String
    var socket: String { folder + "/s.sock" }
    var database: String { folder + "/jobs.db" }
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

    init(config: String = "", start: Bool = true, extraArguments: [String] = []) throws {
        folder = "/tmp/jqe-" + UUID().uuidString.prefix(8).lowercased()
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try writeConfig(config)
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

    /// Starts the daemon and waits until `ping` answers (deadline 20 s).
    func start(extraArguments: [String] = [], environment: [String: String]? = nil) throws {
        let process = try launch(["--config", configPath, "--db", database, "--socket", socket, "--log-level", "debug"] + extraArguments,
                                 environment: environment)
        self.process = process
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if !process.isRunning { throw DaemonError.exited(process.terminationStatus, log) }
            if let client = try? Client(socket), (try? client.call("ping")) != nil { return }
            usleep(20_000)
        }
        throw DaemonError.notReady(log)
    }

    /// Runs `jobqueued` with `arguments` (logs to daemon.log).
    func launch(_ arguments: [String], environment: [String: String]? = nil) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = arguments
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

/// Polls `condition` until true or the deadline passes.
func eventually(timeout: TimeInterval = 10, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        usleep(10_000)
    }
    return try condition()
}

/// Another process (Python's sqlite3) holding `database`'s write lock for
/// `seconds`; returns once the lock is held. The process ends by itself.
func holdWriteLock(_ database: String, seconds: Double) throws -> Process {
    let locker = Process()
    locker.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
    locker.arguments = ["-c", "import sqlite3, time; c = sqlite3.connect('\(database)', isolation_level=None); "
                        + "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); time.sleep(\(seconds)); c.execute('COMMIT')"]
    let out = Pipe()
    locker.standardOutput = out
    try locker.run()
    _ = out.fileHandleForReading.availableData  // "locked"
    return locker
}
