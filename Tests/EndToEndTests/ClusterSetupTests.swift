import Foundation
import PostgresTestServer
import Testing

/// The set-up choices of docs/cluster.md against a real server: TLS
/// (`sslmode`), a password from `password_file`, polling alone
/// (`notify: false`), and a node restarted under its own name.
@Suite(.blocking) struct ClusterSetupTests {
    /// A CA and a server certificate for 127.0.0.1, made with openssl in `folder`.
    static func makeCertificates(in folder: String) throws {
        let script = """
            set -e; cd \(folder)
            openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=jq-test-ca 2>/dev/null
            openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost 2>/dev/null
            printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile san.ext 2>/dev/null
            chmod 600 server.key
            """
        let run = try runToEnd("/bin/sh", ["-c", script])
        #expect(run.status == 0, "\(run.output)")
    }

    /// A daemon on `url` that must fail at start (`postgres`: more lines of
    /// that section): its output.
    static func refusedStart(_ url: String, postgres: String = "") throws -> String {
        let d = try Daemon(database: url, config: "postgres:\n  request_timeout: 5s\n" + postgres, start: false)
        let run = try Daemon.runToEnd(["--config", d.configPath, "--db", url, "--socket", d.socket])
        #expect(run.status != 0)
        return run.output
    }

    @Test func sslModesEncryptVerifyOrRefuse() throws {
        let server = try PostgresTestServer.dedicated()
        let certs = server.folder + "/certs"
        try FileManager.default.createDirectory(atPath: certs, withIntermediateDirectories: true)
        try Self.makeCertificates(in: certs)
        // TLS only: a connection in the clear is refused by the server.
        try server.reconfigure(settings: ["ssl = on", "ssl_cert_file = '\(certs)/server.pem'", "ssl_key_file = '\(certs)/server.key'"],
                               hbaFirst: ["hostnossl all all 127.0.0.1/32 reject"], owned: [certs, certs + "/server.pem", certs + "/server.key"])
        let url = try server.makeDatabase()
        let database = String(url.split(separator: "/").last!)

        for query in ["", "?sslmode=require", "?sslmode=verify-ca&sslrootcert=\(certs)/ca.pem", "?sslmode=verify-full&sslrootcert=\(certs)/ca.pem"] {
            let d = try Daemon(database: url + query)
            let job = try d.client().call("enqueue", ["handler": "echo", "payload": "tls", "wait_ms": 20_000])
            #expect(job["state"] as? String == "succeeded", "\(query)")
            let encrypted = try server.psql("SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE ssl AND datname = '\(database)'")
            #expect(Int(encrypted) ?? 0 >= 1, "\(query): the node's connections use TLS")
            d.stop()
        }
        let inTheClear = try Self.refusedStart(url + "?sslmode=disable")
        #expect(inTheClear.contains("pg_hba.conf"), "\(inTheClear)")
        // The system's CAs do not know the test CA.
        let unverified = try Self.refusedStart(url + "?sslmode=verify-full")
        #expect(unverified.lowercased().contains("certificate"), "\(unverified)")
        #expect(try Self.refusedStart(url + "?sslmode=sometimes").contains("expected disable, allow, prefer, require, verify-ca or verify-full"))
    }

    @Test func aPasswordFileLogsInAndAWrongOneIsAClearError() throws {
        let server = try PostgresTestServer.dedicated()
        try server.psql("CREATE ROLE pw LOGIN PASSWORD 'sekret'")
        try server.psql("CREATE DATABASE pwdb OWNER pw")
        try server.reconfigure(hbaFirst: ["host all pw 127.0.0.1/32 scram-sha-256"])
        let url = "postgres://pw@127.0.0.1:\(server.port)/pwdb"
        let folder = server.folder
        let right = folder + "/right.pass", wrong = folder + "/wrong.pass"
        try "sekret\n".write(toFile: right, atomically: true, encoding: .utf8)
        try "guess\n".write(toFile: wrong, atomically: true, encoding: .utf8)

        let d = try Daemon(database: url, config: "postgres:\n  password_file: \(right)\n  request_timeout: 60s\n  pool: 3\n")
        #expect(try d.client().call("enqueue", ["handler": "echo", "payload": 1, "wait_ms": 20_000])["state"] as? String == "succeeded")
        d.stop()
        let refused = try Self.refusedStart(url, postgres: "  password_file: \(wrong)\n")
        #expect(refused.contains("password authentication failed"), "\(refused)")
        #expect(!refused.contains("guess"), "the password is not logged")
        #expect(try Self.refusedStart(url, postgres: "  password_file: \(folder)/missing\n").contains("cannot read password_file"))
    }

