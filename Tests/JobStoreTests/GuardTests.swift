import JobCore
import Testing
@testable import JobStore

/// A late or duplicate completion never overwrites a newer state.
@Suite struct GuardTests {
    @Test func lateCompletionAfterCancelChangesNothing() async throws {
        let t = try TestStore()
        let id = try await t.makeJob(in: .running)
        _ = try await t.store.cancel(id)
        let cancelled = try t.job(id)
        #expect(try await t.store.complete(id, attempt: 1, result: .null) == nil)
        #expect(try await t.store.fail(id, attempt: 1, failure: JobFailure(message: "x", at: t.clock.now), disposition: .permanent) == nil)
        #expect(try t.job(id) == cancelled)
    }

    @Test func duplicateCompletionChangesNothing() async throws {
        let t = try TestStore()
        let id = try await t.makeJob(in: .running)
        let first = try await t.store.complete(id, attempt: 1, result: RawJSON(validatedText: "1"))
        t.clock.advance(ms: 5)
        #expect(try await t.store.complete(id, attempt: 1, result: RawJSON(validatedText: "2")) == nil)
        #expect(try t.job(id) == first)
    }

    @Test func completionOfAnOlderAttemptChangesNothing() async throws {
        let t = try TestStore()
        let id = try await t.enqueue { $0.maxAttempts = 3 }
        _ = try await t.claimOne()
        _ = try await t.store.fail(id, attempt: 1, failure: JobFailure(message: "x", at: t.clock.now), disposition: .retry(afterMs: 0))
        _ = try await t.claimOne()  // attempt 2 runs now
        #expect(try await t.store.complete(id, attempt: 1, result: .null) == nil)
        #expect(try t.job(id).state == .running)
        #expect(try await t.store.complete(id, attempt: 2, result: .null)?.state == .succeeded)
    }

    @Test func lateCompletionAfterRecoveryChangesNothing() async throws {
        let t = try TestStore()
        let id = try await t.makeJob(in: .running)
        let oldStore = t.store
        // A new run recovers the job while the old run's worker is still finishing.
        var options = StoreOptions(path: t.path)
        let clock = t.clock
        options.clock = { clock.now }
        oldStore.close()
        let newStore = try JobStore.open(options)
        defer { newStore.close() }
        let recovered = try await newStore.recoverInterrupted { _ in 0 }
        #expect(recovered.map(\.id) == [id] && recovered.first?.state == .queued)
        let reclaimed = try await newStore.claim(ClaimRequest(maxJobs: 1))
        #expect(reclaimed.first?.attempts == 2)
        #expect(try await newStore.complete(id, attempt: 1, result: RawJSON(validatedText: "\"stale\"")) == nil)
        #expect(try newStore.get(id)?.state == .running)
        #expect(try await newStore.complete(id, attempt: 2, result: .null)?.state == .succeeded)
    }
}
