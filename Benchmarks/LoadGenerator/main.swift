// The load generator: runs the workloads of issues #3 and #7 against the
// real daemon (a release build), speaking the socket protocol like any client.
//
//   LoadGenerator --daemon .build/release/jobqueued [--quick] [--runs N] [--floor FILE] [--no-scale]
//                 [--only W1,W1-paused,W2,W2-paused,batch,W3,W4,W5,W7,scale] [--python-package DIR]
//                 [--http | --http-abuse]   (HTTPLoad.swift: the listener on, scraped every second)
//
// W7 runs Benchmarks/w7-worker.py (the Python package's Worker) as 4
// processes; --python-package names the package's folder (clients/python).
//
// --quick is CI's short form: every workload runs small and is checked; no
// timing is asserted anywhere.

import Foundation
import JobCore

let arguments = CommandLine.arguments
let quick = arguments.contains("--quick")
guard let daemonIndex = arguments.firstIndex(of: "--daemon") else {
    FileHandle.standardError.write(Data("usage: LoadGenerator --daemon PATH [--quick]\n".utf8))
    exit(64)
}
let daemonPath = arguments[daemonIndex + 1]
let only: Set<String>? = arguments.firstIndex(of: "--only").map { Set(arguments[$0 + 1].split(separator: ",").map(String.init)) }
/// Whether a workload is to run (all of them without --only).
func selected(_ workload: String) -> Bool { only?.contains(workload) ?? true }
nonisolated(unsafe) var skipScale = false
/// `--postgres URL --nodes N`: W1-W3 on the PostgreSQL engine (ClusterLoad.swift).
let postgresURL = arguments.firstIndex(of: "--postgres").map { arguments[$0 + 1] }
let nodeCount = arguments.firstIndex(of: "--nodes").flatMap { Int(arguments[$0 + 1]) } ?? 1
let pythonPackage = arguments.firstIndex(of: "--python-package").map { arguments[$0 + 1] } ?? "clients/python"
let payload = #"{"path":"/srv/images/2026/11/29/a-photo-of-a-cat.png","size":256,"format":"webp","q":80}"#

func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}
func check(_ ok: Bool, _ what: String) {
    if !ok {
        FileHandle.standardError.write(Data("load check failed: \(what)\n".utf8))
        exit(1)
    }
}

/// A daemon in a fresh folder with the benchmark's config.
final class DaemonUnderTest {
    let folder = "/tmp/jqload-\(getpid())"
    var socket: String { folder + "/s.sock" }
    var process: Process?

    init() throws {
        try? FileManager.default.removeItem(atPath: folder)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try """
            workers: 4
            queues:
              default: { concurrency: 4 }
              ext: { concurrency: \(W7.concurrency * W7.processes) }
            handlers:
              exec: { builtin: exec }
              ext: { external: true, queue: ext, lease: 60s }
            limits:
              max_connections: 4096
            \(httpOn ? "http: {listen: \"127.0.0.1:0\"}" : "")
            """.write(toFile: folder + "/config.yaml", atomically: true, encoding: .utf8)
    }

    /// Starts it; returns the time until `ping` answers.
    @discardableResult
    func start() throws -> Double {
        let started = now()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: daemonPath)
        p.arguments = ["--config", folder + "/config.yaml", "--db", folder + "/jobs.db", "--socket", socket, "--log-level", "warning"]
        try p.run()
        process = p
        while true {
            if let c = try? SocketClient(path: socket), (try? c.call("ping")) != nil { return Double(now() - started) / 1e9 }
            usleep(2000)
            check(p.isRunning, "daemon exited at start")
        }
    }

    func stop() {
        guard let p = process, p.isRunning else { return }
        kill(p.processIdentifier, SIGTERM)
        let deadline = now() + 30_000_000_000
        while p.isRunning && now() < deadline { usleep(5000) }
        if p.isRunning {
            FileHandle.standardError.write(Data("load generator: the daemon ignored SIGTERM for 30 s\n".utf8))
            kill(p.processIdentifier, SIGKILL)
            exit(1)
        }
    }

    var rssMiB: Double {
        guard let p = process, let status = try? String(contentsOfFile: "/proc/\(p.processIdentifier)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return kb / 1024
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: folder)
    }
}

