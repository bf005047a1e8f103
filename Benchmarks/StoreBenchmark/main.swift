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

// 6. Dependencies: a job's end settles its dependents through
// job_dependencies, never a scan. A fan-out of n dependents and a fan-in of
// n jobs into one (two levels: after names at most 100) must cost O(n):
// the time per job stays flat as n grows ×10, with 100,000 unrelated
// finished jobs in the table.
func ends(_ store: JobStore, _ ids: [JobID]) async throws {
    var left = Set(ids)
    while !left.isEmpty {
        let claimed = try await store.claim(ClaimRequest(maxJobs: 100, slotsPerQueue: ["leaves": 100], slotsForOtherQueues: 0))
        check(!claimed.isEmpty, "the leaves are claimable")
        for job in claimed {
            _ = try await store.complete(job.id, attempt: job.attempts, result: .null)
            left.remove(job.id)
        }
    }
}

func dependencyCosts(n: Int, name: String) async throws -> (fanOutPerJob: Double, fanInPerJob: Double, plainPerJob: Double) {
    let (store, dir) = try freshStore(name)
    defer {
        store.close()
        try? FileManager.default.removeItem(atPath: dir)
    }
    // Unrelated history: a scan would have to read it.
    let history = quick ? 5_000 : 100_000
    for start in stride(from: 0, to: history, by: 10_000) {
        let ids = try await store.enqueueBatch((start..<min(start + 10_000, history)).map { _ in NewJob(handler: "noop", queue: "old") }).ids
        _ = ids
    }
    // Fan-out: one parent, n dependents, unblocked by the parent's end (one transaction).
    let parent = try await store.enqueue(NewJob(handler: "noop", queue: "leaves")).id
    for start in stride(from: 0, to: n, by: 10_000) {
        _ = try await store.enqueueBatch((start..<min(start + 10_000, n)).map { _ in NewJob(handler: "noop", queue: "children", after: [parent]) })
    }
    let claimedParent = try await store.claim(ClaimRequest(maxJobs: 1, slotsPerQueue: ["leaves": 1], slotsForOtherQueues: 0))
    let t0 = clock.now
    _ = try await store.complete(parent, attempt: claimedParent[0].attempts, result: .null)
    let fanOut = seconds(clock.now - t0)
    check(try store.stats()["children"]?.counts[.queued] == n, "every dependent unblocked")

    // Fan-in: n leaves -> n/100 middle jobs -> one final job, ends timed against plain jobs.
    var leaves: [JobID] = []
    for start in stride(from: 0, to: n, by: 10_000) {
        leaves += try await store.enqueueBatch((start..<min(start + 10_000, n)).map { _ in NewJob(handler: "noop", queue: "leaves") }).ids
    }
    var middles: [JobID] = []
    for group in stride(from: 0, to: n, by: 100) {
        middles.append(try await store.enqueue(NewJob(handler: "noop", queue: "middle", after: Array(leaves[group..<min(group + 100, n)]))).id)
    }
    for group in stride(from: 0, to: middles.count, by: 100) {
        _ = try await store.enqueue(NewJob(handler: "noop", queue: "final", after: Array(middles[group..<min(group + 100, middles.count)])))
    }
    let t1 = clock.now
    try await ends(store, leaves)
    let fanIn = seconds(clock.now - t1)
    check(try store.stats()["middle"]?.counts[.queued] == middles.count, "every middle job unblocked by its last leaf")

    var plain: [JobID] = []
    for start in stride(from: 0, to: n, by: 10_000) {
        plain += try await store.enqueueBatch((start..<min(start + 10_000, n)).map { _ in NewJob(handler: "noop", queue: "leaves") }).ids
    }
    let t2 = clock.now
    try await ends(store, plain)
    let plainEnds = seconds(clock.now - t2)
    return (fanOut / Double(n), fanIn / Double(n), plainEnds / Double(n))
}
if runs("dependencies") {
    let small = quick ? 200 : 1000
    let large = quick ? 2000 : 10_000
    let a = try await dependencyCosts(n: small, name: "deps-small")
    let b = try await dependencyCosts(n: large, name: "deps-large")
    rows.append(Row(name: "fan-out: one end unblocks \(large)", value: String(format: "%.1f µs/job", b.fanOutPerJob * 1e6),
                    note: String(format: "%.2f× the per-job cost at %d (O(n): flat)", b.fanOutPerJob / a.fanOutPerJob, small)))
    rows.append(Row(name: "fan-in: \(large) ends into one", value: String(format: "%.1f µs/end", b.fanInPerJob * 1e6),
                    note: String(format: "%.2f× at %d; %.2f× an end with no dependents", b.fanInPerJob / a.fanInPerJob, small,
                                 b.fanInPerJob / b.plainPerJob)))
}

