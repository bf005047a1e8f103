import Foundation
import Testing

/// The HTTP listener (OBSERVABILITY.md) against the real daemon: metric
/// values after known workloads, the token's rules (a refusal changes
/// nothing), `unix:` listeners with SO_PEERCRED, and slow clients.
@Suite(.blocking) struct HTTPTests {
    static let listen = "http:\n  listen: \"127.0.0.1:0\"\n"

    @Test(arguments: StoreKind.allCases)
    func metricsCountAKnownWorkload(engine: StoreKind) throws {
        let d = try Daemon(engine: engine, config: Self.listen + """
            handlers:
              flaky:
                command: ["sh", "-c", "exit 3"]
                max_attempts: 2
                backoff: {initial: 10ms, max: 10ms}
              slow:
                command: ["sleep", "5"]
                timeout: 300ms
                max_attempts: 1

            """)
        let c = try d.client()
        let echoes = try (0..<5).map { try c.enqueue("echo", ["payload": ["n": $0]]) }
        let flaky = try c.enqueue("flaky")
        let slow = try c.enqueue("slow")
        for id in echoes { #expect(try c.wait(id)["state"] as? String == "succeeded") }
        #expect(try c.wait(flaky)["state"] as? String == "failed")
        #expect(try c.wait(slow)["state"] as? String == "failed")
        #expect(try c.errorCode("get", ["id": "seven"]) == -32602)

        let port = try d.httpPort()
        let reply = try HTTPProbe.request(.tcp(port: port), "GET", "/metrics")
        #expect(reply.status == 200)
        #expect(reply.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
        let m = parseMetrics(reply.text)
        func value(_ series: String) -> Double? { m[series] }
        #expect(value(#"jobqueue_jobs_enqueued_total{queue="default",handler="echo"}"#) == 5)
        #expect(value(#"jobqueue_jobs_finished_total{queue="default",handler="echo",state="succeeded"}"#) == 5)
        #expect(value(#"jobqueue_jobs_finished_total{queue="default",handler="flaky",state="failed"}"#) == 1)
        #expect(value(#"jobqueue_jobs_finished_total{queue="default",handler="slow",state="failed"}"#) == 1)
        #expect(value(#"jobqueue_attempts_failed_total{queue="default",handler="flaky",reason="exit"}"#) == 2)
        #expect(value(#"jobqueue_attempts_failed_total{queue="default",handler="slow",reason="timeout"}"#) == 1)
        #expect(value(#"jobqueue_attempts_failed_total{queue="default",handler="slow",reason="exit"}"#) == 0)
        #expect(value(#"jobqueue_job_duration_seconds_count{queue="default",handler="echo"}"#) == 5)
        #expect(value(#"jobqueue_job_duration_seconds_count{queue="default",handler="flaky"}"#) == 2)
        // The timed-out attempt ran its 300 ms, no less.
        #expect(value(#"jobqueue_job_duration_seconds_bucket{queue="default",handler="slow",le="0.25"}"#) == 0)
        #expect(value(#"jobqueue_job_duration_seconds_count{queue="default",handler="slow"}"#) == 1)
        #expect(value(#"jobqueue_queue_wait_seconds_count{queue="default"}"#) == 8)  // 5 + 2 + 1 attempts
        #expect(value(#"jobqueue_jobs{queue="default",state="succeeded"}"#) == 5)
        #expect(value(#"jobqueue_jobs{queue="default",state="failed"}"#) == 2)
        #expect(value(#"jobqueue_queue_oldest_due_seconds{queue="default"}"#) == 0)
        #expect(value(#"jobqueue_rpc_requests_total{method="enqueue",code="0"}"#) == 7)
        #expect(value(#"jobqueue_rpc_requests_total{method="get",code="-32602"}"#) == 1)
        #expect(value("jobqueue_workers") == 2 || value("jobqueue_workers") ?? 0 >= 1)
        #expect((value("jobqueue_commits_total") ?? 0) > 0)
        #expect(value("jobqueue_writes_per_commit_count") == value("jobqueue_commit_duration_seconds_count"))
        if engine == .sqlite { #expect((value("jobqueue_wal_bytes") ?? 0) > 0) }  // PostgreSQL's WAL is the server's
        #expect(m.keys.contains { $0.hasPrefix("jobqueue_build_info{version=\"") })
        #expect(value("jobqueue_connections") ?? 0 >= 1)

        // Buckets are cumulative and end at the count.
        let buckets = m.filter { $0.key.hasPrefix(#"jobqueue_job_duration_seconds_bucket{queue="default",handler="echo""#) }
        #expect(buckets.count == 21)
        #expect(buckets[#"jobqueue_job_duration_seconds_bucket{queue="default",handler="echo",le="+Inf"}"#] == 5)

        // Counters only grow: a second scrape after more work adds to the first.
        _ = try c.wait(try c.enqueue("echo"))
        let again = parseMetrics(try HTTPProbe.request(.tcp(port: port), "GET", "/metrics").text)
        #expect(again[#"jobqueue_jobs_enqueued_total{queue="default",handler="echo"}"#] == 6)

        let ping = try c.call("ping")
        #expect((ping["features"] as? [String])?.contains("http") == true)
    }

    /// The other failure reasons: a lease that ran out, an attempt cut by
    /// kill -9 (counted, but not observed as a duration: that would be the
    /// downtime).
    @Test func metricsCountLeaseExpiriesAndInterruptions() throws {
        let d = try Daemon(config: Self.listen + """
            handlers:
              ext:
                external: true
                lease: 1s
                max_attempts: 1
              long:
                command: ["sleep", "30"]
                max_attempts: 2
                backoff: {initial: 10ms, max: 10ms}

            """)
        let c = try d.client()
        let ext = try c.enqueue("ext")
        let reserved = try c.call("reserve", ["handlers": ["ext"], "wait_ms": 10_000])["jobs"] as? [[String: Any]]
        #expect(reserved?.count == 1)
        #expect(try c.wait(ext, timeoutMs: 20_000)["state"] as? String == "failed")  // no heartbeat: the lease runs out
        let long = try c.enqueue("long")
        #expect(eventually { (try? c.get(long)["started_at"] as? String) != nil })
        // Refused: an unknown dependency, a batch with one bad entry (all or nothing).
        #expect(try c.errorCode("enqueue", ["handler": "noop", "after": [999_999]]) == 1001)
        let before = parseMetrics(try HTTPProbe.request(.tcp(port: try d.httpPort()), "GET", "/metrics").text)
        #expect(before[#"jobqueue_attempts_failed_total{queue="default",handler="ext",reason="lease_expired"}"#] == 1)
        #expect(before[#"jobqueue_jobs_enqueued_total{queue="default",handler="noop"}"#] == nil)
        d.crash()
        try d.start()

        // Counters start again with the new process: the recovery's is the one failure.
        let m = parseMetrics(try HTTPProbe.request(.tcp(port: try d.httpPort()), "GET", "/metrics").text)
        #expect(m[#"jobqueue_attempts_failed_total{queue="default",handler="long",reason="interrupted"}"#] == 1)
        #expect(m[#"jobqueue_job_duration_seconds_count{queue="default",handler="long"}"#] == 0)
        _ = try d.client().call("cancel", ["id": long])
    }

    /// A refused request's rolled-back statements count nothing (an unknown
    /// dependency; a batch with one bad entry, all or nothing).
    @Test func refusedWritesCountNothing() throws {
        let d = try Daemon(config: Self.listen)
        let c = try d.client()
        _ = try c.enqueue("noop", ["run_at": "2099-01-01T00:00:00Z"])
        #expect(try c.errorCode("enqueue", ["handler": "noop", "after": [999_999]]) == 1001)
        #expect(try c.errorCode("enqueue_batch", ["jobs": [["handler": "noop"], ["handler": "noop", "after": [999_999]]]]) == 1001)
        let m = parseMetrics(try HTTPProbe.request(.tcp(port: try d.httpPort()), "GET", "/metrics").text)
        #expect(m[#"jobqueue_jobs_enqueued_total{queue="default",handler="noop"}"#] == 1)
        #expect(m[#"jobqueue_rpc_requests_total{method="enqueue",code="1001"}"#] == 1)
        #expect(m[#"jobqueue_rpc_requests_total{method="enqueue_batch",code="1001"}"#] == 1)
    }

    @Test func theTokenGuardsTheAPIAndARefusalChangesNothing() throws {
        let d = try Daemon(config: Self.listen)
        let c = try d.client()
        let id = try c.enqueue("noop", ["run_at": "2099-01-01T00:00:00Z"])
        let port = try d.httpPort()
        let token = d.httpToken
        #expect(token.count == 64 && token.allSatisfy(\.isHexDigit))
        var info = stat()
        #expect(stat(d.folder + "/http.token", &info) == 0 && info.st_mode & 0o777 == 0o600)

        func get(_ path: String, _ headers: [String: String] = [:]) throws -> HTTPReply {
            try HTTPProbe.request(.tcp(port: port), "GET", path, headers: headers)
        }
        func post(_ path: String, _ headers: [String: String] = [:], body: String? = nil) throws -> HTTPReply {
            try HTTPProbe.request(.tcp(port: port), "POST", path, headers: headers, body: body)
        }
        #expect(try get("/api/v1/stats").status == 401)
        #expect(try get("/api/v1/stats", ["Authorization": "Bearer " + String(repeating: "0", count: 64)]).status == 401)
        #expect(try get("/api/v1/stats", ["Authorization": "Bearer \(token)"]).status == 200)
        #expect(try get("/metrics").status == 200)  // open: metrics_need_token is false
        #expect(try get("/").status == 401)
        #expect(try get("/?token=nope").status == 401)

        // The URL's token sets an HttpOnly, SameSite=Strict cookie and leaves the address bar.
        let login = try get("/?token=\(token)")
        #expect(login.status == 303 && login.headers["location"] == "/")
        let cookie = try #require(login.headers["set-cookie"])
        #expect(cookie.contains("jobqueue_token=\(token)") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"))
        let page = try get("/", ["Cookie": "jobqueue_token=\(token)"])
        #expect(page.status == 200 && page.text.contains("content=\"\(token)\""))
        #expect(page.headers["content-security-policy"]?.contains("default-src 'none'") == true)

        // POSTs refused: cookie without X-CSRF-Token, a wrong one, a wrong bearer, none at all.
        let refusals = [
            try post("/api/v1/jobs/\(id)/cancel", ["Cookie": "jobqueue_token=\(token)"]),
            try post("/api/v1/jobs/\(id)/cancel", ["Cookie": "jobqueue_token=\(token)", "X-CSRF-Token": "wrong"]),
            try post("/api/v1/jobs/\(id)/cancel", ["X-CSRF-Token": token]),
            try post("/api/v1/jobs/\(id)/cancel", ["Authorization": "Bearer wrong"]),
            try post("/api/v1/jobs", body: #"{"handler": "noop"}"#),
            try post("/api/v1/queues/default/pause", ["Cookie": "jobqueue_token=\(token)"]),
        ]
        for refusal in refusals {
            #expect(refusal.status == 401)
            #expect(refusal.errorCode == 1004)
        }
        #expect(try c.get(id)["state"] as? String == "scheduled")
        let stats = try c.call("stats")
        let queue = try #require((stats["queues"] as? [String: Any])?["default"] as? [String: Any])
        #expect(queue["scheduled"] as? Int == 1 && queue["queued"] as? Int == 0 && queue["paused"] as? Bool == false)

        // With the cookie and the header, or the bearer, it goes through, with the socket's answers.
        let cancelled = try post("/api/v1/jobs/\(id)/cancel", ["Cookie": "jobqueue_token=\(token)", "X-CSRF-Token": token])
        #expect(cancelled.status == 200 && cancelled.member("state") as? String == "cancelled")
        let again = try post("/api/v1/jobs/\(id)/cancel", ["Authorization": "Bearer \(token)"])
        #expect(again.status == 409 && again.errorCode == 1002)
        let missing = try get("/api/v1/jobs/999999", ["Authorization": "Bearer \(token)"])
        #expect(missing.status == 404 && missing.errorCode == 1001)
        let badBody = try post("/api/v1/jobs", ["Authorization": "Bearer \(token)"], body: "{not json")
        #expect(badBody.status == 400 && badBody.errorCode == -32700)
        let enqueued = try post("/api/v1/jobs", ["Authorization": "Bearer \(token)"], body: #"{"handler": "echo", "payload": {"via": "http"}}"#)
        let newID = try #require(try enqueued.json()["id"] as? Int)
        #expect(try c.wait(newID)["state"] as? String == "succeeded")

        // The list the dashboard pages through, newest first.
        let newest = try get("/api/v1/jobs?order=newest&limit=1", ["Authorization": "Bearer \(token)"]).json()
        #expect(((newest["jobs"] as? [[String: Any]])?.first?["id"] as? Int) == newID)
        #expect(newest["next_before_id"] as? Int == newID)
        let older = try get("/api/v1/jobs?order=newest&before_id=\(newID)", ["Authorization": "Bearer \(token)"]).json()
        #expect(((older["jobs"] as? [[String: Any]])?.map { $0["id"] as? Int }) == [id])
        let throughput = try get("/api/v1/throughput", ["Authorization": "Bearer \(token)"]).json()
        let minutes = try #require(throughput["minutes"] as? [[String: Any]])
        #expect(minutes.count == 60 && minutes.reduce(0) { $0 + ($1["succeeded"] as? Int ?? 0) + ($1["cancelled"] as? Int ?? 0) } == 2)
    }

    @Test func metricsCanNeedTheTokenAndTheTokenFileIsKept() throws {
        let d = try Daemon(config: "http:\n  listen: \"127.0.0.1:0\"\n  metrics_need_token: true\n")
        let port = try d.httpPort()
        let token = d.httpToken
        #expect(try HTTPProbe.request(.tcp(port: port), "GET", "/metrics").status == 401)
        #expect(try HTTPProbe.request(.tcp(port: port), "GET", "/metrics", headers: ["Authorization": "Bearer \(token)"]).status == 200)
        d.stop()
        try d.start()
        #expect(d.httpToken == token)  // the same file, read again
    }

    /// An address for every machine is allowed when written out, and logged
    /// at warning level; the dashboard's URL (with the token) is logged at start.
    @Test func anAddressForEveryMachineIsLoggedAsAWarning() throws {
        let d = try Daemon(config: "http:\n  listen: \"0.0.0.0:0\"\n")
        let port = try d.httpPort()
        #expect(d.log.contains("warning the HTTP listener is open to other machines"), "\(d.log)")
        #expect(d.log.contains("dashboard url=\"http://0.0.0.0:\(port)/?token=\(d.httpToken)\""), "\(d.log)")
        #expect(try HTTPProbe.request(.tcp(port: port), "GET", "/metrics").status == 200)
        let local = try Daemon(config: Self.listen)
        #expect(!local.log.contains("open to other machines"))
    }

    @Test(arguments: [
        ("listen: \"8440\"", "host:port"), ("listen: \":8440\"", "host must be written out"), ("listen: \"127.0.0.1:99999\"", "port"),
        ("listen: \"unix:relative.sock\"", "absolute path"), ("metrics_need_token: maybe", "true or false"), ("port: 8440", "unknown"),
    ])
    func badHTTPSettingsAreConfigErrors(line: String, complaint: String) throws {
        let d = try Daemon(start: false)
        try d.writeConfig("http:\n  \(line)\n")
        let run = try Daemon.runToEnd(["check-config", "--config", d.configPath])
        #expect(run.status == 78)
        #expect(run.output.contains(complaint) && run.output.contains("line 2"), "\(run.output)")
    }

    @Test func aUnixListenerGoesBySOPeerCred() throws {
        let d = try Daemon(start: false)
        let path = d.folder + "/h.sock"
        try d.writeConfig("socket:\n  mode: \"0666\"\n  allow_uids: [4242]\nhttp:\n  listen: \"unix:\(path)\"\n")
        try d.start()
        // Root (this test) may; no token asked for reads.
        let stats = try HTTPProbe.request(.unix(path), "GET", "/api/v1/stats")
        #expect(stats.status == 200)
        // A POST still needs the token (a browser behind a proxy).
        let id = try d.client().enqueue("noop", ["run_at": "2099-01-01T00:00:00Z"])
        #expect(try HTTPProbe.request(.unix(path), "POST", "/api/v1/jobs/\(id)/cancel").status == 401)
        #expect(try HTTPProbe.request(.unix(path), "POST", "/api/v1/jobs/\(id)/cancel", headers: ["X-CSRF-Token": d.httpToken]).status == 200)
        // Another uid, not in allow_uids: 403, from its own process.
        guard isRoot else { return }
        let script = """
            import socket, sys
            s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
            s.sendall(b"GET /api/v1/stats HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n")
            print(s.recv(100).split(b"\\r\\n")[0].decode())
            """
        let run = try shell("setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 -c '\(script)' \(path)")
        #expect(run.output.contains("403"), "\(run.output)")
    }

    /// 200 idle HTTP connections and a slowloris sending a header byte every
    /// 100 ms while RPC clients enqueue and wait: every call is answered,
    /// and the listener still serves others (the timing is in performance.md).
    @Test func slowHTTPClientsDoNotStopTheSocket() throws {
        let d = try Daemon(config: Self.listen)
        let port = try d.httpPort()
        let idle = try (0..<200).map { _ in try HTTPProbe.connectTCP(port: port) }
        defer { idle.forEach { close($0) } }
        let slow = try HTTPProbe.connectTCP(port: port)
        defer { close(slow) }
        let stop = Atomic(false)
        let loris = Thread {
            let head = Array("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ".utf8)
            var index = 0
            while !stop.value {
                let byte = index < head.count ? head[index] : UInt8(ascii: "a")
                _ = send(slow, [byte], 1, Int32(MSG_NOSIGNAL))
                index += 1
                usleep(100_000)
            }
        }
        loris.start()
        defer { stop.value = true }
        let c = try d.client()
        let ids = try (0..<300).map { _ in try c.enqueue("noop") }
        for id in ids { #expect(try c.wait(id)["state"] as? String == "succeeded") }
        #expect(try HTTPProbe.request(.tcp(port: port), "GET", "/metrics").status == 200)
        let m = parseMetrics(try HTTPProbe.request(.tcp(port: port), "GET", "/metrics").text)
        #expect(m[#"jobqueue_jobs_finished_total{queue="default",handler="noop",state="succeeded"}"#] == 300)
    }
}

/// A flag one thread sets and another reads.
final class Atomic<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
