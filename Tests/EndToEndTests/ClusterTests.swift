import Foundation
import PostgresTestServer
import Testing

/// CLUSTER.md, "What it must prove": several real daemons on one real
/// PostgreSQL database (the tests' private server). The long form of the
/// load scenario runs with JOBQUEUE_CLUSTER_JOBS=30000.
@Suite(.blocking) struct ClusterTests {
    /// One database and a folder the nodes' command handlers write to.
    final class Cluster: @unchecked Sendable {
        let url: String
        let database: String
        let folder: String
        var nodes: [Daemon] = []
        var runsFile: String { folder + "/runs" }

        /// `extra`: config lines every node gets (the nodes of a cluster share one config).
        init(nodes count: Int, workers: Int = 4, leaseSeconds: Int = 3, extra: String = "") throws {
            url = try PostgresTestServer.shared().makeDatabase()
            database = String(url.split(separator: "/").last!)
            folder = "/tmp/jqc-" + UUID().uuidString.prefix(8).lowercased()
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            _ = FileManager.default.createFile(atPath: runsFile, contents: nil)
            for index in 1...count {
                nodes.append(try Daemon(database: url, config: Self.config(node: "n\(index)", workers: workers, lease: leaseSeconds,
                                                                           runs: runsFile) + "\n" + extra))
            }
        }

        deinit { try? FileManager.default.removeItem(atPath: folder) }

        static func config(node: String, workers: Int, lease: Int, runs: String) -> String {
            """
            workers: \(workers)
            node:
              name: \(node)
              lease: \(lease)s
            handlers:
              mark:
                command: ["/bin/sh", "-c", "printf '%s\\\\n' \\"$(cat)\\" >> \(runs)"]
            """
        }

        /// Runs SQL on the cluster's database (what the nodes cannot tell over the socket).
        func sql(_ text: String) throws -> String {
            try PostgresTestServer.shared().psql(text, database: database)
        }

        /// The node whose name its config gives.
        func node(named name: String) -> Daemon? {
            nodes.first { ((try? String(contentsOfFile: $0.configPath, encoding: .utf8)) ?? "").contains("name: \(name)\n") }
        }