// 7. Concurrency keys: 100,000 jobs queued on one hot key (one may run) and
// 10,000 others. The held jobs are outside the claim's index: a claim costs
// what it costs without them, and an end lets the next keyed job in by index.
func hotKeyClaimLatency(held: Int, others: Int, name: String) async throws -> (claim: Double, keyedEnd: Double) {
    let (store, dir) = try freshStore(name)
    defer {
        store.close()
        try? FileManager.default.removeItem(atPath: dir)
    }
    // The keyed jobs come first in the claim's order (a higher priority):
    // were they in the claim's index, every claim would walk past them.
    for start in stride(from: 0, to: held, by: 10_000) {
        _ = try await store.enqueueBatch((start..<min(start + 10_000, held)).map { _ in
            NewJob(handler: "sync", payload: payload, priority: 5, concurrencyKey: "hot")
        })
    }
    for start in stride(from: 0, to: others, by: 10_000) {
        _ = try await store.enqueueBatch((start..<min(start + 10_000, others)).map { _ in NewJob(handler: "noop", payload: payload) })
    }
    var running = try await store.claim(ClaimRequest(maxJobs: 1))
    check(running.first?.concurrencyKey == "hot", "the key's one admitted job is claimed first")
    let samples = quick ? 200 : 2000
    var claims: [Double] = [], keyedEnds: [Double] = []
    for _ in 0..<samples {
        let t0 = clock.now
        let claimed = try await store.claim(ClaimRequest(maxJobs: 1))
        claims.append(seconds(clock.now - t0))
        check(claimed.count == 1 && claimed[0].concurrencyKey == nil, "claim passes the held jobs")
        _ = try await store.complete(claimed[0].id, attempt: 1, result: .null)
    }
    for _ in 0..<(samples / 10) {
        let t1 = clock.now
        _ = try await store.complete(running[0].id, attempt: 1, result: .null)
        keyedEnds.append(seconds(clock.now - t1))
        running = try await store.claim(ClaimRequest(maxJobs: 1))
        check(running.first?.concurrencyKey == "hot", "the end let the next keyed job in")
    }
    return (percentile(claims, 0.5), percentile(keyedEnds, 0.5))
}
func plainEndLatency(rows total: Int, name: String) async throws -> Double {
    let (store, dir) = try freshStore(name)
    defer {
        store.close()
        try? FileManager.default.removeItem(atPath: dir)
    }
    _ = try await store.enqueueBatch((0..<total).map { _ in NewJob(handler: "noop", payload: payload) })
    var ends: [Double] = []
    for _ in 0..<min(total, quick ? 20 : 200) {
        let job = try await store.claim(ClaimRequest(maxJobs: 1))
        let t0 = clock.now
        _ = try await store.complete(job[0].id, attempt: 1, result: .null)
        ends.append(seconds(clock.now - t0))
    }
    return percentile(ends, 0.5)
}
if runs("hotkey") {
    let held = quick ? 10_000 : 100_000
    let fewer = held / 10
    let others = quick ? 1_000 : 10_000
    let keyed = try await hotKeyClaimLatency(held: held, others: others, name: "hotkey")
    let smaller = try await hotKeyClaimLatency(held: fewer, others: others, name: "hotkey-small")
    let plainEnd = try await plainEndLatency(rows: others, name: "hotkey-plain-end")
    rows.append(Row(name: "claim latency, \(held) held on one key", value: String(format: "%.0f µs", keyed.claim * 1e6),
                    note: String(format: "median, %d others; %.2f× with %d held (O(log n): flat)", others, keyed.claim / smaller.claim, fewer)))
    rows.append(Row(name: "keyed end letting the next one in", value: String(format: "%.0f µs", keyed.keyedEnd * 1e6),
                    note: String(format: "median, commit included; %.2f× an end without a key", keyed.keyedEnd / plainEnd)))
}

print("jobqueue store benchmark (SQLite \(JobStore.sqliteVersion), durability \(durability.rawValue)\(quick ? ", quick" : ""))")
let width = rows.map(\.name.count).max() ?? 0
for row in rows {
    print(row.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + row.value.padding(toLength: 16, withPad: " ", startingAt: 0) + "  " + row.note)
}
