import Foundation
import Testing

/// Every method over the real socket of a real daemon.
@Suite(.blocking) struct ProtocolTests {
    @Test(arguments: StoreKind.allCases) func pingStatsAndTheStartLine(_ engine: StoreKind) throws {
        let d = try Daemon(engine: engine)
        let c = try d.client()
        let ping = try c.call("ping")
        #expect(ping["protocol"] as? Int == 1 && ping["version"] as? String != nil)
        let stats = try c.call("stats")
        let queues = stats["queues"] as! [String: [String: Any]]
        #expect(queues["default"]?["queued"] as? Int == 0 && queues["default"]?["concurrency"] as? Int == 4)
        #expect((stats["workers"] as! [String: Int])["total"]! >= 1 && stats["uptime_ms"] as? Int != nil)
        #expect(d.log.contains("jobqueued started") && d.log.contains("socket=\(d.socket)") && d.log.contains("\(engine)="))
    }

    @Test func statsCountTheWritersCommitsAndWALBytes() throws {
        let d = try Daemon()
        let c = try d.client()
        _ = try c.call("pause", ["queue": "default"])  // nothing else writes meanwhile, but the start-up's pruning may
        let before = try c.call("stats")["storage"] as! [String: Int]
        _ = try c.call("enqueue_batch", ["jobs": [["handler": "noop"], ["handler": "noop"]]])
        let after = try c.call("stats")["storage"] as! [String: Int]
        // The batch is a request in a transaction; its pages went to the WAL.
        #expect(after["commits"]! >= before["commits"]! + 1 && after["writes"]! >= before["writes"]! + 1)
        #expect(after["page_size"]! >= 512 && after["wal_bytes"]! - before["wal_bytes"]! >= after["page_size"]!)
    }

    @Test(arguments: StoreKind.allCases) func enqueueGetWaitList(_ engine: StoreKind) throws {
        let d = try Daemon(engine: engine)
        let c = try d.client()
        let answer = try c.call("enqueue", ["handler": "echo", "payload": ["x": [1, 2]], "tags": ["t1"], "priority": 3])
        #expect(answer["state"] as? String == "queued" && answer["duplicate"] as? Bool == false)
        let id = answer["id"] as! Int
        let done = try c.wait(id)
        #expect(done["state"] as? String == "succeeded" && done["attempts"] as? Int == 1)
        #expect((done["result"] as? [String: Any])?["x"] as? [Int] == [1, 2])
        let job = try c.get(id)
        for key in ["id", "queue", "handler", "payload", "state", "priority", "attempts", "max_attempts", "unique_key", "tags",
                    "created_at", "run_at", "started_at", "finished_at", "timeout_ms", "result", "result_truncated", "error", "errors"] {
            #expect(job.keys.contains(key), "job object lacks \(key)")
        }
        #expect((job["created_at"] as! String).hasSuffix("Z") && (job["created_at"] as! String).count == 24)
        let list = try c.call("list", ["tag": "t1"])
        #expect((list["jobs"] as! [[String: Any]]).map { $0["id"] as! Int } == [id] && list["next_after_id"] is NSNull)
    }

    @Test(arguments: StoreKind.allCases) func submitAndWait(_ engine: StoreKind) throws {
        let d = try Daemon(engine: engine)
        let c = try d.client()
        let job = try c.call("enqueue", ["handler": "echo", "payload": "hi", "wait_ms": 60_000])
        #expect(job["state"] as? String == "succeeded" && job["result"] as? String == "hi" && job["duplicate"] as? Bool == false)
        let timedOut = try c.call("enqueue", ["handler": "sleep", "payload": ["ms": 60_000], "wait_ms": 100])
        #expect(timedOut["state"] as? String == "running" || timedOut["state"] as? String == "queued")
    }

