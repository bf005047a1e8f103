import Foundation

/// What a program run to its end printed, and how it exited.
struct Finished {
    var status: Int32
    var stdout: String
    var stderr: String
    /// stdout then stderr.
    var output: String { stdout + stderr }
}

/// Runs a program to its end. Both pipes are drained at once (a full stderr
/// cannot block it), and the exit is awaited by polling: Foundation's
/// `waitUntilExit()` can hang when called from a test's deinit.
func runToEnd(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
              stdin: String? = nil, folder: String? = nil) throws -> Finished {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    if let folder { process.currentDirectoryURL = URL(fileURLWithPath: folder) }
    let out = Pipe(), err = Pipe(), input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    try input.fileHandleForWriting.close()
    let stderrData = Locked(Data())
    let stderrDone = DispatchSemaphore(value: 0)
    Thread {
        let data = err.fileHandleForReading.readDataToEndOfFile()
        stderrData.mutate { $0 = data }
        stderrDone.signal()
    }.start()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    stderrDone.wait()
    while process.isRunning { usleep(2000) }
    return Finished(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                    stderr: String(decoding: stderrData.value, as: UTF8.self))
}

/// `/bin/sh -c command`.
func shell(_ command: String, environment: [String: String]? = nil) throws -> Finished {
    try runToEnd("/bin/sh", ["-c", command], environment: environment)
}
