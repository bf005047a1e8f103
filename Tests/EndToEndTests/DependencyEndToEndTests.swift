import Foundation
import Testing

/// Dependencies (SCHEDULING.md) against the real daemon: chains, fan-in,
/// fan-out, failure propagation, a DAG in one batch, and jobctl.
@Suite(.blocking) struct DependencyEndToEndTests {
    static let config = """
        workers: 4
        handlers:
          flaky:
            builtin: fail
            max_attempts: 1

        """

    static func startedAt(_ job: [String: Any]) -> Date { ScheduleTests.date(job["started_at"])! }
    static func finishedAt(_ job: [String: Any]) -> Date { ScheduleTests.date(job["finished_at"])! }

    @Test(arguments: StoreKind.allCases)
    func aChainAFanInAndAFanOutRunInDependencyOrder(engine: StoreKind) throws {
        let d = try Daemon(engine: engine, config: Self.config)
        let c = try d.client()
        let a = try c.enqueue("sleep", ["payload": ["ms": 300]])
        let b = try c.enqueue("echo", ["payload": ["step": "b"], "after": [a]])
        let fanOut = try (0..<3).map { _ in try c.enqueue("noop", ["after": [b]]) }
        let fanIn = try c.enqueue("echo", ["payload": ["step": "end"], "after": fanOut + [a]])
        #expect(try c.get(b)["state"] as? String == "blocked")
        #expect(try c.get(fanIn)["after"] as? [Int] == fanOut + [a])
        let stats = try c.call("stats")["queues"] as! [String: [String: Any]]
        #expect(stats["default"]?["blocked"] as? Int == 5)
        let blocked = try c.call("list", ["state": "blocked"])["jobs"] as! [[String: Any]]
        #expect(blocked.map { $0["id"] as! Int } == [b] + fanOut + [fanIn])

        let end = try c.wait(fanIn)
        #expect(end["state"] as? String == "succeeded")
        let jobA = try c.get(a), jobB = try c.get(b)
        #expect(Self.startedAt(jobB) >= Self.finishedAt(jobA))
        for id in fanOut { #expect(Self.startedAt(try c.get(id)) >= Self.finishedAt(jobB)) }
        for id in fanOut { #expect(Self.startedAt(end) >= Self.finishedAt(try c.get(id))) }
    }

    @Test(arguments: StoreKind.allCases)
    func aFailureCancelsEveryJobDownTheChainAndEndsTheirWaits(engine: StoreKind) throws {
        let d = try Daemon(engine: engine, config: Self.config)
        let c = try d.client()
        let parent = try c.enqueue("sleep", ["payload": ["ms": 200]])
        let failing = try c.enqueue("flaky", ["after": [parent]])
        let child = try c.enqueue("noop", ["after": [failing]])
        let grandchild = try c.enqueue("noop", ["after": [child, parent]])
        // A wait on the last of the chain ends when the failure reaches it.
        let waited = try c.wait(grandchild, timeoutMs: 30_000)
        #expect(waited["state"] as? String == "cancelled")
        #expect((waited["error"] as? [String: Any])?["message"] as? String == "dependency \(child) was cancelled")
        let childJob = try c.get(child)
        #expect(childJob["state"] as? String == "cancelled")
        #expect((childJob["error"] as? [String: Any])?["message"] as? String == "dependency \(failing) failed")
        // In the failure's transaction: the same finished_at.
        #expect(childJob["finished_at"] as? String == (try c.get(failing))["finished_at"] as? String)
        #expect(childJob["attempts"] as? Int == 0)
    }

    @Test(arguments: StoreKind.allCases)
    func aDagInOneBatchIsAllOrNothing(engine: StoreKind) throws {
        let d = try Daemon(engine: engine, config: Self.config)
        let c = try d.client()
        let jobs: [[String: Any]] = [
            ["handler": "echo", "payload": ["n": 0]],
            ["handler": "echo", "payload": ["n": 1], "after_index": [0]],
            ["handler": "echo", "payload": ["n": 2], "after_index": [0]],
            ["handler": "echo", "payload": ["n": 3], "after_index": [1, 2]],
        ]
        let ids = try #require(try c.call("enqueue_batch", ["jobs": jobs])["ids"] as? [Int])
        #expect(try c.wait(ids[3])["state"] as? String == "succeeded")
        #expect(Self.startedAt(try c.get(ids[3])) >= Self.finishedAt(try c.get(ids[1])))
        #expect(Self.startedAt(try c.get(ids[3])) >= Self.finishedAt(try c.get(ids[2])))

        let before = (try c.call("list")["jobs"] as! [[String: Any]]).count
        // One bad entry and nothing is stored: an unknown id, an index that is not earlier, an empty after.
        let unknown = try c.request("enqueue_batch", ["jobs": [["handler": "noop"], ["handler": "noop", "after": [999_999]]]])
        let error = try #require(unknown["error"] as? [String: Any])
        #expect(error["code"] as? Int == 1001)
        #expect((error["data"] as? [String: Any])?["field"] as? String == "after")
        #expect((error["data"] as? [String: Any])?["index"] as? Int == 1)
        #expect(try c.errorCode("enqueue_batch", ["jobs": [["handler": "noop", "after_index": [0]]]]) == -32602)
        #expect(try c.errorCode("enqueue_batch", ["jobs": [["handler": "noop"], ["handler": "noop", "after_index": [1]]]]) == -32602)
        #expect(try c.errorCode("enqueue", ["handler": "noop", "after": []]) == -32602)
        #expect(try c.errorCode("enqueue", ["handler": "noop", "after": [0]]) == -32602)
        #expect(try c.errorCode("enqueue", ["handler": "noop", "after": Array(1...101)]) == -32602)
        #expect(try c.errorCode("enqueue", ["handler": "noop", "after_index": [0]]) == -32602)
        #expect(try c.errorCode("enqueue", ["handler": "noop", "after": [999_999]]) == 1001)
        #expect((try c.call("list")["jobs"] as! [[String: Any]]).count == before)
        #expect((try c.call("ping")["features"] as? [String] ?? []).contains("dependencies"))
    }

    @Test(arguments: StoreKind.allCases)
    func jobctlEnqueuesAfterAndShowsBlockedJobs(engine: StoreKind) throws {
        let d = try Daemon(engine: engine, config: Self.config)
        // Long enough for three jobctl runs of a debug build on a loaded machine (500 ms was not).
        let first = try Jobctl.run(["enqueue", "sleep", "{\"ms\": 4000}"], socket: d.socket)
        let a = first.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let second = try Jobctl.run(["enqueue", "echo", "{\"x\": 1}", "--after", a, "--key", "k1"], socket: d.socket)
        let b = second.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let status = try Jobctl.run(["status", b], socket: d.socket)
        #expect(status.stdout.contains("blocked") && status.stdout.contains("after   \(a)") && status.stdout.contains("key     k1"))
        let list = try Jobctl.run(["list", "--state", "blocked"], socket: d.socket)
        #expect(list.status == 0 && list.stdout.contains(b))
        let table = try Jobctl.run(["status"], socket: d.socket)
        #expect(table.stdout.contains("BLOCKED"))
        let waited = try Jobctl.run(["wait", b], socket: d.socket)
        #expect(waited.status == 0 && waited.stdout.contains("\"x\""))
        #expect(try Jobctl.run(["enqueue", "noop", "--after", "0"], socket: d.socket).status == 2)
    }

    /// kill -9 while a dependency runs: after the restart it is retried
    /// (an interrupted attempt), and its dependents run once it succeeds.
    @Test(arguments: StoreKind.allCases)
    func aKillWhileADependencyRunsLosesNothingOfTheChain(engine: StoreKind) throws {
        let d = try Daemon(engine: engine, config: Self.config + "  slow:\n    builtin: sleep\n    backoff: { initial: 10ms, jitter: 0 }\n")
        let c = try d.client()
        let parent = try c.enqueue("slow", ["payload": ["ms": 2000]])
        let child = try c.enqueue("echo", ["payload": ["after": "kill"], "after": [parent]])
        #expect(eventually(timeout: 20) { (try? c.get(parent)["state"] as? String) == "running" })
        d.crash()
        try d.start()
        let c2 = try d.client()
        #expect(try c2.get(child)["state"] as? String == "blocked")
        let done = try c2.wait(child, timeoutMs: 60_000)
        #expect(done["state"] as? String == "succeeded")
        let errors = try c2.get(parent)["errors"] as! [[String: Any]]
        #expect(errors.count == 1 && (errors[0]["message"] as? String)?.contains("daemon") == true)
    }
}
