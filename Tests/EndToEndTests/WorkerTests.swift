import Foundation
import JobClient
import JobCore
import Testing

/// External workers (WORKERS.md) against the real daemon: leases, tokens,
/// expiry, restarts, long-polling workers; each on both engines (one
/// PostgreSQL node; workers across nodes are in ClusterTests).
@Suite(.blocking) struct WorkerTests {
    static let config = """
        workers: 2
        queues:
          ext: { concurrency: 300 }
        handlers:
          ext:
            external: true
            queue: ext
            lease: 1s
            timeout: 60s
            max_attempts: 3
            backoff: { initial: 10ms, factor: 1, max: 10ms, jitter: 0 }
          short:
            external: true
            queue: ext
            lease: 1s
            timeout: 3s
            max_attempts: 1
        """

    /// The first job a reserve gives, with its token.
    func reserveOne(_ client: Client, _ extra: [String: Any] = [:]) throws -> (id: Int, token: String, job: [String: Any]) {
        let jobs = try client.call("reserve", ["handlers": ["ext", "short"], "wait_ms": 30_000].merging(extra) { $1 })["jobs"] as! [[String: Any]]
        let job = try #require(jobs.first)
        return (job["id"] as! Int, (job["lease"] as! [String: Any])["token"] as! String, job)
    }

    /// The whole error object of a call that must fail.
    func error(_ client: Client, _ method: String, _ params: [String: Any]) throws -> [String: Any] {
        try #require(client.request(method, params)["error"] as? [String: Any])
    }

    @Test(arguments: StoreKind.allCases)
    func aReservedJobRunsUnderALeaseAndCompletesWithItsToken(engine: StoreKind) throws {
        let d = try Daemon(engine: engine, config: Self.config)
        let c = try d.client()
        #expect((try c.call("ping")["features"] as? [String])?.contains("workers") == true)
        let id = try c.enqueue("ext", ["payload": ["n": 1]])
        let (reservedID, token, job) = try reserveOne(c, ["worker": "w-1"])
        #expect(reservedID == id && job["state"] as? String == "running" && job["attempts"] as? Int == 1)
        #expect((job["payload"] as? [String: Any])?["n"] as? Int == 1)
        // Others see the lease, not the token.
        let seen = try c.get(id)["lease"] as! [String: Any]
        #expect(seen["worker"] as? String == "w-1" && seen["token"] == nil && seen["expires_at"] is String)
        let beat = try c.call("heartbeat", ["id": id, "token": token, "progress": ["done": 50]])
        #expect(beat["cancel_requested"] as? Bool == false && beat["expires_at"] is String)
        #expect((try c.get(id)["progress"] as? [String: Any])?["done"] as? Int == 50)
        let done = try c.call("complete", ["id": id, "token": token, "result": ["ok": true]])
        #expect(done["state"] as? String == "succeeded" && (done["result"] as? [String: Any])?["ok"] as? Bool == true)
        #expect(done["lease"] == nil)
    }

    @Test(arguments: StoreKind.allCases)
    func aStaleTokenIsRefusedWith1007AndChangesNothing(engine: StoreKind) throws {
        let d = try Daemon(engine: engine, config: Self.config)
        let c = try d.client()
        let id = try c.enqueue("ext")
        let (_, token, _) = try reserveOne(c)
        let before = try c.get(id)
        let wrong = try error(c, "complete", ["id": id, "token": "0000", "result": 1])
        #expect(wrong["code"] as? Int == 1007 && (wrong["data"] as? [String: Any])?["state"] as? String == "running")
        #expect(try error(c, "fail", ["id": id, "token": "0000", "error": ["message": "x"]])["code"] as? Int == 1007)
        #expect(try error(c, "heartbeat", ["id": id, "token": "0000"])["code"] as? Int == 1007)
        #expect(NSDictionary(dictionary: try c.get(id)) == NSDictionary(dictionary: before))
        try c.call("complete", ["id": id, "token": token, "result": "first"])
        // A second end with the same token: the attempt is over.
        let late = try error(c, "fail", ["id": id, "token": token, "error": ["message": "late"]])
        #expect(late["code"] as? Int == 1007 && (late["data"] as? [String: Any])?["state"] as? String == "succeeded")
        let after = try c.get(id)
        #expect(after["result"] as? String == "first" && (after["errors"] as! [Any]).isEmpty)
        #expect(try c.errorCode("complete", ["id": 999, "token": token]) == 1001)
        #expect(try c.errorCode("reserve", ["handlers": ["echo"]]) == 1003)
        #expect(try c.errorCode("reserve", ["handlers": ["ext"], "lease_ms": 10]) == -32602)
    }

