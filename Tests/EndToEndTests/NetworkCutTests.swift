import Foundation
import JobCore
import PostgresTestServer
import Testing

/// A network namespace joined to this one by a veth pair, with addresses of
/// our own (10.77.X.0/30): a daemon started inside reaches the database only
/// through the pair, and taking the host's end down cuts it off. Nothing
/// leaves the machine.
final class NetworkCut {
    let namespace: String
    let hostSide: String
    let hostAddress: String
    let nodeAddress: String
    let network: String

    init() throws {
        let tag = UUID().uuidString.prefix(6).lowercased()
        let subnet = Int.random(in: 1...250)
        namespace = "jq-\(tag)"
        hostSide = "jqh\(tag)"
        hostAddress = "10.77.\(subnet).1"
        nodeAddress = "10.77.\(subnet).2"
        network = "10.77.\(subnet).0/30"
        let nodeSide = "jqn\(tag)"
        try Self.ip(["netns", "add", namespace])
        try Self.ip(["link", "add", hostSide, "type", "veth", "peer", "name", nodeSide])
        try Self.ip(["link", "set", nodeSide, "netns", namespace])
        try Self.ip(["addr", "add", hostAddress + "/30", "dev", hostSide])
        try Self.ip(["link", "set", hostSide, "up"])
        try Self.ip(["netns", "exec", namespace, "ip", "addr", "add", nodeAddress + "/30", "dev", nodeSide])
        try Self.ip(["netns", "exec", namespace, "ip", "link", "set", nodeSide, "up"])
        try Self.ip(["netns", "exec", namespace, "ip", "link", "set", "lo", "up"])
    }

    deinit {
        try? Self.ip(["link", "del", hostSide])
        try? Self.ip(["netns", "del", namespace])
    }

    /// What a daemon started inside the namespace runs under.
    var launcher: [String] { ["/usr/sbin/ip", "netns", "exec", namespace] }

    func cut() throws { try Self.ip(["link", "set", hostSide, "down"]) }
    func restore() throws { try Self.ip(["link", "set", hostSide, "up"]) }

    static func ip(_ arguments: [String]) throws {
        let run = try EndToEndTests.runToEnd("/usr/sbin/ip", arguments)
        if run.status != 0 { throw RPCFailure(code: Int(run.status), message: "ip \(arguments.joined(separator: " ")): \(run.output)") }
    }
}

/// How long after a node's lease ran out (its last renewal + lease, the
/// database's clock) the rescuer recorded the job's interrupted attempt (its
/// clock too): what CLUSTER.md bounds by 5 s. Measured on the database's
/// clock rather than the test's, so that a loaded machine's slow test
/// process does not count.
func rescueDelay(_ job: [String: Any], lastRenewal: Int64, leaseMs: Int64) throws -> Int64 {
    let errors = try #require(job["errors"] as? [[String: Any]])
    let interrupted = try #require(errors.first { $0["message"] as? String == "daemon stopped during the attempt" }, "\(job)")
    let text = try #require(interrupted["at"] as? String)
    let at = try #require(Timestamp(rfc3339: text))
    return at.rawValue - (lastRenewal + leaseMs)
}

