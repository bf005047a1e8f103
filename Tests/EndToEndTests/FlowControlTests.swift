import Foundation
import Testing

/// Concurrency keys and rate limits (SCHEDULING.md) against the real daemon,
/// measured from the jobs' own `started_at` and `finished_at`.
@Suite(.blocking) struct FlowControlTests {
    static func times(_ c: Client, _ ids: [Int]) throws -> [(start: Date, end: Date)] {
        try ids.map { id in
            let job = try c.wait(id)
            let start = try #require(ScheduleTests.date(job["started_at"]), "job \(id) has no started_at: \(job)")
            let end = try #require(ScheduleTests.date(job["finished_at"]), "job \(id) has no finished_at: \(job)")
            return (start, end)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func jobsOfOneKeyRunOneAtATimeWhileOtherKeysAndJobsFlow(engine: StoreKind) throws {
        let d = try Daemon(engine: engine, config: """
            workers: 6
            queues:
              default: {concurrency: 6}
            handlers:
              sync:
                builtin: sleep
                key_concurrency: 1
              pair:
                builtin: sleep
                key_concurrency: 2

            """)
        let c = try d.client()
        let hot = try (0..<4).map { _ in try c.enqueue("sync", ["payload": ["ms": 300], "concurrency_key": "customer-1"]) }
        let others = try (0..<3).map { try c.enqueue("sync", ["payload": ["ms": 300], "concurrency_key": "customer-\($0 + 2)"]) }
        let plain = try c.enqueue("sleep", ["payload": ["ms": 300]])
        #expect(try c.get(hot[1])["concurrency_key"] as? String == "customer-1")

        // The key's jobs never overlap, in the order they were enqueued.
        let hotTimes = try Self.times(c, hot)
        for (earlier, later) in zip(hotTimes, hotTimes.dropFirst()) { #expect(later.start >= earlier.end) }
        // Other keys and unkeyed jobs did not wait behind them: they started
        // before the key's second job ended (a loaded machine may start them
        // after the first, whose 300 ms are short).
        for time in try Self.times(c, others + [plain]) { #expect(time.start < hotTimes[1].end) }

        // key_concurrency: 2 runs two at a time, never three.
        let pairs = try (0..<4).map { _ in try c.enqueue("pair", ["payload": ["ms": 400], "concurrency_key": "k"]) }
        let pairTimes = try Self.times(c, pairs)
        // At the start of each, how many were running (started, not yet finished).
        for time in pairTimes {
            let running = pairTimes.filter { $0.start <= time.start && time.start < $0.end }
            #expect(running.count <= 2)
        }
        #expect(pairTimes[1].start < pairTimes[0].end)
        #expect(try c.errorCode("enqueue", ["handler": "sync", "concurrency_key": String(repeating: "k", count: 129)]) == -32602)
        #expect(try c.errorCode("enqueue", ["handler": "sync", "concurrency_key": ""]) == -32602)
    }

    @Test(arguments: StoreKind.allCases)
    func noWindowOfPerHoldsMoreThanCountStarts(engine: StoreKind) throws {
        let d = try Daemon(engine: engine, config: """
            workers: 8
            handlers:
              limited:
                builtin: noop
                rate_limit: {count: 3, per: 700ms}
            queues:
              throttled:
                concurrency: 8
                rate_limit: {count: 2, per: 400ms}

            """)
        let c = try d.client()
        let batch: [[String: Any]] = Array(repeating: ["handler": "limited"], count: 10)
            + Array(repeating: ["handler": "noop", "queue": "throttled"], count: 7)
            + Array(repeating: ["handler": "noop"], count: 4)
        let ids = try #require(try c.call("enqueue_batch", ["jobs": batch])["ids"] as? [Int])
        let limited = try Self.times(c, Array(ids[0..<10])).map(\.start).sorted()
        let throttled = try Self.times(c, Array(ids[10..<17])).map(\.start).sorted()
        let free = try Self.times(c, Array(ids[17...])).map(\.start)
        // Wherever a window of `per` is placed, it holds at most `count` starts:
        // the start `count` places later is at least `per` after.
        for i in 0..<(limited.count - 3) { #expect(limited[i + 3].timeIntervalSince(limited[i]) >= 0.7 - 0.0005) }
        for i in 0..<(throttled.count - 2) { #expect(throttled[i + 2].timeIntervalSince(throttled[i]) >= 0.4 - 0.0005) }
        // The dispatcher woke when the next start was allowed, not much later.
        #expect(limited[3].timeIntervalSince(limited[0]) < 0.7 + 0.5)
        #expect(limited.last!.timeIntervalSince(limited[0]) < 3 * 0.7 + 1.0)
        // Jobs of other handlers and queues were not held back: they started within the first window.
        for start in free { #expect(start.timeIntervalSince(limited[0]) < 0.7) }
    }

    @Test func badLimitsAreConfigErrors() throws {
        for (text, complaint) in [
            ("handlers:\n  h:\n    builtin: noop\n    key_concurrency: 0\n", "at least 1"),
            ("handlers:\n  h:\n    builtin: noop\n    rate_limit: {count: 3}\n", "needs count and per"),
            ("queues:\n  q:\n    rate_limit: {count: 0, per: 1s}\n", "at least 1"),
            ("queues:\n  q:\n    rate_limit: {count: 1, per: 1s, burst: 2}\n", "unknown key"),
        ] {
            let d = try Daemon(start: false)
            try d.writeConfig(text)
            let run = try Daemon.runToEnd(["check-config", "--config", d.configPath])
            #expect(run.status == 78 && run.output.contains(complaint), "\(text): \(run.output)")
        }
    }

    /// External workers get the same rules: `reserve` hands out one job of
    /// a key at a time, and no more starts than the rate allows.
    @Test func reserveFollowsKeysAndRateLimits() throws {
        let d = try Daemon(config: """
            queues:
              ext: {concurrency: 50}
            handlers:
              keyed:
                external: true
                queue: ext
              paced:
                external: true
                queue: ext
                rate_limit: {count: 2, per: 600ms}

            """)
        let c = try d.client()
        for _ in 0..<3 { _ = try c.enqueue("keyed", ["concurrency_key": "k"]) }
        let other = try c.enqueue("keyed", ["concurrency_key": "other"])
        func reserve(_ handler: String, waitMs: Int = 0) throws -> [[String: Any]] {
            try c.call("reserve", ["handlers": [handler], "max_jobs": 10, "wait_ms": waitMs])["jobs"] as! [[String: Any]]
        }
        let first = try reserve("keyed")
        #expect(first.count == 2 && first.contains { $0["id"] as? Int == other })
        let keyed = try #require(first.first { $0["concurrency_key"] as? String == "k" })
        #expect(try reserve("keyed").isEmpty)
        let token = (keyed["lease"] as! [String: Any])["token"] as! String
        _ = try c.call("complete", ["id": keyed["id"] as! Int, "token": token])
        #expect(try reserve("keyed", waitMs: 5000).count == 1)

        for _ in 0..<5 { _ = try c.enqueue("paced") }
        var starts: [Date] = []
        while starts.count < 5 {
            let jobs = try reserve("paced", waitMs: 5000)
            #expect(jobs.count <= 2)
            starts += jobs.map { ScheduleTests.date($0["started_at"])! }
        }
        starts.sort()
        for i in 0..<(starts.count - 2) { #expect(starts[i + 2].timeIntervalSince(starts[i]) >= 0.6 - 0.0005) }
        // A waiting reserve was woken when the window let the next start in, not at the end of its wait.
        #expect(starts.last!.timeIntervalSince(starts[0]) < 2 * 0.6 + 1.0)
    }
}