    @Test(arguments: StoreKind.allCases)
    func anExpiredLeaseIsAFailedAttemptRetriedWithLeaseExpired(engine: StoreKind) throws {
        let d = try Daemon(engine: engine, config: Self.config)
        let c = try d.client()
        let id = try c.enqueue("ext")
        let (_, token, _) = try reserveOne(c)
        // Nobody heartbeats: within a second of the 1 s lease the attempt fails.
        #expect(try eventually { (try c.get(id)["state"] as? String) != "running" })
        let job = try c.get(id)
        #expect((job["error"] as? [String: Any])?["message"] as? String == "lease expired")
        #expect(try error(c, "complete", ["id": id, "token": token])["code"] as? Int == 1007)
        let (again, newToken, retried) = try reserveOne(c)
        #expect(again == id && newToken != token && retried["attempts"] as? Int == 2)
        try c.call("complete", ["id": id, "token": newToken])
        #expect(try c.get(id)["state"] as? String == "succeeded")
    }

    @Test(arguments: StoreKind.allCases)
    func aHeartbeatNeverExtendsPastTheTimeout(engine: StoreKind) throws {
        let d = try Daemon(engine: engine, config: Self.config)
        let c = try d.client()
        let id = try c.enqueue("short")
        let (_, token, job) = try reserveOne(c)
        let started = try #require(Timestamp(rfc3339: job["started_at"] as! String))
        let beat = try c.call("heartbeat", ["id": id, "token": token, "lease_ms": 3_600_000])
        let expires = try #require(Timestamp(rfc3339: beat["expires_at"] as! String))
        #expect(expires.milliseconds(since: started) == 3000)
        // Heartbeats or not, the attempt ends at its timeout.
        #expect(try eventually { (try c.get(id)["state"] as? String) == "failed" })
        #expect((try c.get(id)["error"] as? [String: Any])?["message"] as? String == "timed out after 3000 ms")
    }

    @Test(arguments: StoreKind.allCases)
    func aCancelledReservationIsLostToItsWorker(engine: StoreKind) throws {
        let d = try Daemon(engine: engine, config: Self.config)
        let c = try d.client()
        let id = try c.enqueue("ext")
        let (_, token, _) = try reserveOne(c)
        #expect(try c.call("cancel", ["id": id])["state"] as? String == "cancelled")
        let lost = try error(c, "heartbeat", ["id": id, "token": token])
        #expect(lost["code"] as? Int == 1007 && (lost["data"] as? [String: Any])?["state"] as? String == "cancelled")
    }

    @Test(arguments: StoreKind.allCases)
    func aWorkerKilledMidJobLosesItAfterTheLease(engine: StoreKind) throws {
        let d = try Daemon(engine: engine, config: Self.config)
        let c = try d.client()
        let id = try c.enqueue("ext")
        // A worker process that reserves, then hangs until killed.
        let request = #"{"jsonrpc":"2.0","id":1,"method":"reserve","params":{"handlers":["ext"],"wait_ms":30000,"worker":"doomed"}}"#
        let worker = Process()
        worker.executableURL = URL(fileURLWithPath: "/bin/sh")
        worker.arguments = ["-c", "(echo '\(request)'; sleep 600) | socat - UNIX-CONNECT:\(d.socket) > \(d.folder)/worker.out"]
        try worker.run()
        #expect(try eventually { (try c.get(id)["state"] as? String) == "running" })
        kill(-worker.processIdentifier, SIGKILL)
        kill(worker.processIdentifier, SIGKILL)
        worker.waitUntilExit()
        #expect(try eventually { (try c.get(id)["error"] as? [String: Any])?["message"] as? String == "lease expired" })
        let (again, token, job) = try reserveOne(c)
        #expect(again == id && job["attempts"] as? Int == 2)
        try c.call("complete", ["id": id, "token": token])
    }

    @Test(arguments: StoreKind.allCases)
    func leasesSurviveADaemonKill(engine: StoreKind) throws {
        let d = try Daemon(engine: engine, config: Self.config.replacingOccurrences(of: "lease: 1s\n    timeout: 60s", with: "lease: 60s\n    timeout: 60s"))
        var c = try d.client()
        let ids = try (0..<3).map { _ in try c.enqueue("ext") }
        let reserved = try c.call("reserve", ["handlers": ["ext"], "max_jobs": 3])["jobs"] as! [[String: Any]]
        #expect(reserved.count == 3)
        d.crash()
        try d.start()
        c = try d.client()
        for job in reserved {
            let id = job["id"] as! Int
            #expect(try c.get(id)["state"] as? String == "running")  // not counted as interrupted
            let done = try c.call("complete", ["id": id, "token": (job["lease"] as! [String: Any])["token"] as! String])
            #expect(done["state"] as? String == "succeeded" && done["attempts"] as? Int == 1 && (done["errors"] as! [Any]).isEmpty)
        }
        #expect(Set(reserved.map { $0["id"] as! Int }) == Set(ids))
    }