        /// The payload of every run the handlers recorded, one per line.
        var runs: [String] {
            ((try? String(contentsOfFile: runsFile, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
    }

    @Test func threeNodesFourClientsEveryJobSucceedsExactlyOnce() throws {
        let total = Int(ProcessInfo.processInfo.environment["JOBQUEUE_CLUSTER_JOBS"] ?? "") ?? 3000
        let cluster = try Cluster(nodes: 3)
        let clients = 4
        let failures = Locked(0)
        DispatchQueue.concurrentPerform(iterations: clients) { client in
            do {
                let c = try cluster.nodes[client % cluster.nodes.count].client()
                var n = client
                while n < total {
                    let batch = stride(from: n, to: min(n + 50 * clients, total), by: clients).map { ["handler": "mark", "payload": ["n": $0]] }
                    _ = try c.call("enqueue_batch", ["jobs": batch])
                    n += 50 * clients
                }
            } catch {
                failures.mutate { $0 += 1 }
            }
        }
        #expect(failures.value == 0)
        let finished = eventually(timeout: 240) { (try? cluster.sql("SELECT count(*) FROM jobs WHERE state = 'succeeded'")) == "\(total)" }
        let states = (try? cluster.sql("SELECT state, count(*) FROM jobs GROUP BY state")) ?? "?"
        #expect(finished, "\(states)")
        #expect(try cluster.sql("SELECT count(*) FROM jobs WHERE attempts <> 1") == "0")
        let runs = cluster.runs
        #expect(runs.count == total && Set(runs).count == total, "every job ran exactly once")
        // The work was shared: each node ran some of it (stats per node come from its own counts).
        for node in ["n1", "n2", "n3"] {
            #expect(Int(try cluster.sql("SELECT coalesce(sum(n), 0) FROM job_counts WHERE node = '\(node)' AND state = 'succeeded'")) ?? 0 > 0)
        }
        let stats = try cluster.nodes[0].client().call("stats")
        #expect(((stats["queues"] as? [String: [String: Any]])?["default"]?["succeeded"] as? Int) == total)
    }

    @Test func aKilledNodesJobsRunElsewhereWithinLeasePlus5sAndANewLeaderTakesOver() throws {
        let cluster = try Cluster(nodes: 3, workers: 2, leaseSeconds: 3)
        let c = try cluster.nodes[0].client()
        let ids = try (0..<12).map { _ in try c.enqueue("sleep", ["payload": ["ms": 2500]]) }
        #expect(eventually { (try? cluster.sql("SELECT count(DISTINCT lease_owner) FROM jobs WHERE state = 'running'")) == "3" })
        #expect(eventually { (try? cluster.sql("SELECT count(*) FROM leader")) == "1" })
        // Kill the leader, so that both the rescue and the election are needed.
        let leader = try cluster.sql("SELECT node FROM leader")
        let victim = try #require(cluster.node(named: leader))
        let doomed = try cluster.sql("SELECT string_agg(id::text, ',' ORDER BY id) FROM jobs WHERE state = 'running' AND lease_owner = '\(leader)'")
            .split(separator: ",").compactMap { Int($0) }
        #expect(!doomed.isEmpty)
        let killedAt = Date()
        victim.crash()
        let rescued = eventually(timeout: 60) {
            (try? cluster.sql("SELECT count(*) FROM jobs WHERE id IN (\(doomed.map(String.init).joined(separator: ","))) AND attempts = 2")) == "\(doomed.count)"
        }
        #expect(rescued, "rescued \(Date().timeIntervalSince(killedAt)) s after the kill")
        let renewed = try #require(Int64(try cluster.sql("SELECT renewed_at FROM nodes WHERE name = '\(leader)'")))
        let survivor = try cluster.nodes.first { $0 !== victim }!.client()
        for id in doomed { #expect(try rescueDelay(survivor.get(id), lastRenewal: renewed, leaseMs: 3000) <= 5000, "within lease + 5 s") }
        let newLeader = try cluster.sql("SELECT node FROM leader")
        #expect(newLeader != leader && !newLeader.isEmpty)
        for id in ids {
            let job = try survivor.wait(id)
            #expect(job["state"] as? String == "succeeded")
        }
        for id in doomed {
            let job = try survivor.get(id)
            #expect(job["attempts"] as? Int == 2)
            #expect(((job["errors"] as? [[String: Any]])?.first?["message"] as? String) == "daemon stopped during the attempt")
        }
    }

    @Test func aWaitOnOneNodeIsAnsweredWhenAnotherFinishesTheJob() throws {
        let cluster = try Cluster(nodes: 2)
        let a = try cluster.nodes[0].client()
        let b = try cluster.nodes[1].client()
        for _ in 0..<5 {
            // An enqueue claims its own job on the node that took it: B runs it.
            let id = try b.enqueue("sleep", ["payload": ["ms": 300]])
            let started = Date()
            let job = try a.wait(id, timeoutMs: 20_000)
            #expect(job["state"] as? String == "succeeded")
            #expect(Date().timeIntervalSince(started) < 5, "answered by the notification, not at the wait's timeout")
        }
    }

    /// Only the leader fires; its successor after a kill -9 fires on from
    /// the last tick committed: no tick is missing or there twice.
    @Test func schedulesFireExactlyOncePerTickWithThreeNodesAcrossAChangeOfLeader() throws {
        let cluster = try Cluster(nodes: 3, leaseSeconds: 3, extra: ScheduleTests.everySecond(extra: "    overlap: allow\n"))
        let c = try cluster.nodes[0].client()
        #expect(eventually(timeout: 20) { (try? ScheduleTests.tickJobs(c, schedule: "tick").count) ?? 0 >= 3 })
        let leader = try cluster.sql("SELECT node FROM leader")
        let victim = try #require(cluster.node(named: leader))
        for node in cluster.nodes where node !== victim {
            #expect(!node.log.contains("schedule tick enqueued a job"), "a node that does not lead fired a tick")
        }
        let before = try ScheduleTests.tickJobs(c, schedule: "tick").count
        victim.crash()
        let survivor = try cluster.nodes.first { $0 !== victim }!.client()
        // The lead lapses with the dead node's lease (3 s); the ticks meanwhile fire late, not never.
        #expect(eventually(timeout: 30) { (try? ScheduleTests.tickJobs(survivor, schedule: "tick").count) ?? 0 >= before + 8 })
        let newLeader = try cluster.sql("SELECT node FROM leader")
        #expect(newLeader != leader)
        #expect(cluster.node(named: newLeader)?.log.contains("schedule tick enqueued a job") == true)
        ScheduleTests.expectExactlyOncePerTick(try ScheduleTests.tickJobs(survivor, schedule: "tick"))
        #expect(try cluster.sql("SELECT count(*) FROM (SELECT unique_key FROM jobs GROUP BY unique_key HAVING count(*) > 1) d") == "0")
        // Every node shows the schedule's latest run (the followers read the shared row).
        for node in cluster.nodes where node !== victim {
            let entry = try #require((try node.client().call("schedules")["schedules"] as! [[String: Any]]).first)
            #expect(entry["last_job_id"] is Int)
        }
        // Paused and resumed on a node that does not lead: the leader follows.
        let follower = try #require(cluster.nodes.first { $0 !== victim && $0 !== cluster.node(named: newLeader) }).client()
        _ = try follower.call("pause_schedule", ["name": "tick"])
        Thread.sleep(forTimeInterval: 1.5)  // a tick under way when it paused may still commit
        let paused = try ScheduleTests.tickJobs(survivor, schedule: "tick").count
        Thread.sleep(forTimeInterval: 2.5)
        #expect(try ScheduleTests.tickJobs(survivor, schedule: "tick").count == paused, "a tick fired while paused")
        _ = try follower.call("resume_schedule", ["name": "tick"])
        #expect(eventually(timeout: 20) { (try? ScheduleTests.tickJobs(survivor, schedule: "tick").count) ?? 0 >= paused + 2 })
        let all = try ScheduleTests.tickJobs(survivor, schedule: "tick")
        #expect(Set(all.map(\.tick)).count == all.count)
    }

    /// A worker long-polling on one node gets a job enqueued on another,
    /// ends it through a third with its token, and the lease of a killed
    /// node's worker runs out and is retried elsewhere.
    @Test func externalWorkersReserveAndEndThroughAnyNode() throws {
        // One more entry under the `handlers:` that the nodes' config ends with.
        let cluster = try Cluster(nodes: 3, leaseSeconds: 3, extra: """
              ext: { external: true, lease: 2s, timeout: 60s, max_attempts: 3, backoff: { initial: 10ms, factor: 1, max: 10ms, jitter: 0 } }
            """)
        let (n1, n2, n3) = (try cluster.nodes[0].client(), try cluster.nodes[1].client(), try cluster.nodes[2].client())
        let answer = Locked<[String: Any]?>(nil)
        let started = Date()
        let poller = Thread {
            let reserved = try? cluster.nodes[1].client().call("reserve", ["handlers": ["ext"], "wait_ms": 20_000])
            answer.mutate { $0 = reserved }
        }
        poller.start()
        Thread.sleep(forTimeInterval: 0.5)
        let id = try n1.enqueue("ext", ["payload": ["n": 1]])
        #expect(eventually(timeout: 20) { answer.value != nil })
        #expect(Date().timeIntervalSince(started) < 5, "woken by the enqueue on another node, not by the wait's end")
        let job = try #require((answer.value?["jobs"] as? [[String: Any]])?.first)
        #expect(job["id"] as? Int == id)
        let token = try #require((job["lease"] as? [String: Any])?["token"] as? String)
        _ = try n3.call("heartbeat", ["id": id, "token": token])
        let done = try n3.call("complete", ["id": id, "token": token, "result": "done"])
        #expect(done["state"] as? String == "succeeded")
        #expect(try n1.wait(id)["result"] as? String == "done")

        // The node a worker reserved through dies with the worker's lease.
        let orphan = try n1.enqueue("ext")
        let held = try #require((try n2.call("reserve", ["handlers": ["ext"], "wait_ms": 10_000])["jobs"] as? [[String: Any]])?.first)
        #expect(held["id"] as? Int == orphan)
        cluster.nodes[1].crash()
        #expect(eventually(timeout: 30) { (try? n3.get(orphan))?["state"] as? String != "running" })
        let retried = try n3.get(orphan)
        #expect(((retried["errors"] as? [[String: Any]])?.first?["message"] as? String) == "lease expired")
        let again = try #require((try n3.call("reserve", ["handlers": ["ext"], "wait_ms": 10_000])["jobs"] as? [[String: Any]])?.first)
        #expect(again["id"] as? Int == orphan && again["attempts"] as? Int == 2)
        let oldToken = try #require((held["lease"] as? [String: Any])?["token"] as? String)
        #expect(try n1.errorCode("complete", ["id": orphan, "token": oldToken]) == 1007, "the dead node's worker is fenced")
    }

    /// One key's jobs, enqueued on every node and run by all of them, never
    /// overlap; a chain whose links are enqueued on different nodes runs in
    /// order, and a failure there cancels what waits for it everywhere.
    @Test func keysAndDependenciesHoldAcrossNodes() throws {
        let cluster = try Cluster(nodes: 3, extra: "  sync: { builtin: sleep, key_concurrency: 1 }\n")
        let clients = try cluster.nodes.map { try $0.client() }
        let keyed = try (0..<9).map { try clients[$0 % 3].enqueue("sync", ["payload": ["ms": 200], "concurrency_key": "customer-1"]) }
        let times = try FlowControlTests.times(clients[0], keyed).sorted { $0.start < $1.start }
        for (earlier, later) in zip(times, times.dropFirst()) { #expect(later.start >= earlier.end, "two jobs of one key ran at once") }

        let first = try clients[0].enqueue("sleep", ["payload": ["ms": 500]])
        let second = try clients[1].enqueue("echo", ["payload": 2, "after": [first]])
        let third = try clients[2].enqueue("echo", ["payload": 3, "after": [second]])
        #expect(try clients[2].get(third)["state"] as? String == "blocked")
        let order = try [first, second, third].map { try ScheduleTests.date(clients[0].wait($0)["finished_at"])! }
        #expect(order[0] <= order[1] && order[1] <= order[2])

        let doomed = try clients[0].enqueue("fail", ["max_attempts": 1])
        let waiting = try clients[1].enqueue("echo", ["after": [doomed]])
        let cancelled = try clients[2].wait(waiting, timeoutMs: 20_000)
        #expect(cancelled["state"] as? String == "cancelled")
        #expect(((cancelled["errors"] as? [[String: Any]])?.last?["message"] as? String) == "dependency \(doomed) failed")
    }

    /// Three nodes share one handler's rate limit: wherever a window of
    /// `per` is placed, it holds at most `count` starts of the whole cluster.
    @Test func aRateLimitHoldsAcrossNodes() throws {
        let cluster = try Cluster(nodes: 3, extra: "  limited: { builtin: noop, rate_limit: {count: 3, per: 700ms} }\n")
        let clients = try cluster.nodes.map { try $0.client() }
        let ids = try (0..<12).map { try clients[$0 % 3].enqueue("limited") }
        let starts = try FlowControlTests.times(clients[0], ids).map(\.start).sorted()
        for i in 0..<(starts.count - 3) {
            #expect(starts[i + 3].timeIntervalSince(starts[i]) >= 0.7 - 0.0005, "4 starts within 700 ms: \(starts[i...(i + 3)])")
        }
    }

    /// A cancel on one node stops the handler that runs the job on another.
    @Test func aCancelOnOneNodeStopsTheHandlerOnAnother() throws {
        let pidFile = "/tmp/jqhold-" + UUID().uuidString.prefix(8)
        defer { try? FileManager.default.removeItem(atPath: pidFile) }
        let cluster = try Cluster(nodes: 2, extra: "  hold: { command: [\"/bin/sh\", \"-c\", \"echo $$ > \(pidFile); exec sleep 60\"] }\n")
        let id = try cluster.nodes[1].client().enqueue("hold")  // most often claimed by n2 at its enqueue
        #expect(eventually { FileManager.default.fileExists(atPath: pidFile) })
        let owner = try cluster.sql("SELECT lease_owner FROM jobs WHERE id = \(id)")
        let runner = try #require(cluster.node(named: owner), "running on \(owner)")
        let other = try #require(cluster.nodes.first { $0 !== runner }).client()
        let pid = try #require(Int32((try String(contentsOfFile: pidFile, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(try other.call("cancel", ["id": id])["state"] as? String == "cancelled")
        #expect(eventually(timeout: 15) { kill(pid, 0) != 0 }, "the handler on the other node still runs")
        #expect(runner.log.contains("job ended on another node while its handler ran here"))
        #expect(try other.get(id)["state"] as? String == "cancelled")
    }

    @Test func aUniqueKeyHoldsAcrossNodes() throws {
        let cluster = try Cluster(nodes: 3)
        let answers = try cluster.nodes.map { try $0.client().call("enqueue", ["handler": "sleep", "payload": ["ms": 1000], "unique_key": "once"]) }
        #expect(Set(answers.map { $0["id"] as! Int }).count == 1)
        #expect(answers.filter { $0["duplicate"] as? Bool == false }.count == 1)
    }

    @Test func pingNamesTheNode() throws {
        let cluster = try Cluster(nodes: 1)
        let ping = try cluster.nodes[0].client().call("ping")
        #expect((ping["features"] as? [String])?.contains("cluster") == true && ping["node"] as? String == "n1")
        #expect(ping["database"] as? String == "ok")
    }
}

/// The PostgreSQL server itself goes away (a server of the test's own).
@Suite(.blocking) struct PostgresOutageTests {
    @Test func aRestartUnderLoadGivesClearErrorsLosesNothingAndEveryNodeRecovers() throws {
        let server = try PostgresTestServer.dedicated()
        let url = try server.makeDatabase()
        let nodes = try (1...2).map { try Daemon(database: url, config: "workers: 4\nnode:\n  name: o\($0)\n  lease: 30s\npostgres:\n  request_timeout: 5s\n") }
        let acknowledged = Locked<[Int]>([])
        let codes = Locked<[Int]>([])
        let stop = Locked(false)
        let group = DispatchGroup()
        for node in nodes {
            group.enter()
            Thread {
                defer { group.leave() }
                guard let c = try? node.client() else { return }
                while !stop.value {
                    do {
                        let id = try c.enqueue("noop")
                        acknowledged.mutate { $0.append(id) }
                    } catch let failure as RPCFailure {
                        codes.mutate { $0.append(failure.code) }
                        usleep(50_000)
                    } catch {
                        codes.mutate { $0.append(0) }
                        print("outage test: \(error)")
                        return
                    }
                }
            }.start()
        }
        // ping answers all along, and says when the database is not there.
        let pings = Locked<[String]>([])
        group.enter()
        Thread {
            defer { group.leave() }
            while !stop.value {
                let answer = (try? nodes[0].client().call("ping"))?["database"] as? String
                pings.mutate { $0.append(answer ?? "no answer") }
                usleep(200_000)
            }
        }.start()
        usleep(500_000)
        // Longer than the 5 s a request waits for the database: some get -32603.
        try server.restart(downFor: .seconds(8))
        // Writes go through again without a restart of the nodes.
        let countBefore = acknowledged.value.count
        #expect(eventually(timeout: 60) { acknowledged.value.count > countBefore + 20 })
        stop.mutate { $0 = true }
        group.wait()
        #expect(eventually { (try? nodes[0].client().call("ping"))?["database"] as? String == "ok" })
        let pinged = pings.value
        #expect(pinged.first == "ok" && pinged.contains("unavailable") && !pinged.contains("no answer"), "\(pinged)")
        let seen = Set(codes.value)
        #expect(!seen.isEmpty && seen.isSubset(of: [-32603]), "clear errors during the gap, nothing else: \(seen)\n\(nodes.map { String($0.log.suffix(3000)) })")
        // Every acknowledged job is there and runs.
        let ids = acknowledged.value
        let c = try nodes[0].client()
        #expect(eventually(timeout: 60) {
            ((try? c.call("stats"))?["queues"] as? [String: [String: Any]])?["default"]?["succeeded"] as? Int ?? 0 >= ids.count
        })
        for id in ids.shuffled().prefix(50) { #expect(try c.get(id)["state"] as? String == "succeeded") }
        // Both nodes answer ping and run new jobs.
        for node in nodes {
            let client = try node.client()
            #expect(try client.call("enqueue", ["handler": "echo", "payload": 1, "wait_ms": 20_000])["state"] as? String == "succeeded")
        }
    }
}
