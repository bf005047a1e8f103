import Foundation
import Testing

/// Deterministic crash points (debug builds): the daemon aborts at a chosen
/// place; after a restart, the job is where the table says.
@Suite(.blocking) struct FailpointTests {
    enum Expected {
        /// The enqueue was not acknowledged and nothing was stored.
        case absent
        /// The enqueue was not acknowledged, but the job was committed: it runs once.
        case storedUnacknowledged
        /// The job was stored (acknowledged or not: see below); the attempt the crash cut short is on record and it runs `runs` times in all.
        case recovered(runs: Int)
    }

    static let table: [(String, Expected)] = [
        ("after-begin", .absent),
        ("after-insert", .absent),
        ("after-commit", .storedUnacknowledged),
        ("after-claim", .recovered(runs: 1)),    // the handler had not started
        ("after-handler", .recovered(runs: 2)),  // the handler ran; its end was not committed
    ]

    @Test(arguments: table.map(\.0))
    func crashAt(failpoint: String) throws {
        let expected = Self.table.first { $0.0 == failpoint }!.1
        let d = try Daemon(start: false)
        let ledger = d.folder + "/ledger"
        let script = d.folder + "/record.sh"
        try "#!/bin/sh\necho \"$JOB_ID $JOB_ATTEMPT\" >> \(ledger)\n".write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        try d.writeConfig("handlers:\n  record:\n    command: [\"\(script)\"]\n    backoff: { initial: 10ms, jitter: 0 }\n")
        var environment = ProcessInfo.processInfo.environment
        environment["JOBQUEUE_FAILPOINT"] = failpoint
        try d.start(environment: environment)

        let c = try d.client()
        let acknowledged = try? c.enqueue("record")
        #expect(d.waitForExit() != nil, "the daemon did not stop at \(failpoint)")
        #expect(d.log.contains("failpoint \(failpoint) reached"))

        try d.start()  // no failpoint now
        let after = try d.client()
        let jobs = try after.call("list")["jobs"] as! [[String: Any]]
        switch expected {
        case .absent:
            #expect(acknowledged == nil && jobs.isEmpty)
        case .storedUnacknowledged:
            #expect(acknowledged == nil && jobs.count == 1)
            let id = jobs[0]["id"] as! Int
            #expect(try after.wait(id)["state"] as? String == "succeeded")
        case .recovered(let runs):
            // The enqueue committed before the crash; whether its answer got
            // out first is a race (a free worker claims the job in the same
            // transaction), so only the stored job is checked.
            #expect(jobs.count == 1 && (acknowledged == nil || acknowledged == jobs.first?["id"] as? Int))
            let id = try #require(jobs.first?["id"] as? Int)
            let job = try after.wait(id)
            #expect(job["state"] as? String == "succeeded")
            let errors = job["errors"] as! [[String: Any]]
            #expect(errors.count == 1 && errors[0]["message"] as? String == "daemon stopped during the attempt")
            let lines = try String(contentsOfFile: ledger, encoding: .utf8).split(separator: "\n")
            #expect(lines.count == runs, "\(lines)")
        }
    }
}
