import Foundation
import JobCore
import Testing
@testable import JobStore

/// Jobs claimed beyond the free slots (docs/job-lifecycle.md, "Claimed
/// ahead"): `running` with no `started_at` until they start, put back
/// without their attempt counted when they never did.
@Suite struct ClaimAheadTests {
    @Test func aClaimTakesTheFreeSlotsThenTheLookaheadInOrder() async throws {
        let t = try TestStore()
        let low = try await t.enqueue { $0.priority = -1 }
        let a = try await t.enqueue()
        let high = try await t.enqueue { $0.priority = 5 }
        let b = try await t.enqueue()
        let left = try await t.enqueue { $0.priority = -2 }
        let claimed = try await t.store.claim(ClaimRequest(maxJobs: 1, ahead: 3))
        #expect(claimed.map(\.id) == [high, a, b, low])
        #expect(claimed.map { $0.startedAt != nil } == [true, false, false, false])
        #expect(claimed.allSatisfy { $0.state == .running && $0.attempts == 1 })
        #expect(try t.job(left).state == .queued)
        #expect(try t.store.stats()["default"]?.counts[.running] == 4)
    }

    @Test func aQueueWithoutAFreeSlotIsStillClaimedAheadAndAFullQueueDoesNotBlockAnother() async throws {
        let t = try TestStore()
        let slow = try await t.enqueue { $0.queue = "slow"; $0.priority = 9 }
        let fast = try await t.enqueue { $0.queue = "fast" }
        let claimed = try await t.store.claim(ClaimRequest(maxJobs: 1, slotsPerQueue: ["slow": 0, "fast": 1], ahead: 1))
        // The better job's queue is full: it waits ahead; the free slot goes to the other queue.
        #expect(claimed.map(\.id) == [slow, fast])
        #expect(try t.job(fast).startedAt != nil && t.job(slow).startedAt == nil)
    }

    @Test func aRecordedStartCommitsWithTheNextWrite() async throws {
        let t = try TestStore { $0.deferralWindowMicroseconds = 3_600_000_000 }  // only the next write commits it
        let id = try await t.enqueue()
        let job = try #require(try await t.store.claim(ClaimRequest(maxJobs: 0, ahead: 1)).first)
        #expect(job.startedAt == nil)
        t.clock.advance(ms: 5)
        t.store.recordStart(id, attempt: job.attempts, at: t.clock.now)
        #expect(try t.job(id).startedAt == nil)  // deferred
        _ = try await t.enqueue()
        #expect(try t.job(id).startedAt == t.clock.now)
    }

    /// An expedited start (urgent) and then the job's unawaited end
    /// (deferred) reach the writer while it is busy: the batch keeps their
    /// order, so the end never commits before the start (it did: a job
    /// `succeeded` with no `started_at`, seen in FlowControlTests).
    @Test func anExpeditedStartCommitsBeforeTheDeferredEndThatFollowsIt() async throws {
        let t = try TestStore { $0.deferralWindowMicroseconds = 3_600_000_000 }
        let id = try await t.enqueue()
        let job = try #require(try await t.store.claim(ClaimRequest(maxJobs: 0, ahead: 1)).first)
        let store = t.store
        // Keeps the writer inside one transaction while both writes queue up.
        let busy = Task { try await store.perform { _ throws(StoreError) in _ = usleep(300_000) } }
        try await Task.sleep(for: .milliseconds(100))
        store.expediteDeferredWrites()
        t.clock.advance(ms: 5)
        store.recordStart(id, attempt: job.attempts, at: t.clock.now)  // urgent: the expedite is for it
        let end = Task { try await store.complete(id, attempt: job.attempts, result: nil, deferrable: true) }
        _ = try await busy.value
        _ = try await t.enqueue()  // a write that commits whatever is still deferred
        let ended = try await end.value
        #expect(ended?.state == .succeeded)
        #expect(try t.job(id).startedAt == t.clock.now)
    }

    @Test func releasingPutsTheJobBackAsItWasAndOnlyIfItNeverStarted() async throws {
        let t = try TestStore()
        let unstarted = try await t.enqueue { $0.maxAttempts = 1 }
        let started = try await t.enqueue { $0.maxAttempts = 1 }
        let claimed = try await t.store.claim(ClaimRequest(maxJobs: 0, ahead: 2))
        #expect(claimed.count == 2)
        t.store.recordStart(started, attempt: 1, at: t.clock.now)
        let released = try await t.store.releaseUnstarted(claimed.map { ($0.id, $0.attempts) })
        #expect(released == 1)
        let back = try t.job(unstarted)
        #expect(back.state == .queued && back.attempts == 0 && back.leaseOwner == nil && back.errors.isEmpty)
        #expect(try t.job(started).state == .running)
        #expect(try t.store.stats()["default"]?.counts == [.blocked: 0, .queued: 1, .running: 1, .scheduled: 0, .retrying: 0, .succeeded: 0,
                                                             .failed: 0, .cancelled: 0])
        // And it is claimed again like any queued job.
        #expect(try await t.store.claim(ClaimRequest(maxJobs: 1)).map(\.id) == [unstarted])
    }

    @Test func recoveryCountsAStartedAttemptButNotAJobThatWasOnlyClaimedAhead() async throws {
        let t = try TestStore()
        let atOnce = try await t.enqueue { $0.maxAttempts = 1 }
        let startedAhead = try await t.enqueue { $0.maxAttempts = 3 }
        let neverStarted = try await t.enqueue { $0.maxAttempts = 1 }
        let claimed = try await t.store.claim(ClaimRequest(maxJobs: 1, ahead: 2))
        #expect(claimed.map(\.id) == [atOnce, startedAhead, neverStarted])
        t.store.recordStart(startedAhead, attempt: 1, at: t.clock.now)
        _ = try await t.store.promoteDue()  // a write after it: the start is committed

        try t.reopen()  // a crash: nothing was put back
        let recovered = try await t.store.recoverInterrupted { _ in 0 }
        #expect(Set(recovered.map(\.id)) == [atOnce, startedAhead, neverStarted])
        #expect(try t.job(atOnce).state == .failed)  // its one attempt was cut
        let ahead = try t.job(startedAhead)
        #expect(ahead.state == .queued && ahead.attempts == 1 && ahead.error?.message == "daemon stopped during the attempt")
        // Claimed ahead and never started: not an attempt, even on its last one.
        let never = try t.job(neverStarted)
        #expect(never.state == .queued && never.attempts == 0 && never.errors.isEmpty && never.leaseOwner == nil)
    }
}
