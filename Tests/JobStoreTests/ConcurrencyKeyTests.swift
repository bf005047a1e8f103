import JobCore
import Testing
@testable import JobStore

/// Concurrency keys (SCHEDULING.md) through the store: held jobs stay
/// `queued` but out of the claim's way; an end lets the next one in.
@Suite struct ConcurrencyKeyTests {
    func keyed(_ t: TestStore, _ key: String, handler: String = "sync", priority: Int = 0) async throws -> JobID {
        try await t.store.enqueue(NewJob(handler: handler, priority: priority, concurrencyKey: key)).id
    }

    func claimAll(_ t: TestStore) async throws -> [JobID] {
        try await t.store.claim(ClaimRequest(maxJobs: 100)).map(\.id)
    }

    @Test func aKeyRunsOneJobAtATimeAndHoldsNoOtherJobBack() async throws {
        let t = try TestStore()
        let first = try await keyed(t, "customer-1")
        let second = try await keyed(t, "customer-1", priority: 5)
        let third = try await keyed(t, "customer-1")
        let other = try await keyed(t, "customer-2")
        let plain = try await t.enqueue()
        #expect(try t.job(second).state == .queued && t.job(second).concurrencyKey == "customer-1")
        #expect(try outsideQuery(t.path, "SELECT id FROM jobs WHERE key_held = 1 ORDER BY id") == [["\(second)"], ["\(third)"]])
        // Held jobs are not in the way: the claim takes the others, whatever their priority.
        #expect(try await claimAll(t) == [first, other, plain])
        #expect(try await claimAll(t).isEmpty)
        // The key's job ends: the best held one (priority, then age) is let in.
        _ = try await t.store.complete(first, attempt: 1, result: .null)
        #expect(try await claimAll(t) == [second])
        _ = try await t.store.fail(second, attempt: 1, failure: JobFailure(message: "x", at: t.clock.now), disposition: .retry(afterMs: 1000))
        #expect(try await claimAll(t) == [third])
        // The retry comes due while third runs: it waits for the key again.
        t.clock.advance(ms: 1000)
        #expect(try await claimAll(t).isEmpty)
        #expect(try t.job(second).state == .queued)
        _ = try await t.store.complete(third, attempt: 1, result: .null)
        #expect(try await claimAll(t) == [second])
    }

    @Test func keyConcurrencyLetsThatManyRunAndARaiseLetsMoreIn() async throws {
        let t = try TestStore()
        t.store.keyConcurrency = ["sync": 2]
        var ids: [JobID] = []
        for _ in 0..<5 { ids.append(try await keyed(t, "k")) }
        #expect(try await claimAll(t) == Array(ids.prefix(2)))
        // Another handler's jobs with the same key have a key of their own.
        let elsewhere = try await keyed(t, "k", handler: "report")
        #expect(try await claimAll(t) == [elsewhere])
        t.store.keyConcurrency = ["sync": 4]
        #expect(try await t.store.releaseHeldKeys() == 2)
        #expect(try await claimAll(t) == Array(ids[2..<4]))
    }

    @Test func cancellingAHeldOrRunningJobKeepsTheCountRight() async throws {
        let t = try TestStore()
        let running = try await keyed(t, "k")
        let held = try await keyed(t, "k")
        let last = try await keyed(t, "k")
        #expect(try await claimAll(t) == [running])
        _ = try await t.store.cancel(held)
        #expect(try await claimAll(t).isEmpty)
        _ = try await t.store.cancel(running)
        #expect(try await claimAll(t) == [last])
        #expect(try t.store.stats()["default"]?.counts[.queued] == 0)
    }

    @Test func aKeyedJobBlockedByADependencyWaitsForItsKeyOnceUnblocked() async throws {
        let t = try TestStore()
        let running = try await keyed(t, "k")
        #expect(try await claimAll(t) == [running])
        let parent = try await t.enqueue { $0.queue = "parents" }
        let child = try await t.store.enqueue(NewJob(handler: "sync", after: [parent], concurrencyKey: "k")).id
        let p = try await t.claimOne(queue: "parents")
        _ = try await t.store.complete(parent, attempt: p.attempts, result: .null)
        #expect(try t.job(child).state == .queued)
        #expect(try await claimAll(t).isEmpty)
        _ = try await t.store.complete(running, attempt: 1, result: .null)
        #expect(try await claimAll(t) == [child])
    }
}
