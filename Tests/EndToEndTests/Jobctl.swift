import Foundation

/// Runs the real `jobctl`.
struct Jobctl {
    static var binary: String { (Daemon.binary as NSString).deletingLastPathComponent + "/jobctl" }

    /// `jobctl ARGS` with `JOBQUEUE_SOCKET=socket` (unless nil), stdin and folder.
    static func run(_ arguments: [String], socket: String?, stdin: String? = nil, folder: String? = nil,
                    environment extra: [String: String] = [:]) throws -> Finished {
        var environment = ProcessInfo.processInfo.environment
        environment["JOBQUEUE_SOCKET"] = socket
        environment.merge(extra) { $1 }
        return try runToEnd(binary, arguments, environment: environment, stdin: stdin, folder: folder)
    }
}