func count(_ client: SocketClient, _ state: String, queue: String = "default") throws -> Int {
    let stats = try client.call("stats")
    return Int(stats.member("queues")?.member(queue)?.member(state)?.integer ?? 0)
}

/// W7: external worker processes (the Python package) drain queued jobs.
enum W7 {
    static let processes = 4
    /// Jobs each process runs at once (its threads), and so its largest reserve.
    static let concurrency = 100

    /// Starts the worker processes; they run until SIGTERM.
    static func startWorkers(socket: String) throws -> [Process] {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("w7-worker.py").path
        return try (0..<processes).map { _ in
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["python3", script, pythonPackage, socket, String(concurrency)]
            try p.run()
            return p
        }
    }

    static func stop(_ workers: [Process]) {
        for p in workers where p.isRunning { kill(p.processIdentifier, SIGTERM) }
        for p in workers { p.waitUntilExit() }
        check(workers.allSatisfy { $0.terminationStatus == 0 }, "W7 workers exited cleanly on SIGTERM")
    }
}

/// One figure of one run; `value` is what the median is taken of.
struct Figure {
    var name: String
    var value: Double
    var unit: String
    var note: String
}

/// Every workload once, against a fresh daemon.
func runWorkloads() throws -> [Figure] {
    var figures: [Figure] = []
    let daemon = try DaemonUnderTest()
    defer { daemon.stop() }  // a global's deinit never runs at exit: stop explicitly
    try daemon.start()
    let client = try SocketClient(path: daemon.socket)
    let pid = daemon.process!.processIdentifier
    let http = httpOn ? try HTTPLoad(socket: daemon.socket) : nil
    defer { http?.stop() }

    // W1 and W2 twice: with the 4 workers running the jobs as they come
    // (enqueues and the jobs' claims and ends share the writer), and with
    // the queue paused (enqueue alone, as the peers' figures were taken).
    for paused in [false, true] where selected(paused ? "W1-paused" : "W1") || selected(paused ? "W2-paused" : "W2") {
        let suffix = paused ? ", queue paused" : ""
        _ = try client.call(paused ? "pause" : "resume", #"{"queue":"default"}"#)

        // W1: one client, sequential enqueues.
        if selected(paused ? "W1-paused" : "W1") {
            let n = quick ? 200 : 5000
            var latencies: [Double] = []
            let meter = try Meter(pid: pid, client: client)
            let t0 = now()
            for _ in 0..<n {
                let t = now()
                _ = try client.call("enqueue", #"{"handler":"noop","payload":\#(payload)}"#)
                latencies.append(Double(now() - t) / 1e3)
            }
            let elapsed = now() - t0
            figures += try meter.stop("W1" + suffix, jobs: n, requests: n)
            figures.append(Figure(name: "W1 enqueue, 1 client" + suffix, value: Double(n) / (Double(elapsed) / 1e9), unit: "/s", note: ""))
            figures.append(Figure(name: "W1 p50" + suffix, value: percentile(latencies, 0.5), unit: "µs", note: ""))
            figures.append(Figure(name: "W1 p99" + suffix, value: percentile(latencies, 0.99), unit: "µs", note: ""))
        }

        // W2: 16 clients at once.
        if selected(paused ? "W2-paused" : "W2") {
            let clients = 16
            let total = quick ? 1600 : 50_000
            let group = DispatchGroup()
            let socketPath = daemon.socket
            let meter = try Meter(pid: pid, client: client)
            let t0 = now()
            for _ in 0..<clients {
                group.enter()
                Thread {
                    defer { group.leave() }
                    guard let c = try? SocketClient(path: socketPath) else { return }
                    for _ in 0..<(total / clients) { _ = try? c.call("enqueue", #"{"handler":"noop","payload":\#(payload)}"#) }
                }.start()
            }
            group.wait()
            let elapsed = now() - t0
            figures += try meter.stop("W2" + suffix, jobs: total, requests: total)
            figures.append(Figure(name: "W2 enqueue, 16 clients" + suffix, value: Double(total) / (Double(elapsed) / 1e9), unit: "/s",
                                  note: "\(total) jobs"))
        }
    }
    _ = try client.call("resume", #"{"queue":"default"}"#)

    // Let W1/W2's jobs finish before the drain.
    while try count(client, "queued") + count(client, "running") > 0 { usleep(10_000) }

    // enqueue_batch of 1,000, and W3: drain the jobs it stored with 4 workers.
    if selected("batch") || selected("W3") {
        let total = quick ? 2000 : 50_000
        _ = try client.call("pause", #"{"queue":"default"}"#)
        let batch = "{\"jobs\":[" + Array(repeating: #"{"handler":"noop","payload":\#(payload)}"#, count: 1000).joined(separator: ",") + "]}"
        var rates: [Double] = []
        let batchMeter = try Meter(pid: pid, client: client)
        for _ in 0..<(total / 1000) {
            let t = now()
            let ids = try client.call("enqueue_batch", batch).member("ids")?.elements?.count
            check(ids == 1000, "batch of 1000")
            rates.append(1000 / (Double(now() - t) / 1e9))
        }
        let batchCosts = try batchMeter.stop("batch", jobs: total, requests: total / 1000)
        if selected("batch") {
            figures += batchCosts
            figures.append(Figure(name: "enqueue_batch of 1,000", value: percentile(rates, 0.5), unit: "jobs/s", note: ""))
        }
        let before = try count(client, "succeeded")
        let meter = try Meter(pid: pid, client: client)
        let t0 = now()
        _ = try client.call("resume", #"{"queue":"default"}"#)
        while try count(client, "succeeded") < before + total { usleep(2000) }
        let elapsed = now() - t0
        let drainCosts = try meter.stop("W3", jobs: total, requests: total)
        if selected("W3") {
            figures += drainCosts
            figures.append(Figure(name: "W3 drain no-op jobs, 4 workers", value: Double(total) / (Double(elapsed) / 1e9),
                                  unit: "jobs/s", note: "\(total) jobs"))
        }
    }

    // W7: the same drain as W3, by 4 external worker processes (Python).
    if selected("W7") {
        let total = quick ? 2000 : 50_000
        let batch = "{\"jobs\":[" + Array(repeating: #"{"handler":"ext","payload":\#(payload)}"#, count: 1000).joined(separator: ",") + "]}"
        for _ in 0..<(total / 1000) { _ = try client.call("enqueue_batch", batch) }
        check(try count(client, "queued", queue: "ext") == total, "W7 jobs queued")
        let meter = try Meter(pid: pid, client: client)
        let t0 = now()
        let workers = try W7.startWorkers(socket: daemon.socket)
        while try count(client, "succeeded", queue: "ext") < total {
            check(workers.allSatisfy(\.isRunning), "W7 workers running")
            usleep(2000)
        }
        let elapsed = now() - t0
        figures += try meter.stop("W7", jobs: total, requests: total)
        W7.stop(workers)
        check(try count(client, "failed", queue: "ext") == 0, "W7 jobs succeeded")
        figures.append(Figure(name: "W7 drain by 4 external workers (Python)", value: Double(total) / (Double(elapsed) / 1e9),
                              unit: "jobs/s", note: "\(total) jobs, \(W7.concurrency) threads each"))
    }

    // W4: submit-and-wait, sequential.
    if selected("W4") {
        let n = quick ? 100 : 2000
        var latencies: [Double] = []
        let meter = try Meter(pid: pid, client: client)
        for _ in 0..<n {
            let t = now()
            let job = try client.call("enqueue", #"{"handler":"noop","payload":\#(payload),"wait_ms":10000}"#)
            latencies.append(Double(now() - t) / 1e3)
            check(job.member("state")?.string == "succeeded", "submit-and-wait succeeded")
        }
        figures += try meter.stop("W4", jobs: n, requests: n)
        figures.append(Figure(name: "W4 submit-and-wait p50", value: percentile(latencies, 0.5), unit: "µs", note: ""))
        figures.append(Figure(name: "W4 submit-and-wait p99", value: percentile(latencies, 0.99), unit: "µs", note: ""))
    }

    // W5: exec of /bin/true, 4 workers.
    if selected("W5") {
        let n = quick ? 50 : 500
        _ = try client.call("pause", #"{"queue":"default"}"#)
        let batch = "{\"jobs\":[" + Array(repeating: #"{"handler":"exec","payload":{"argv":["/bin/true"]}}"#, count: n).joined(separator: ",") + "]}"
        _ = try client.call("enqueue_batch", batch)
        let before = try count(client, "succeeded")
        let meter = try Meter(pid: pid, client: client)
        let t0 = now()
        _ = try client.call("resume", #"{"queue":"default"}"#)
        while try count(client, "succeeded") < before + n { usleep(2000) }
        let elapsed = now() - t0
        figures += try meter.stop("W5", jobs: n, requests: n)
        figures.append(Figure(name: "W5 exec /bin/true, 4 workers", value: Double(n) / (Double(elapsed) / 1e9), unit: "jobs/s",
                              note: "\(n) jobs"))
        check(try count(client, "failed") == 0, "exec jobs succeeded")
    }

    // Scale: RSS with many queued jobs, then start-up time with them.
    if !skipScale && selected("scale") {
        let total = quick ? 20_000 : 1_000_000
        _ = try client.call("pause", #"{"queue":"default"}"#)
        let batch = "{\"jobs\":[" + Array(repeating: #"{"handler":"noop","payload":\#(payload)}"#, count: 5000).joined(separator: ",") + "]}"
        for _ in 0..<(total / 5000) { _ = try client.call("enqueue_batch", batch) }
        check(try count(client, "queued") == total, "queued jobs")
        figures.append(Figure(name: "RSS with \(total) queued jobs", value: daemon.rssMiB, unit: "MiB", note: "VmRSS"))
        daemon.stop()
        figures.append(Figure(name: "start-up to ping, \(total) jobs", value: try daemon.start() * 1000, unit: "ms", note: ""))
    }
    return figures
}

/// The C floor's figures (Benchmarks/sqlite-floor), when given with --floor FILE.
let floor: [String: Double] = arguments.firstIndex(of: "--floor").flatMap { index -> [String: Double]? in
    guard let text = try? String(contentsOfFile: arguments[index + 1], encoding: .utf8) else { return nil }
    var values: [String: Double] = [:]
    for line in text.split(separator: "\n") {
        let parts = line.split(separator: " ")
        if parts.count == 2, let v = Double(parts[1]) { values[String(parts[0])] = v }
    }
    return values
} ?? [:]
let ratios: [String: String] = ["W1 enqueue, 1 client": "floor_single_commits_per_s",
                                "W1 enqueue, 1 client, queue paused": "floor_single_commits_per_s", "enqueue_batch of 1,000": "floor_rows_per_s_at_100",
                                "W3 drain no-op jobs, 4 workers": "floor_claim_complete_per_s_at_100"]

let runCount = quick ? 1 : (arguments.firstIndex(of: "--runs").flatMap { Int(arguments[$0 + 1]) } ?? 3)
var all: [[Figure]] = []
for run in 0..<runCount {
    // The scale case (1M jobs) once: it measures size, not speed.
    skipScale = run > 0 || arguments.contains("--no-scale")
    all.append(try postgresURL.map { try runClusterWorkloads(url: $0, nodes: nodeCount) } ?? runWorkloads())
}

let httpNote = httpAbuse ? ", HTTP on with 200 idle connections, a slowloris and /metrics each second" : httpOn ? ", HTTP on, /metrics each second" : ""
let engineNote = postgresURL == nil ? "durability full, workers 4" : "PostgreSQL, \(nodeCount) node\(nodeCount == 1 ? "" : "s") × 4 workers"
print("jobqueue load generator (\(quick ? "quick, " : "")\(engineNote)\(httpNote), median of \(runCount) run\(runCount == 1 ? "" : "s"))")
let names = all[0].map(\.name)
let width = names.map(\.count).max() ?? 0
for name in names {
    let values = all.compactMap { run in run.first { $0.name == name }?.value }
    let figure = all[0].first { $0.name == name }!
    let median = percentile(values, 0.5)
    var note = figure.note
    if let key = ratios[name], let floorValue = floor[key] {
        note += (note.isEmpty ? "" : "; ") + String(format: "%.2f× the C floor (%.0f)", median / floorValue, floorValue)
    }
    if values.count > 1 { note += (note.isEmpty ? "" : "; ") + "runs: " + values.map { String(format: $0 < 100 ? "%.3f" : "%.0f", $0) }.joined(separator: ", ") }
    print(name.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
          + String(format: median < 100 ? "%.3f %@" : "%.0f %@", median, figure.unit).padding(toLength: 16, withPad: " ", startingAt: 0) + "  " + note)
}
