import Foundation
import Testing

/// Start, stop, crash, reload and configuration of the real daemon.
@Suite(.blocking) struct LifecycleTests {
    @Test func kill9DuringWorkLosesNothingAndLeavesNothingStuck() throws {
        let d = try Daemon(start: false)
        let ledger = d.folder + "/ledger"
        let script = d.folder + "/work.sh"
        try "#!/bin/sh\necho \"$JOB_ID $JOB_ATTEMPT\" >> \(ledger)\nsleep 0.05\n".write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        try d.writeConfig("handlers:\n  work:\n    command: [\"\(script)\"]\n    backoff: { initial: 10ms, jitter: 0 }\n")
        try d.start(extraArguments: ["--workers", "4"])
        var acknowledged: [Int] = []
        let c = try d.client()
        for n in 0..<60 { acknowledged.append(try c.enqueue("work", ["payload": n])) }
        #expect(eventually { FileManager.default.fileExists(atPath: ledger) })
        d.crash()  // SIGKILL while jobs run

        try d.start(extraArguments: ["--workers", "4"])
        let after = try d.client()
        for id in acknowledged {
            let job = try after.wait(id, timeoutMs: 30_000)
            #expect(job["state"] as? String == "succeeded", "job \(id): \(job)")
        }
        let stats = try after.call("stats")["queues"] as! [String: [String: Any]]
        #expect(stats["default"]?["running"] as? Int == 0 && stats["default"]?["queued"] as? Int == 0)
        #expect(stats["default"]?["succeeded"] as? Int == acknowledged.count)
        // A job run twice was interrupted by the crash: its first attempt is recorded as such.
        let lines = try String(contentsOfFile: ledger, encoding: .utf8).split(separator: "\n")
        let runs = Dictionary(grouping: lines.map { $0.split(separator: " ")[0] }, by: { $0 }).mapValues(\.count)
        for (id, count) in runs where count > 1 {
            let job = try after.get(Int(id)!)
            let messages = (job["errors"] as! [[String: Any]]).map { $0["message"] as! String }
            #expect(messages.contains("daemon stopped during the attempt"), "job \(id) ran \(count) times: \(messages)")
        }
    }

    @Test func sigtermLetsRunningJobsFinishThenExits0() throws {
        // The job runs until the test creates the file "release": the daemon
        // drains for as long as the test needs to look at it.
        let d = try Daemon(start: false)
        let script = d.folder + "/held.sh"
        try "#!/bin/sh\nwhile [ ! -e \(d.folder)/release ]; do sleep 0.05; done\n".write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        try d.writeConfig("shutdown_grace: 60s\nhandlers:\n  held:\n    command: [\"\(script)\"]\n")
        try d.start()
        let c = try d.client()
        let id = try c.enqueue("held")
        #expect(eventually { (try? c.get(id)["state"] as? String) == "running" })
        d.signal(SIGTERM)
        #expect(eventually { (try? c.errorCode("enqueue", ["handler": "noop"])) == 1006 })
        #expect(try c.errorCode("get", ["id": id]) == nil)  // reads still work while draining
        #expect(d.waitForExit(timeout: 0.5) == nil)  // still draining
        _ = FileManager.default.createFile(atPath: d.folder + "/release", contents: nil)
        #expect(d.waitForExit() == 0)
        #expect(throws: (any Error).self) { _ = try Client(d.socket) }  // new connections are refused
        try d.start()
        #expect(try d.client().get(id)["state"] as? String == "succeeded")
    }

    @Test func aSIGTERMRightAfterTheFirstAnswerStopsTheDaemon() throws {
        // Regression: the signal watcher was installed after the socket
        // answered, and a SIGTERM in between could be lost.
        let d = try Daemon(start: false)
        for _ in 0..<5 {
            try d.start()
            d.signal(SIGTERM)
            #expect(d.waitForExit() == 0)
        }
    }

    @Test func jobsStillRunningAfterTheGraceAreRetriedOnTheNextStart() throws {
        let d = try Daemon(config: "shutdown_grace: 200ms\n")
        let c = try d.client()
        let id = try c.enqueue("sleep", ["payload": ["ms": 60_000]])
        #expect(eventually { (try? c.get(id)["state"] as? String) == "running" })
        d.signal(SIGTERM)
        #expect(d.waitForExit() == 0)
        try d.start()
        let job = try d.client().get(id)
        #expect(job["state"] as? String == "retrying" || job["state"] as? String == "queued" || job["state"] as? String == "running")
        #expect((job["errors"] as? [[String: Any]])?.first?["message"] as? String == "daemon stopped during the attempt")
    }

    @Test func sighupReloadsAndABrokenFileKeepsTheRunningConfig() throws {
        let d = try Daemon()
        let c = try d.client()
        #expect(try c.errorCode("enqueue", ["handler": "hello"]) == 1003)
        try d.writeConfig("handlers:\n  hello:\n    builtin: echo\n    queue: greetings\nqueues:\n  greetings: { concurrency: 2 }\n")
        d.signal(SIGHUP)
        #expect(eventually { (try? c.errorCode("enqueue", ["handler": "hello"])) == nil })
        #expect((try c.call("stats")["queues"] as! [String: [String: Any]])["greetings"]?["concurrency"] as? Int == 2)
        try d.writeConfig("handlers:\n  hello:\n    builtin: nonsense\n")
        d.signal(SIGHUP)
        #expect(eventually { d.log.contains("configuration not reloaded") })
        #expect(try c.errorCode("enqueue", ["handler": "hello"]) == nil)
    }