/// CLUSTER.md: "A node cut off by the network ... it stops claiming, its jobs
/// are rescued by the others; once the link is back, its stale ends change
/// nothing and it rejoins."
@Suite(.blocking) struct NetworkCutTests {
    @Test(.enabled(if: isRoot, "network namespaces need root"))
    func aNodeCutOffStopsClaimingItsJobsAreRescuedAndItRejoins() throws {
        let net = try NetworkCut()
        let server = try PostgresTestServer.dedicated(listen: [net.hostAddress], allow: net.network)
        let url = try server.makeDatabase()
        let database = String(url.split(separator: "/").last!)
        let cutURL = url.replacingOccurrences(of: "@127.0.0.1:", with: "@\(net.hostAddress):")
        // The cut-off node's jobs run until the test lets them end: on a
        // loaded machine a fixed-length job could end before the cut.
        let flag = "/tmp/jqcut-" + UUID().uuidString.prefix(8).lowercased()
        defer { try? FileManager.default.removeItem(atPath: flag) }
        func config(_ name: String) -> String {
            "workers: 2\nnode:\n  name: \(name)\n  lease: 3s\nhandlers:\n"
                + "  hold: { command: [\"/bin/sh\", \"-c\", \"while [ ! -e \(flag) ]; do sleep 0.1; done\"] }\n"
        }
        let cutOff = try Daemon(database: cutURL, config: config("cut"), launcher: net.launcher)
        let others = try ["a", "b"].map { try Daemon(database: url, config: config($0)) }
        func sql(_ text: String) throws -> String { try server.psql(text, database: database) }

        // Jobs that outlast the cut: six for six workers, two on each node
        // (which ones, the claims decide: an enqueue does not always claim its own).
        let c = try others[0].client()
        let cutClient = try cutOff.client()
        let ids = try (0..<2).map { _ in try cutClient.enqueue("hold") } + (0..<4).map { _ in try c.enqueue("hold") }
        #expect(eventually { (try? sql("SELECT count(*) FROM jobs WHERE state = 'running' AND lease_owner = 'cut'")) == "2" })
        let own = try sql("SELECT string_agg(id::text, ',' ORDER BY id) FROM jobs WHERE state = 'running' AND lease_owner = 'cut'")
            .split(separator: ",").compactMap { Int($0) }

        try net.cut()
        let cutAt = Date()
        // The others rescue its jobs within lease + 5 s of its last renewal.
        let rescued = eventually(timeout: 60) {
            (try? sql("""
                SELECT count(*) FROM jobs WHERE id IN (\(own.map(String.init).joined(separator: ",")))
                AND (state <> 'running' OR lease_owner <> 'cut')
                """)) == "2"
        }
        // On a failure: where the jobs are, and who holds what on the server.
        let seen = rescued ? "" : ((try? sql("SELECT string_agg(id || ' ' || state || ' ' || attempts || ' ' || coalesce(lease_owner, '-'), '; ') FROM jobs"))
            ?? "?") + "\n" + ((try? server.psql("""
                SELECT string_agg(pid || ' ' || coalesce(state, '') || ' ' || coalesce(wait_event, '') || ' ' || left(query, 80), E'\\n')
                FROM pg_stat_activity WHERE datname = '\(database)'
                """)) ?? "?") + "\n" + String(cutOff.log.suffix(3000)) + "\n" + others.map { String($0.log.suffix(2000)) }.joined(separator: "\n")
        #expect(rescued, "rescued \(Date().timeIntervalSince(cutAt)) s after the cut\n\(seen)")
        let renewed = try #require(Int64(try sql("SELECT renewed_at FROM nodes WHERE name = 'cut'")))
        for id in own { #expect(try rescueDelay(c.get(id), lastRenewal: renewed, leaseMs: 3000) <= 5000) }
        // Its lease gone, it stopped its handlers (their ends would be fenced anyway).
        #expect(eventually(timeout: 30) { cutOff.log.contains("node lease ran out: stopping the running handlers") })
        // Cut off, it claims nothing (it cannot renew its lease), but still answers on its socket.
        #expect(try cutClient.call("ping")["node"] as? String == "cut")
        #expect(try sql("SELECT count(*) FROM jobs WHERE state = 'running' AND lease_owner = 'cut'") == "0")

        // Back: its handlers' late ends were fenced; every job ends once, and the node rejoins.
        try net.restore()
        _ = FileManager.default.createFile(atPath: flag, contents: nil)
        for id in ids {
            let job = try c.wait(id, timeoutMs: 60_000)
            #expect(job["state"] as? String == "succeeded")
        }
        for id in own { #expect(try c.get(id)["attempts"] as? Int == 2, "the stale end of attempt 1 changed nothing") }
        #expect(eventually(timeout: 30) {
            (try? sql("SELECT count(*) FROM nodes WHERE name = 'cut' AND expires_at > jq_now()")) == "1"
        })
        let again = try cutClient.call("enqueue", ["handler": "echo", "payload": "back", "wait_ms": 30_000])
        #expect(again["state"] as? String == "succeeded" && again["result"] as? String == "back")
        #expect(cutOff.log.contains("cannot renew the node lease"))
    }
}
