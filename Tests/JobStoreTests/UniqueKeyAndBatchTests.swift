import JobCore
import Testing
@testable import JobStore

@Suite struct UniqueKeyTests {
    @Test func anUnfinishedJobHoldsItsKey() async throws {
        let t = try TestStore()
        let first = try await t.store.enqueue(NewJob(handler: "noop", uniqueKey: "k"))
        let again = try await t.store.enqueue(NewJob(handler: "echo", uniqueKey: "k"))
        #expect(!first.duplicate && again.duplicate && again.id == first.id && again.state == .queued)
        _ = try await t.claimOne()
        let whileRunning = try await t.store.enqueue(NewJob(handler: "noop", uniqueKey: "k"))
        #expect(whileRunning.duplicate && whileRunning.id == first.id && whileRunning.state == .running)
        #expect(try t.store.list(ListFilter()).jobs.count == 1)
    }

    @Test func aFinishedJobReleasesItsKey() async throws {
        let t = try TestStore()
        let first = try await t.store.enqueue(NewJob(handler: "noop", uniqueKey: "k"))
        _ = try await t.claimOne()
        _ = try await t.store.complete(first.id, attempt: 1, result: .null)
        let second = try await t.store.enqueue(NewJob(handler: "noop", uniqueKey: "k"))
        #expect(!second.duplicate && second.id != first.id)
    }

    @Test func retryRefusesWhileAnotherJobHoldsTheKey() async throws {
        let t = try TestStore()
        let first = try await t.store.enqueue(NewJob(handler: "noop", uniqueKey: "k"))
        _ = try await t.store.cancel(first.id)
        let second = try await t.store.enqueue(NewJob(handler: "noop", uniqueKey: "k"))
        await #expect(throws: StoreError.uniqueKeyInUse(first.id, uniqueKey: "k", heldBy: second.id)) {
            try await t.store.retry(first.id)
        }
        #expect(try t.job(first.id).state == .cancelled)
    }
}

@Suite struct BatchTests {
    @Test func aBatchGetsIncreasingIdsInOrder() async throws {
        let t = try TestStore()
        let outcome = try await t.store.enqueueBatch((0..<1000).map { NewJob(handler: "noop", payload: RawJSON(validatedText: "\($0)")) })
        #expect(outcome.ids.count == 1000 && outcome.duplicates.allSatisfy { !$0 })
        #expect(outcome.ids == outcome.ids.sorted() && Set(outcome.ids).count == 1000)
        #expect(try t.job(outcome.ids[999]).payload.text == "999")
    }

    @Test func duplicatesInsideABatchPointAtTheFirst() async throws {
        let t = try TestStore()
        let outcome = try await t.store.enqueueBatch([
            NewJob(handler: "noop", uniqueKey: "a"), NewJob(handler: "noop"), NewJob(handler: "noop", uniqueKey: "a"),
        ])
        #expect(outcome.duplicates == [false, false, true])
        #expect(outcome.ids[2] == outcome.ids[0])
    }

    @Test func oneBadEntryWritesNothingAndSparesOtherCallers() async throws {
        let t = try TestStore()
        let store = t.store
        // priority 5000 passes no validation here, so SQLite's CHECK refuses it mid-batch.
        var jobs = (0..<50).map { _ in NewJob(handler: "noop", tags: ["batch"]) }
        jobs[37].priority = 5000
        let bad = Task { try await store.enqueueBatch(jobs) }
        let good = Task { try await store.enqueue(NewJob(handler: "noop")) }
        await #expect(throws: StoreError.self) { try await bad.value }
        let goodID = try await good.value.id
        let all = try t.store.list(ListFilter()).jobs
        #expect(all.map(\.id) == [goodID])
        #expect(try t.store.list(ListFilter(tag: "batch")).jobs.isEmpty)
        #expect(try t.store.stats()["default"]?.counts[.queued] == 1)
    }

    @Test func overloadedRefusesTheWholeBatch() async throws {
        let t = try TestStore { $0.maxActiveJobs = 10 }
        _ = try await t.store.enqueueBatch((0..<8).map { _ in NewJob(handler: "noop") })
        await #expect(throws: StoreError.overloaded(limit: 10)) {
            try await t.store.enqueueBatch((0..<3).map { _ in NewJob(handler: "noop") })
        }
        #expect(try t.store.list(ListFilter()).jobs.count == 8)
        _ = try await t.store.enqueueBatch((0..<2).map { _ in NewJob(handler: "noop") })
        await #expect(throws: StoreError.overloaded(limit: 10)) { try await t.enqueue() }
        // Finished jobs do not count.
        let running = try await t.store.claim(ClaimRequest(maxJobs: 1))
        _ = try await t.store.complete(running[0].id, attempt: 1, result: .null)
        _ = try await t.enqueue()
        t.store.maxActiveJobs = 20
        _ = try await t.store.enqueueBatch((0..<10).map { _ in NewJob(handler: "noop") })
    }
}