    @Test func configErrorsNameKeyAndLineAndExit78() throws {
        let d = try Daemon(config: """
            workers: 2
            limits:
              max_payload_bytes: lots
            handlers:
              x:
                builtin: teleport
            colour: blue
            """, start: false)
        let check = try Daemon.runToEnd(["check-config", "--config", d.configPath])
        #expect(check.status == 78)
        #expect(check.output.contains("line 3") && check.output.contains("limits.max_payload_bytes"))
        #expect(check.output.contains("handlers.x.builtin") && check.output.contains("teleport"))
        #expect(check.output.contains("line 7") && check.output.contains("colour: unknown key"))
        let run = try Daemon.runToEnd(["--config", d.configPath, "--db", d.database, "--socket", d.socket])
        #expect(run.status == 78 && run.output.contains("colour"))
        #expect(!FileManager.default.fileExists(atPath: d.database))  // nothing was touched
        try d.writeConfig("workers: 3\n")
        #expect(try Daemon.runToEnd(["check-config", "--config", d.configPath]).status == 0)
    }

    @Test func aSecondDaemonOnTheSameSocketExits78AndAStaleSocketIsReplaced() throws {
        let d = try Daemon()
        let second = try Daemon.runToEnd(["--config", d.configPath, "--db", d.folder + "/other.db", "--socket", d.socket])
        #expect(second.status == 78 && second.output.contains("another jobqueued is running"))
        #expect(try d.client().call("ping")["protocol"] as? Int == 1)  // untouched
        d.crash()  // leaves the socket file behind
        #expect(FileManager.default.fileExists(atPath: d.socket))
        try d.start()
        #expect(try d.client().call("ping")["protocol"] as? Int == 1)
    }

    @Test(.enabled(if: isRoot && getgrnam("nogroup") != nil, "needs root and the group nogroup to give the socket another group"))
    func theSocketGetsItsModeAndGroup() throws {
        let d = try Daemon(config: "socket:\n  mode: \"0640\"\n  group: nogroup\n")
        var info = stat()
        #expect(stat(d.socket, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o640 && info.st_gid == getgrnam("nogroup")!.pointee.gr_gid)
        let fresh = try Daemon(start: false)
        let nested = fresh.folder + "/run/sub"
        let process = try fresh.launch(["--config", fresh.configPath, "--db", fresh.folder + "/state/jobs.db", "--socket", nested + "/s.sock"])
        #expect(eventually { FileManager.default.fileExists(atPath: nested + "/s.sock") })
        var folder = stat()
        #expect(stat(nested, &folder) == 0 && folder.st_mode & 0o777 == 0o700)
        #expect(stat(fresh.folder + "/state", &folder) == 0 && folder.st_mode & 0o777 == 0o750)
        kill(process.processIdentifier, SIGTERM)
        #expect(eventually { !process.isRunning })
    }

    @Test func versionAndMigrate() throws {
        let version = try Daemon.runToEnd(["--version"])
        #expect(version.status == 0 && version.output.contains("."))
        let d = try Daemon(start: false)
        let migrate = try Daemon.runToEnd(["migrate", "--db", d.database])
        #expect(migrate.status == 0 && FileManager.default.fileExists(atPath: d.database))
    }

    @Test(.enabled(if: isRoot, "needs root to connect as another user"))
    func allowUIDsRefuseOtherPeersButPing() throws {
        let d = try Daemon(config: "socket:\n  mode: \"0666\"\n  allow_uids: [4242]\n")
        chmod(d.folder, 0o755)
        let script = """
            import socket, json
            s = socket.socket(socket.AF_UNIX); s.connect("\(d.socket)")
            f = s.makefile("rw")
            for m, p in [("ping", {}), ("stats", {}), ("enqueue", {"handler": "noop"}), ("pause", {"queue": "default"})]:
                f.write(json.dumps({"jsonrpc": "2.0", "id": m, "method": m, "params": p}) + "\\n"); f.flush()
                r = json.loads(f.readline())
                print(m, r.get("error", {}).get("code", "ok"))
            """
        let output = try runToEnd("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", script]).stdout
        #expect(output.contains("ping ok") && output.contains("stats 1004") && output.contains("enqueue 1004") && output.contains("pause 1004"), "\(output)")
        // A denied request changed nothing.
        #expect((try d.client().call("list")["jobs"] as! [Any]).isEmpty)
        #expect((try d.client().call("stats")["queues"] as! [String: [String: Any]])["default"]?["paused"] as? Bool == false)
        #expect(try d.client().call("stats")["version"] != nil)  // root (the daemon's own uid) is always allowed
    }
}