    /// `notify: false` (PgBouncer in transaction mode): work enqueued on one
    /// node reaches another by its poll, and so does the end a `wait` is for.
    @Test func withoutNotificationsTheNodesPoll() throws {
        let url = try PostgresTestServer.shared().makeDatabase()
        let database = String(url.split(separator: "/").last!)
        func config(_ name: String, workers: Int) -> String {
            "workers: \(workers)\nnode:\n  name: \(name)\npostgres:\n  notify: false\n  request_timeout: 60s\n  pool: 3\n"
        }
        let a = try Daemon(database: url, config: config("p1", workers: 1))
        let b = try Daemon(database: url, config: config("p2", workers: 4))
        let ca = try a.client()
        _ = try ca.enqueue("sleep", ["payload": ["ms": 4000]])  // takes p1's only worker
        let started = Date()
        let ids = try (0..<3).map { try ca.enqueue("echo", ["payload": $0]) }
        for id in ids { #expect(try ca.wait(id, timeoutMs: 20_000)["state"] as? String == "succeeded") }
        #expect(Date().timeIntervalSince(started) < 3.9, "run by p2 (found by its poll), not by p1 after its sleep")
        let ranOnB = try PostgresTestServer.shared().psql(
            "SELECT coalesce(sum(n), 0) FROM job_counts WHERE node = 'p2' AND state = 'succeeded'", database: database)
        #expect(Int(ranOnB) ?? 0 >= 3)
        let listening = try PostgresTestServer.shared().psql(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = '\(database)' AND query ILIKE 'LISTEN%'")
        #expect(listening == "0", "no LISTEN connection with notify: false")
        _ = b
    }

    /// docs/cluster.md, "PgBouncer": two nodes through PgBouncer in
    /// transaction pooling mode, polling (`notify: false`): jobs, a wait
    /// across nodes, a unique key, a schedule's ticks, all as directly.
    @Test(.enabled(if: PgBouncer.isInstalled, "apt-get install pgbouncer"))
    func twoNodesThroughPgBouncerInTransactionMode() throws {
        let server = try PostgresTestServer.shared()
        let direct = try server.makeDatabase()
        let database = String(direct.split(separator: "/").last!)
        // Without the ignore, PgBouncer refuses the node's startup parameter.
        let refusing = try PgBouncer(inFrontOf: server)
        let refused = try Self.refusedStart(refusing.url(database: database), postgres: "  notify: false\n")
        #expect(refused.contains("idle_in_transaction_session_timeout"), "\(refused)")

        let bouncer = try PgBouncer(inFrontOf: server, ignoredStartupParameters: ["idle_in_transaction_session_timeout"])
        let url = bouncer.url(database: database)
        func config(_ name: String) -> String {
            "workers: 4\nnode:\n  name: \(name)\npostgres:\n  notify: false\n  request_timeout: 60s\n  pool: 3\n"
                + ScheduleTests.everySecond(extra: "    overlap: allow\n")
        }
        let nodes = try ["b1", "b2"].map { try Daemon(database: url, config: config($0)) }
        let (a, b) = (try nodes[0].client(), try nodes[1].client())
        let ids = try (0..<40).map { try ($0 % 2 == 0 ? a : b).enqueue("echo", ["payload": $0]) }
        for id in ids { #expect(try a.wait(id, timeoutMs: 30_000)["state"] as? String == "succeeded") }
        let once = try [a, b].map { try $0.call("enqueue", ["handler": "sleep", "payload": ["ms": 500], "unique_key": "k"])["id"] as! Int }
        #expect(once[0] == once[1])
        #expect(eventually(timeout: 20) { (try? ScheduleTests.tickJobs(b, schedule: "tick").count) ?? 0 >= 3 })
        ScheduleTests.expectExactlyOncePerTick(try ScheduleTests.tickJobs(b, schedule: "tick"))
        _ = bouncer
    }

    /// A node killed and started again under its name at once does not wait
    /// for its lease: its earlier run's attempts are interrupted at its start.
    @Test func aNodeRestartedUnderItsNameRetriesItsAttemptsAtOnce() throws {
        let url = try PostgresTestServer.shared().makeDatabase()
        let d = try Daemon(database: url, config: "workers: 1\nnode:\n  name: same\n  lease: 30s\n")
        let c = try d.client()
        let id = try c.enqueue("sleep", ["payload": ["ms": 60_000]])
        #expect(eventually { (try? c.get(id))?["state"] as? String == "running" })
        d.crash()
        let restarted = Date()
        try d.start()
        let c2 = try d.client()
        #expect(eventually(timeout: 20) { ((try? c2.get(id))?["errors"] as? [Any])?.isEmpty == false })
        #expect(Date().timeIntervalSince(restarted) < 20, "well within the 30 s lease")
        let job = try c2.get(id)
        #expect(((job["errors"] as? [[String: Any]])?.first?["message"] as? String) == "daemon stopped during the attempt")
        #expect(job["state"] as? String != "running" || job["attempts"] as? Int == 2, "the old attempt is over")
    }
}
