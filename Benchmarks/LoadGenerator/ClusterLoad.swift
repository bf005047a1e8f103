import Foundation

// W1-W3 on the PostgreSQL engine (CLUSTER.md):
//
//   LoadGenerator --daemon PATH --postgres URL --nodes N [--quick]
//
// N daemons on the database URL names (empty, or left by an earlier run),
// each with 4 workers. W1 and W2 enqueue through node 1 while every node
// runs the jobs; W3 stores its jobs with the queue paused, then resumes and
// times the drain by all N nodes. `psql` reads the server's WAL syncs
// (pg_stat_wal) around each workload: PostgreSQL's fsyncs, per job.

/// A cluster node: one daemon of the benchmark on the shared database.
final class ClusterNode {
    let folder: String
    var socket: String { folder + "/s.sock" }
    let process: Process

    init(index: Int, url: String) throws {
        folder = "/tmp/jqcl-\(getpid())-\(index)"
        try? FileManager.default.removeItem(atPath: folder)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try """
            workers: 4
            queues:
              default: { concurrency: 4 }
            node:
              name: bench-\(index)
            limits:
              max_connections: 4096
            """.write(toFile: folder + "/config.yaml", atomically: true, encoding: .utf8)
        process = Process()
        process.executableURL = URL(fileURLWithPath: daemonPath)
        process.arguments = ["--config", folder + "/config.yaml", "--db", url, "--socket", socket, "--log-level", "warning"]
        try process.run()
        while true {
            if let c = try? SocketClient(path: socket), (try? c.call("ping")) != nil { return }
            usleep(5000)
            check(process.isRunning, "node \(index) exited at start")
        }
    }

    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: folder)
    }
}

/// The server's WAL syncs so far (pg_stat_wal.wal_sync), by psql.
func walSyncs(_ url: String) -> Int? {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
    p.arguments = [url, "-At", "-c", "SELECT wal_sync FROM pg_stat_wal"]
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    guard (try? p.run()) != nil else { return nil }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return Int(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
}

func runClusterWorkloads(url: String, nodes nodeCount: Int) throws -> [Figure] {
    var figures: [Figure] = []
    let nodes = try (1...nodeCount).map { try ClusterNode(index: $0, url: url) }
    defer { nodes.forEach { $0.stop() } }
    let client = try SocketClient(path: nodes[0].socket)
    func syncsPerJob(_ workload: String, since before: Int?, jobs: Int) {
        guard let before, let after = walSyncs(url) else { return }
        figures.append(Figure(name: "\(workload) WAL syncs per job", value: Double(after - before) / Double(jobs), unit: "",
                              note: "\(after - before) pg_stat_wal.wal_sync"))
    }

    // W1: one client, sequential enqueues, every node running the jobs.
    let n1 = quick ? 200 : 2000
    var latencies: [Double] = []
    var syncs = walSyncs(url)
    var t0 = now()
    for _ in 0..<n1 {
        let t = now()
        _ = try client.call("enqueue", #"{"handler":"noop","payload":\#(payload)}"#)
        latencies.append(Double(now() - t) / 1e3)
    }
    figures.append(Figure(name: "W1 enqueue, 1 client", value: Double(n1) / (Double(now() - t0) / 1e9), unit: "/s", note: "\(n1) jobs"))
    figures.append(Figure(name: "W1 p50", value: percentile(latencies, 0.5), unit: "µs", note: ""))
    figures.append(Figure(name: "W1 p99", value: percentile(latencies, 0.99), unit: "µs", note: ""))
    syncsPerJob("W1", since: syncs, jobs: n1)

    // W2: 16 clients at once on node 1.
    let clients = 16
    let n2 = quick ? 1600 : 20_000
    let group = DispatchGroup()
    let socketPath = nodes[0].socket
    syncs = walSyncs(url)
    t0 = now()
    for _ in 0..<clients {
        group.enter()
        Thread {
            defer { group.leave() }
            guard let c = try? SocketClient(path: socketPath) else { return }
            for _ in 0..<(n2 / clients) { _ = try? c.call("enqueue", #"{"handler":"noop","payload":\#(payload)}"#) }
        }.start()
    }
    group.wait()
    figures.append(Figure(name: "W2 enqueue, 16 clients", value: Double(n2) / (Double(now() - t0) / 1e9), unit: "/s", note: "\(n2) jobs"))
    syncsPerJob("W2", since: syncs, jobs: n2)
    while try count(client, "queued") + count(client, "running") > 0 { usleep(10_000) }

    // W3: drain with every node.
    let n3 = quick ? 2000 : 20_000
    _ = try client.call("pause", #"{"queue":"default"}"#)
    let batch = "{\"jobs\":[" + Array(repeating: #"{"handler":"noop","payload":\#(payload)}"#, count: 1000).joined(separator: ",") + "]}"
    for _ in 0..<(n3 / 1000) { check(try client.call("enqueue_batch", batch).member("ids")?.elements?.count == 1000, "batch of 1000") }
    let before = try count(client, "succeeded")
    syncs = walSyncs(url)
    t0 = now()
    _ = try client.call("resume", #"{"queue":"default"}"#)
    while try count(client, "succeeded") < before + n3 { usleep(5000) }
    figures.append(Figure(name: "W3 drain no-op jobs, \(nodeCount) node\(nodeCount == 1 ? "" : "s") × 4 workers",
                          value: Double(n3) / (Double(now() - t0) / 1e9), unit: "jobs/s", note: "\(n3) jobs"))
    syncsPerJob("W3", since: syncs, jobs: n3)
    check(try count(client, "failed") == 0, "cluster jobs succeeded")
    return figures
}