    @Test(arguments: StoreKind.allCases)
    func twoHundredWaitingWorkersEachGetOneJob(engine: StoreKind) throws {
        let d = try Daemon(engine: engine, config: Self.config)
        let waiting = try (0..<200).map { _ in try d.client() }
        for (n, w) in waiting.enumerated() {
            try w.send(#"{"jsonrpc":"2.0","id":\#(n),"method":"reserve","params":{"handlers":["ext"],"wait_ms":60000}}"#)
        }
        let c = try d.client()
        // Every call is registered before the jobs come (a worker is listed once it called reserve).
        #expect(try eventually { (try c.call("workers")["workers"] as! [Any]).count == 200 })
        let jobs = (0..<200).map { _ in ["handler": "ext"] }
        let ids = try c.call("enqueue_batch", ["jobs": jobs])["ids"] as! [Int]
        var got: [Int] = []
        for w in waiting {
            let answer = try w.readJSON()["result"] as! [String: Any]
            let reserved = answer["jobs"] as! [[String: Any]]
            #expect(reserved.count == 1)
            got += reserved.map { $0["id"] as! Int }
        }
        #expect(got.sorted() == ids.sorted())
    }

    @Test(arguments: StoreKind.allCases)
    func aQueuesConcurrencyCountsExternalJobs(engine: StoreKind) throws {
        let d = try Daemon(engine: engine, config: Self.config.replacingOccurrences(of: "concurrency: 300", with: "concurrency: 2"))
        let c = try d.client()
        for _ in 0..<5 { _ = try c.enqueue("ext") }
        let first = try c.call("reserve", ["handlers": ["ext"], "max_jobs": 5])["jobs"] as! [[String: Any]]
        #expect(first.count == 2)
        #expect((try c.call("reserve", ["handlers": ["ext"], "max_jobs": 5])["jobs"] as! [Any]).isEmpty)
        let token = (first[0]["lease"] as! [String: Any])["token"] as! String
        try c.call("complete", ["id": first[0]["id"] as! Int, "token": token])
        #expect((try c.call("reserve", ["handlers": ["ext"], "max_jobs": 5])["jobs"] as! [Any]).count == 1)
    }

    @Test(arguments: StoreKind.allCases)
    func aQueueSharedWithTheDaemonsOwnJobsTakesTurns(engine: StoreKind) throws {
        let d = try Daemon(engine: engine, config: (Self.config + """

              mx:
                external: true
                queue: mixed
                lease: 60s
            """).replacingOccurrences(of: "  ext: { concurrency: 300 }", with: "  ext: { concurrency: 300 }\n  mixed: { concurrency: 1 }"))
        let c = try d.client()
        let external = try c.enqueue("mx")
        let (_, token, _) = try reserveOne(c, ["handlers": ["mx"]])
        let own = try c.enqueue("echo", ["queue": "mixed", "payload": "mine"])
        usleep(300_000)
        // The lease holds the queue's one slot: not started (it may be claimed ahead, "running" with no start).
        let waitingOwn = try c.get(own)
        #expect(waitingOwn["started_at"] is NSNull, "\(waitingOwn)")
        try c.call("complete", ["id": external, "token": token])
        #expect(try c.wait(own)["state"] as? String == "succeeded")  // the end freed it for the daemon's job
        // And the other way: a worker waits while the daemon's job holds the slot.
        let sleeper = try c.enqueue("sleep", ["queue": "mixed", "payload": ["ms": 500]])
        #expect(try eventually { (try c.get(sleeper)["state"] as? String) == "running" })
        let next = try c.enqueue("mx")
        let got = try c.call("reserve", ["handlers": ["mx"], "wait_ms": 30_000])["jobs"] as! [[String: Any]]
        #expect(got.map { $0["id"] as! Int } == [next])
        let slept = try c.get(sleeper)
        #expect(slept["state"] as? String == "succeeded", "\(slept) \(got)")
    }

    @Test(arguments: StoreKind.allCases)
    func aReloadMovesUnstartedJobsBetweenWorkersAndTheDaemon(engine: StoreKind) throws {
        let d = try Daemon(engine: engine, config: "handlers:\n  flip: { external: true }\n")
        let c = try d.client()
        let waiting = try c.enqueue("flip", ["payload": "to the daemon"])
        usleep(200_000)
        #expect(try c.get(waiting)["state"] as? String == "queued")  // no worker: it waits
        try d.writeConfig("handlers:\n  flip: { builtin: echo }\n")
        d.signal(SIGHUP)
        let done = try c.wait(waiting)
        #expect(done["state"] as? String == "succeeded" && done["result"] as? String == "to the daemon")
        // And back: a failed job retried after the handler became external again goes to the workers.
        let failing = try c.enqueue("fail", ["max_attempts": 1])
        #expect(try c.wait(failing)["state"] as? String == "failed")
        try d.writeConfig("handlers:\n  flip: { external: true }\n  fail: { external: true }\n")
        d.signal(SIGHUP)
        #expect(eventually { (try? c.errorCode("reserve", ["handlers": ["fail"]])) == nil })
        try c.call("retry", ["id": failing])
        let reserved = try c.call("reserve", ["handlers": ["fail"], "wait_ms": 30_000])["jobs"] as! [[String: Any]]
        #expect(reserved.map { $0["id"] as! Int } == [failing])
    }

    @Test(arguments: StoreKind.allCases)
    func aStoppingDaemonRefusesReservesButTakesEnds(engine: StoreKind) throws {
        let d = try Daemon(engine: engine, config: Self.config + "\nshutdown_grace: 30s\n")
        let c = try d.client()
        let id = try c.enqueue("ext")
        let (_, token, _) = try reserveOne(c)
        _ = try c.enqueue("sleep", ["payload": ["ms": 3000]])  // keeps the daemon in its grace period
        #expect(try eventually { (try c.call("stats")["workers"] as! [String: Any])["busy"] as? Int == 1 })
        d.signal(SIGTERM)
        #expect(eventually { (try? c.errorCode("reserve", ["handlers": ["ext"]])) == 1006 })
        #expect(try c.call("complete", ["id": id, "token": token])["state"] as? String == "succeeded")
        #expect(d.waitForExit() == 0)
    }

    @Test(arguments: StoreKind.allCases)
    func jobctlShowsTheLeaseAndTheWorkers(engine: StoreKind) throws {
        let d = try Daemon(engine: engine, config: Self.config.replacingOccurrences(of: "lease: 1s\n    timeout: 60s", with: "lease: 60s\n    timeout: 60s"))
        let c = try d.client()
        let id = try c.enqueue("ext")
        let (_, token, _) = try reserveOne(c, ["worker": "resizer-7"])
        // The beat on another connection of the same worker: still one worker, the reserving one.
        let beats = try d.client()
        try beats.call("heartbeat", ["id": id, "token": token, "progress": ["step": 3]])
        let status = try Jobctl.run(["status", "\(id)"], socket: d.socket)
        #expect(status.status == 0 && status.stdout.contains("worker  resizer-7") && status.stdout.contains(#"progress {"step":3}"#), "\(status.stdout)")
        let workers = try Jobctl.run(["workers"], socket: d.socket)
        #expect(workers.status == 0 && workers.stdout.contains("resizer-7") && workers.stdout.contains(" \(getpid()) "), "\(workers.stdout)")
        let json = try Jobctl.run(["workers", "--json"], socket: d.socket)
        let listed = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [String: Any]
        #expect((listed["workers"] as! [[String: Any]]).count == 1, "\(listed)")
        let entry = try #require((listed["workers"] as! [[String: Any]]).first { $0["name"] as? String == "resizer-7" })
        #expect(entry["pid"] as? Int == Int(getpid()) && entry["uid"] as? Int == Int(getuid()) && entry["jobs_held"] as? Int == 1)
        #expect(entry["last_heartbeat_at"] is String)
    }

    @Test(arguments: StoreKind.allCases)
    func theSwiftWorkerRunsHandlersWithHeartbeatsAndStops(engine: StoreKind) async throws {
        let d = try Daemon(engine: engine, config: Self.config)
        let client = try await JobClient.connect(socketPath: d.socket)
        defer { client.close() }
        var ids: [JobID] = []
        for n in 0..<12 {
            ids.append(try await client.enqueue(EnqueueRequest(handler: "ext", payload: RawJSON(validatedText: "{\"n\":\(n)}"))).id)
        }
        let permanent = try await client.enqueue(EnqueueRequest(handler: "ext", payload: RawJSON(validatedText: #"{"n":-1}"#))).id
        let worker = JobWorker(client: client, concurrency: 4, name: "swift-worker", handlers: [
            "ext": { job in
                let n = (try? JSONReader.parse(Array(job.job.payload.text.utf8)))?.member("n")?.integer ?? 0
                if n < 0 { throw PermanentFailure("negative") }
                // Longer than the 1 s lease: only the heartbeats keep it.
                if n == 0 { try await Task.sleep(for: .milliseconds(2500)) }
                return RawJSON(validatedText: "\(n * 2)")
            },
        ])
        let running = Task { try await worker.run() }
        for (n, id) in ids.enumerated() {
            let job = try await client.wait(id, timeoutMs: 60_000)
            #expect(job.state == .succeeded && job.result?.text == "\(n * 2)" && job.attempts == 1, "\(job)")
        }
        let failed = try await client.wait(permanent, timeoutMs: 60_000)
        #expect(failed.state == .failed && failed.attempts == 1 && failed.error?.message == "negative")
        worker.stop()
        try await running.value
    }
}
