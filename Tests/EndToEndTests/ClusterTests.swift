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

        init(nodes count: Int, workers: Int = 4, leaseSeconds: Int = 3) throws {
            url = try PostgresTestServer.shared().makeDatabase()
            database = String(url.split(separator: "/").last!)
            folder = "/tmp/jqc-" + UUID().uuidString.prefix(8).lowercased()
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            _ = FileManager.default.createFile(atPath: runsFile, contents: nil)
            for index in 1...count {
                nodes.append(try Daemon(database: url, config: Self.config(node: "n\(index)", workers: workers, lease: leaseSeconds, runs: runsFile)))
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
        let victim = try #require(cluster.nodes.first { ((try? String(contentsOfFile: $0.configPath, encoding: .utf8)) ?? "").contains("name: \(leader)\n") })
        let doomed = try cluster.sql("SELECT string_agg(id::text, ',' ORDER BY id) FROM jobs WHERE state = 'running' AND lease_owner = '\(leader)'")
            .split(separator: ",").compactMap { Int($0) }
        #expect(!doomed.isEmpty)
        let killedAt = Date()
        victim.crash()
        let rescued = eventually(timeout: 30) {
            (try? cluster.sql("SELECT count(*) FROM jobs WHERE id IN (\(doomed.map(String.init).joined(separator: ","))) AND attempts = 2")) == "\(doomed.count)"
        }
        #expect(rescued)
        #expect(Date().timeIntervalSince(killedAt) < 3 + 5 + 2, "rescued within lease + 5 s (+2 s for a busy machine's polling)")
        let newLeader = try cluster.sql("SELECT node FROM leader")
        #expect(newLeader != leader && !newLeader.isEmpty)
        let survivor = try cluster.nodes.first { $0 !== victim }!.client()
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
    }
}
