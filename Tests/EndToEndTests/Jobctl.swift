import Foundation

/// Runs the real `jobctl`.
struct Jobctl {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static var binary: String { (Daemon.binary as NSString).deletingLastPathComponent + "/jobctl" }

    /// `jobctl ARGS` with `JOBQUEUE_SOCKET=socket` (unless nil), stdin and folder.
    static func run(_ arguments: [String], socket: String?, stdin: String? = nil, folder: String? = nil,
                    environment extra: [String: String] = [:]) throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["JOBQUEUE_SOCKET"] = socket
        environment.merge(extra) { $1 }
        process.environment = environment
        if let folder { process.currentDirectoryURL = URL(fileURLWithPath: folder) }
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        while process.isRunning { usleep(2000) }
        return Run(status: process.terminationStatus, stdout: stdout, stderr: stderr)
    }
}
