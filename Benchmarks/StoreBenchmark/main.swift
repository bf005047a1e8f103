// The store benchmark: durable enqueue with 1 and 64 callers, batched
// enqueue, claim+complete cycles, and claim latency at two table sizes.
// Run in release mode: `Benchmarks/run-store-benchmark` (see docs/performance.md).
//
//   StoreBenchmark [--quick] [--dir PATH]
//
// --quick is the short form CI runs: it checks that every case works and
// asserts no timing.

import Foundation
import JobCore
import JobStore

let arguments = CommandLine.arguments
let quick = arguments.contains("--quick")
let only = arguments.firstIndex(of: "--only").map { arguments[$0 + 1] }
func runs(_ name: String) -> Bool { only == nil || only == name }
let durability: StoreOptions.Durability = arguments.contains("--normal") ? .normal : .full
let baseDirectory = arguments.firstIndex(of: "--dir").map { arguments[$0 + 1] } ?? FileManager.default.temporaryDirectory.path

let payload = RawJSON(validatedText: #"{"path":"/srv/images/2026/11/29/a-photo-of-a-cat.png","size":256,"format":"webp","q":80}"#)

func freshStore(_ name: String) throws -> (JobStore, String) {
    let dir = (baseDirectory as NSString).appendingPathComponent("jq-bench-\(getpid())-\(name)")
    try? FileManager.default.removeItem(atPath: dir)
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    var options = StoreOptions(path: (dir as NSString).appendingPathComponent("jobs.db"))
    options.durability = durability
    return (try JobStore.open(options), dir)
}

func check(_ condition: Bool, _ message: String) {
    if !condition {
        FileHandle.standardError.write(Data("benchmark check failed: \(message)\n".utf8))
        exit(1)
    }
}

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}

struct Row {
    var name: String
    var value: String
    var note: String
}
var rows: [Row] = []
let clock = ContinuousClock()

// 1. One caller, sequential durable enqueues.
if runs("single") {
    let (store, dir) = try freshStore("single")
    let n = quick ? 300 : (only == "single" ? 30_000 : 5000)
    var latencies: [Double] = []
    let start = clock.now
    for _ in 0..<n {
        let t0 = clock.now
        _ = try await store.enqueue(NewJob(handler: "noop", payload: payload))
        latencies.append(seconds(clock.now - t0))
    }
    let elapsed = seconds(clock.now - start)
    check(try store.list(ListFilter(limit: 1000)).jobs.count == min(n, 1000), "single enqueues stored")
    rows.append(Row(name: "durable enqueue, 1 caller", value: String(format: "%.0f /s", Double(n) / elapsed),
                    note: String(format: "p50 %.0f µs, p99 %.0f µs, %d jobs", percentile(latencies, 0.5) * 1e6, percentile(latencies, 0.99) * 1e6, n)))
    store.close()
    try? FileManager.default.removeItem(atPath: dir)
}

// 2. 64 concurrent callers: group commit shares each fsync.
if runs("concurrent") {
    let (store, dir) = try freshStore("concurrent")
    let callers = 64
    let perCaller = quick ? 20 : 1000
    let start = clock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
        for _ in 0..<callers {
            group.addTask {
                for _ in 0..<perCaller { _ = try await store.enqueue(NewJob(handler: "noop", payload: payload)) }
            }
        }
        try await group.waitForAll()
    }
    let elapsed = seconds(clock.now - start)
    let total = callers * perCaller
    check(try store.stats()["default"]?.counts[.queued] == total, "concurrent enqueues stored")
    rows.append(Row(name: "durable enqueue, 64 callers", value: String(format: "%.0f /s", Double(total) / elapsed),
                    note: "\(total) jobs"))
    store.close()
    try? FileManager.default.removeItem(atPath: dir)
}