    @Test(arguments: StoreKind.allCases) func answersComeOutOfOrder(_ engine: StoreKind) throws {
        let d = try Daemon(engine: engine)
        let c = try d.client()
        // A job of a minute: its wait can only be answered once the test cancels it.
        let id = try c.enqueue("sleep", ["payload": ["ms": 60_000]])
        try c.send(#"{"jsonrpc":"2.0","id":"slow","method":"wait","params":{"id":\#(id),"timeout_ms":120000}}"#)
        try c.send(#"{"jsonrpc":"2.0","id":"fast","method":"ping"}"#)
        let first = try c.readJSON()
        #expect(first["id"] as? String == "fast")
        try d.client().call("cancel", ["id": id])
        let second = try c.readJSON()
        #expect(second["id"] as? String == "slow" && (second["result"] as? [String: Any])?["state"] as? String == "cancelled")
    }

    @Test(arguments: StoreKind.allCases) func batchesAndNotifications(_ engine: StoreKind) throws {
        let d = try Daemon(engine: engine)
        let c = try d.client()
        try c.send(#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"enqueue","params":{"handler":"noop"}},{"jsonrpc":"2.0","id":2,"method":"nope"},7]"#)
        let line = try #require(try c.readLine())
        let responses = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [[String: Any]]
        #expect(responses.count == 3)  // the notification gets no answer
        let byID = responses.map { $0["id"] is NSNull ? "null" : "\($0["id"]!)" }
        #expect(Set(byID) == ["1", "2", "null"])
        // A notification alone: executed, never answered.
        try c.send(#"{"jsonrpc":"2.0","method":"enqueue","params":{"handler":"noop","unique_key":"n","delay_ms":60000}}"#)
        #expect(try eventually { (try c.call("list")["jobs"] as! [[String: Any]]).count == 2 })
        let batch = try c.call("enqueue_batch", ["jobs": [["handler": "noop"], ["handler": "echo", "payload": 1], ["handler": "noop", "unique_key": "n"]]])
        #expect((batch["ids"] as! [Int]).count == 3 && batch["duplicates"] as? [Bool] == [false, false, true])
    }

    @Test(arguments: StoreKind.allCases) func everyErrorCode(_ engine: StoreKind) throws {
        let d = try Daemon(engine: engine, config: """
            limits:
              max_queued_jobs: 3
            """)
        let c = try d.client()
        try c.send("{nope")
        #expect(((try c.readJSON())["error"] as? [String: Any])?["code"] as? Int == -32700)
        try c.send(#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#)
        #expect(((try c.readJSON())["error"] as? [String: Any])?["code"] as? Int == -32600)
        #expect(try c.errorCode("no_such_method") == -32601)
        let unknownField = try c.request("enqueue", ["handler": "noop", "priorty": 1])
        let error = unknownField["error"] as! [String: Any]
        #expect(error["code"] as? Int == -32602 && (error["message"] as! String).contains("priorty"))
        #expect((error["data"] as? [String: Any])?["field"] as? String == "priorty")
        #expect(try c.errorCode("get", ["id": 999]) == 1001)
        let id = try c.enqueue("noop")
        _ = try c.wait(id)
        #expect(try c.errorCode("cancel", ["id": id]) == 1002)
        #expect(try c.errorCode("retry", ["id": id]) == 1002)
        #expect(try c.errorCode("enqueue", ["handler": "no_such_handler"]) == 1003)
        #expect(try c.errorCode("enqueue", ["handler": "exec", "payload": ["argv": ["true"]]]) == 1003)  // exec is off unless configured
        try c.call("pause", ["queue": "default"])
        for _ in 0..<3 { _ = try c.enqueue("noop") }
        #expect(try c.errorCode("enqueue", ["handler": "noop"]) == 1005)
        #expect(try c.errorCode("enqueue_batch", ["jobs": [["handler": "noop"]]]) == 1005)
        // Invalid params win over the job's state.
        #expect(try c.errorCode("cancel", ["id": "x"]) == -32602)
        let payload = try c.request("enqueue", ["handler": "noop", "payload": String(repeating: "x", count: 300_000)])
        #expect(((payload["error"] as? [String: Any])?["data"] as? [String: Any])?["field"] as? String == "payload")
    }

    @Test(arguments: StoreKind.allCases) func cancelAndRetry(_ engine: StoreKind) throws {
        let d = try Daemon(engine: engine)
        let c = try d.client()
        let scheduled = try c.enqueue("noop", ["delay_ms": 60_000])
        #expect(try c.get(scheduled)["state"] as? String == "scheduled")
        #expect(try c.call("cancel", ["id": scheduled])["state"] as? String == "cancelled")
        let again = try c.call("retry", ["id": scheduled])
        #expect(again["state"] as? String == "queued" && again["attempts"] as? Int == 0)
        #expect(try c.wait(scheduled)["state"] as? String == "succeeded")
    }

    @Test(arguments: StoreKind.allCases) func delayedJobsRunAfterTheirDelay(_ engine: StoreKind) throws {
        let d = try Daemon(engine: engine)
        let c = try d.client()
        let started = Date()
        let id = try c.enqueue("noop", ["delay_ms": 700])
        let job = try c.wait(id)
        #expect(job["state"] as? String == "succeeded" && Date().timeIntervalSince(started) >= 0.7)
        let runAt = try c.enqueue("noop", ["run_at": "2000-01-01T00:00:00Z"])
        #expect(try c.wait(runAt)["run_at"] as? String == "2000-01-01T00:00:00.000Z")
    }

    @Test(arguments: StoreKind.allCases) func priorityDecidesWhoRunsFirst(_ engine: StoreKind) throws {
        let d = try Daemon(engine: engine, extraArguments: ["--workers", "1"])
        let c = try d.client()
        try c.call("pause", ["queue": "default"])
        let low = try c.enqueue("noop", ["priority": -5])
        let high = try c.enqueue("noop", ["priority": 9])
        let mid = try c.enqueue("noop")
        try c.call("resume", ["queue": "default"])
        let finished = try [low, high, mid].map { try c.wait($0)["started_at"] as! String }
        #expect(finished[1] <= finished[2] && finished[2] <= finished[0])
    }

    @Test(arguments: StoreKind.allCases) func uniqueKeysGiveTheSameJob(_ engine: StoreKind) throws {
        let d = try Daemon(engine: engine)
        let c = try d.client()
        let a = try c.call("enqueue", ["handler": "noop", "unique_key": "k", "delay_ms": 60_000])
        let b = try c.call("enqueue", ["handler": "noop", "unique_key": "k"])
        #expect(b["id"] as? Int == a["id"] as? Int && b["duplicate"] as? Bool == true)
    }

    @Test(arguments: StoreKind.allCases) func pauseSurvivesARestart(_ engine: StoreKind) throws {
        let d = try Daemon(engine: engine)
        var c = try d.client()
        #expect(try c.call("pause", ["queue": "default"])["paused"] as? Bool == true)
        let id = try c.enqueue("noop")
        d.stop()
        try d.start()
        c = try d.client()
        #expect((try c.call("stats")["queues"] as! [String: [String: Any]])["default"]?["paused"] as? Bool == true)
        #expect(try c.wait(id, timeoutMs: 300)["state"] as? String == "queued")
        try c.call("resume", ["queue": "default"])
        #expect(try c.wait(id)["state"] as? String == "succeeded")
    }

    @Test(arguments: StoreKind.allCases) func retriesWithBackoffThenFails(_ engine: StoreKind) throws {
        let d = try Daemon(engine: engine, config: """
            handlers:
              fail:
                builtin: fail
                max_attempts: 3
                backoff: { initial: 100ms, factor: 2, max: 1s, jitter: 0 }
            """)
        let c = try d.client()
        let id = try c.enqueue("fail", ["payload": ["message": "boom"]])
        let job = try c.wait(id)
        #expect(job["state"] as? String == "failed" && job["attempts"] as? Int == 3)
        let errors = job["errors"] as! [[String: Any]]
        #expect(errors.count == 3 && errors.allSatisfy { $0["message"] as? String == "boom" })
        #expect((job["error"] as? [String: Any])?["message"] as? String == "boom")
    }
}
