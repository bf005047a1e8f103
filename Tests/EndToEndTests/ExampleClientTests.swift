import Foundation
import Testing

/// The Python client of docs/protocol.md and the README talks to the real daemon.
@Suite(.blocking) struct ExampleClientTests {
    static let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples/jobqueue_client.py").path

    func run(_ arguments: [String], socket: String) throws -> (status: Int32, output: String) {
        let run = try runToEnd("/usr/bin/env", ["python3", Self.example] + arguments,
                               environment: ProcessInfo.processInfo.environment.merging(["JOBQUEUE_SOCKET": socket]) { $1 })
        return (run.status, run.output)
    }

    @Test func enqueueAndWaitFromPython() throws {
        let d = try Daemon()
        let done = try run(["enqueue", #"{"handler": "echo", "payload": "hi", "wait_ms": 60000}"#], socket: d.socket)
        #expect(done.status == 0 && done.output.contains(#""state": "succeeded""#) && done.output.contains(#""result": "hi""#), "\(done.output)")
        let error = try run(["get", #"{"id": 999}"#], socket: d.socket)
        #expect(error.status == 1 && error.output.contains("1001"))
    }
}
