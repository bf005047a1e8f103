import JobCore
import Testing
@testable import JobStore

@Suite struct ListTests {
    @Test func pagesWithACursorUntilNull() async throws {
        let t = try TestStore()
        let ids = try await t.store.enqueueBatch((0..<25).map { _ in NewJob(handler: "noop") }).ids
        let first = try t.store.list(ListFilter(limit: 10))
        #expect(first.jobs.map(\.id) == Array(ids[0..<10]) && first.nextAfterID == ids[9].rawValue)
        let second = try t.store.list(ListFilter(afterID: first.nextAfterID!, limit: 10))
        #expect(second.jobs.map(\.id) == Array(ids[10..<20]))
        let last = try t.store.list(ListFilter(afterID: second.nextAfterID!, limit: 10))
        #expect(last.jobs.map(\.id) == Array(ids[20...]) && last.nextAfterID == nil)
        let exact = try t.store.list(ListFilter(afterID: ids[14].rawValue, limit: 10))
        #expect(exact.jobs.count == 10 && exact.nextAfterID == nil)
    }

    @Test func filtersByQueueStateHandlerAndTag() async throws {
        let t = try TestStore()
        let a = try await t.enqueue("echo") { $0.queue = "images"; $0.tags = ["red", "big"] }
        let b = try await t.enqueue("noop") { $0.queue = "images"; $0.tags = ["red"] }
        let c = try await t.enqueue("echo") { $0.tags = ["big"] }
        let d = try await t.enqueue("noop") { $0.start = .after(milliseconds: 1000) }
        func ids(_ filter: ListFilter) throws -> [JobID] { try t.store.list(filter).jobs.map(\.id) }
        #expect(try ids(ListFilter(queue: "images")) == [a, b])
        #expect(try ids(ListFilter(state: .scheduled)) == [d])
        #expect(try ids(ListFilter(handler: "echo")) == [a, c])
        #expect(try ids(ListFilter(tag: "big")) == [a, c])
        #expect(try ids(ListFilter(queue: "images", handler: "echo", tag: "red")) == [a])
        #expect(try ids(ListFilter(tag: "big", afterID: a.rawValue)) == [c])
        #expect(try ids(ListFilter(tag: "none")).isEmpty)
    }
}

@Suite struct StatsTests {
    @Test func countsEveryQueueAndState() async throws {
        let t = try TestStore()
        _ = try await t.makeJob(in: .succeeded)
        _ = try await t.makeJob(in: .failed)
        _ = try await t.makeJob(in: .scheduled)
        _ = try await t.enqueue { $0.queue = "images" }
        _ = try await t.enqueue { $0.queue = "images" }
        try await t.store.pause(queue: "empty")
        let stats = try t.store.stats()
        #expect(Set(stats.keys) == ["default", "images", "empty"])
        let d = try #require(stats["default"])
        #expect(d.counts == [.blocked: 0, .scheduled: 1, .queued: 0, .running: 0, .retrying: 0, .succeeded: 1, .failed: 1, .cancelled: 0])
        #expect(stats["images"]?.counts[.queued] == 2 && stats["images"]?.paused == false)
        #expect(stats["empty"]?.paused == true && stats["empty"]?.counts.values.allSatisfy { $0 == 0 } == true)
    }

    @Test func countsMatchTheRowsAfterEveryKindOfChange() async throws {
        let t = try TestStore()
        for state in JobState.allCases {
            _ = try await t.makeJob(in: state, queue: "q-\(state)")
        }
        var bad = [NewJob(handler: "noop", queue: "rolled-back"), NewJob(handler: "noop", queue: "rolled-back")]
        bad[1].priority = 5000  // SQLite's CHECK refuses it: the batch rolls back
        _ = try? await t.store.enqueueBatch(bad)
        _ = try await t.store.claim(ClaimRequest(maxJobs: 2))
        try t.reopen()
        _ = try await t.store.recoverInterrupted { _ in 10 }
        t.clock.advance(ms: 60_000)
        _ = try await t.store.promoteDue()
        _ = try await t.store.retry(t.makeJob(in: .failed, queue: "again"))
        t.clock.advance(ms: 100)
        _ = try await t.store.prune(retentionMs: [.succeeded: 1, .cancelled: 1])
        let counted = try outsideQuery(t.path, "SELECT queue, state, n FROM job_counts WHERE n > 0 ORDER BY queue, state")
        let actual = try outsideQuery(t.path, "SELECT queue, state, count(*) FROM jobs GROUP BY queue, state ORDER BY queue, state")
        #expect(counted == actual)
    }
}

@Suite struct PruneTests {
    @Test func deletesOnlyFinishedJobsPastTheirRetentionInBatches() async throws {
        let t = try TestStore()
        var old: [JobID] = []
        for _ in 0..<5 { old.append(try await t.makeJob(in: .succeeded)) }
        let oldFailed = try await t.makeJob(in: .failed)
        let running = try await t.makeJob(in: .running)
        t.clock.advance(ms: 1000)
        let recent = try await t.makeJob(in: .succeeded)
        _ = try await t.store.enqueue(NewJob(handler: "noop", tags: ["t"]))
        let retention: [JobState: Int64] = [.succeeded: 500, .failed: 5000, .cancelled: 500]

        #expect(try await t.store.prune(retentionMs: retention, batchSize: 2) == 2)
        #expect(try await t.store.prune(retentionMs: retention, batchSize: 2) == 2)
        #expect(try await t.store.prune(retentionMs: retention, batchSize: 2) == 1)
        #expect(try await t.store.prune(retentionMs: retention, batchSize: 2) == 0)
        for id in old { #expect(try t.store.get(id) == nil) }
        #expect(try t.store.get(oldFailed) != nil && t.store.get(running) != nil && t.store.get(recent) != nil)
        #expect(try t.store.stats()["default"]?.counts[.succeeded] == 1)
    }

    @Test func deletesTheTagsOfPrunedJobs() async throws {
        let t = try TestStore()
        let id = try await t.enqueue { $0.tags = ["gone"] }
        _ = try await t.store.cancel(id)
        t.clock.advance(ms: 10)
        _ = try await t.store.prune(retentionMs: [.cancelled: 1])
        #expect(try outsideQuery(t.path, "SELECT count(*) FROM job_tags") == [["0"]])
    }
}