// 3. enqueue_batch of 1,000 jobs.
if runs("batch") {
    let (store, dir) = try freshStore("batch")
    let batches = quick ? 3 : (only == "batch" ? 300 : 40)
    let batch = (0..<1000).map { _ in NewJob(handler: "noop", payload: payload) }
    var rates: [Double] = []
    for _ in 0..<batches {
        let t0 = clock.now
        let outcome = try await store.enqueueBatch(batch)
        rates.append(1000 / seconds(clock.now - t0))
        check(outcome.ids.count == 1000, "batch ids")
    }
    rows.append(Row(name: "enqueue_batch of 1,000", value: String(format: "%.0f rows/s", percentile(rates, 0.5)),
                    note: "median of \(batches) batches"))
    store.close()
    try? FileManager.default.removeItem(atPath: dir)
}

// 4. claim + complete cycles of no-op jobs, as the engine runs them: the
// completions of one batch of 100 go to the writer together with the claim
// of the next batch, so they share a transaction.
if runs("cycles") {
    let (store, dir) = try freshStore("cycles")
    let jobs = quick ? 2000 : 50_000
    for _ in 0..<(jobs / 1000) {
        _ = try await store.enqueueBatch((0..<1000).map { _ in NewJob(handler: "noop", payload: payload) })
    }
    let start = clock.now
    var done = 0
    var claimed = try await store.claim(ClaimRequest(maxJobs: 100))
    while !claimed.isEmpty {
        let finishing = claimed
        async let next = store.claim(ClaimRequest(maxJobs: 100))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for job in finishing {
                group.addTask { _ = try await store.complete(job.id, attempt: job.attempts, result: .null) }
            }
            try await group.waitForAll()
        }
        done += finishing.count
        claimed = try await next
    }
    let elapsed = seconds(clock.now - start)
    check(try done == jobs && store.stats()["default"]?.counts[.succeeded] == jobs, "every job claimed and completed once")
    rows.append(Row(name: "claim+complete cycles, 100 per claim", value: String(format: "%.0f /s", Double(done) / elapsed),
                    note: "\(jobs) no-op jobs"))
    store.close()
    try? FileManager.default.removeItem(atPath: dir)
}

// 5. Claim latency with a small and a large table of ready jobs.
func claimLatency(rows total: Int, name: String) async throws -> Double {
    let (store, dir) = try freshStore(name)
    defer {
        store.close()
        try? FileManager.default.removeItem(atPath: dir)
    }
    var left = total
    while left > 0 {
        let n = min(left, 10_000)
        _ = try await store.enqueueBatch((0..<n).map { i in NewJob(handler: "noop", payload: payload, queue: i % 2 == 0 ? "a" : "b", priority: i % 7) })
        left -= n
    }
    let samples = quick ? 200 : 2000
    var latencies: [Double] = []
    for _ in 0..<samples {
        let t0 = clock.now
        let claimed = try await store.claim(ClaimRequest(maxJobs: 1))
        latencies.append(seconds(clock.now - t0))
        check(claimed.count == 1, "claim found a job")
        _ = try await store.complete(claimed[0].id, attempt: 1, result: .null)
    }
    return percentile(latencies, 0.5)
}
if runs("latency") {
    let small = 10_000
    let large = quick ? 100_000 : 1_000_000
    let smallLatency = try await claimLatency(rows: small, name: "small")
    let largeLatency = try await claimLatency(rows: large, name: "large")
    rows.append(Row(name: "claim latency, \(small) rows", value: String(format: "%.0f µs", smallLatency * 1e6), note: "median"))
    rows.append(Row(name: "claim latency, \(large) rows", value: String(format: "%.0f µs", largeLatency * 1e6),
                    note: String(format: "median; %.2f× the small table", largeLatency / smallLatency)))
}

print("jobqueue store benchmark (SQLite \(JobStore.sqliteVersion), durability \(durability.rawValue)\(quick ? ", quick" : ""))")
let width = rows.map(\.name.count).max() ?? 0
for row in rows {
    print(row.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + row.value.padding(toLength: 16, withPad: " ", startingAt: 0) + "  " + row.note)
}
