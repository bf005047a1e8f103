import Foundation
import JobCore
import Testing
@testable import JobStore

/// A job's end that no client waits for may wait for the next transaction
/// (`deferrable`), for at most the deferral window; it is answered only
/// after it committed, like any write. Most cases use a window of an hour:
/// whatever commits it early is what the test is about, and a broken case
/// fails at its own deadline (closing the store then commits what is left).
@Suite struct DeferredWriteTests {
    func store(windowMs: UInt64) throws -> TestStore {
        try TestStore { $0.deferralWindowMicroseconds = windowMs * 1000 }
    }

    func runningJob(_ t: TestStore) async throws -> Job {
        _ = try await t.enqueue()
        return try await t.claimOne()
    }

    /// Completes `job` as a deferrable write in a task, which ends with the
    /// stored job and the seconds until the answer.
    func completeDeferred(_ t: TestStore, _ job: Job) -> Task<(job: Job?, seconds: Double), any Error> {
        let store = t.store
        return Task {
            let started = Date()
            let done = try await store.complete(job.id, attempt: job.attempts, result: nil, deferrable: true)
            return (done, Date().timeIntervalSince(started))
        }
    }

    /// Whether the stored job reaches `state` within `seconds`.
    func reaches(_ t: TestStore, _ id: JobID, _ state: JobState, within seconds: Double = 120) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try t.job(id).state == state { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    @Test func aDeferredWriteAloneCommitsWhenItsWindowEnds() async throws {
        let t = try store(windowMs: 2000)
        let job = try await runningJob(t)
        // Answered once the window is over (a busy machine may add to it, never take from it).
        let answer = try await completeDeferred(t, job).value
        #expect(answer.job?.state == .succeeded)
        #expect(answer.seconds >= 1.9)
    }

    @Test func anotherWriteTakesItAlongInItsTransaction() async throws {
        let t = try store(windowMs: 3_600_000)
        let job = try await runningJob(t)
        _ = completeDeferred(t, job)
        try await Task.sleep(for: .milliseconds(100))
        #expect(try t.job(job.id).state == .running)
        let other = try await t.enqueue()
        // The enqueue is answered after its commit, which carried the completion.
        #expect(try t.job(job.id).state == .succeeded)
        #expect(try t.job(other).state == .queued)
    }

    /// An expedite before the write makes that write urgent, and serves it
    /// only; an expedite while a write is deferred commits it at once.
    @Test func expeditingCommitsTheDeferredWriteOrTheNextOne() async throws {
        let t = try store(windowMs: 3_600_000)
        let first = try await runningJob(t)
        t.store.expediteDeferredWrites()
        _ = completeDeferred(t, first)
        #expect(try await reaches(t, first.id, .succeeded))
        let second = try await runningJob(t)
        _ = completeDeferred(t, second)
        try await Task.sleep(for: .milliseconds(100))
        #expect(try t.job(second.id).state == .running, "deferred again")
        t.store.expediteDeferredWrites()
        #expect(try await reaches(t, second.id, .succeeded))
    }

    @Test func closingCommitsDeferredWrites() async throws {
        let t = try store(windowMs: 3_600_000)
        let job = try await runningJob(t)
        let completion = completeDeferred(t, job)
        try await Task.sleep(for: .milliseconds(100))
        try t.reopen()
        #expect(try t.job(job.id).state == .succeeded)
        #expect(try await completion.value.job?.state == .succeeded)
    }
}

/// `mayClaim`: the dispatcher's read before it claims.
@Suite struct MayClaimTests {
    let everywhere = ClaimRequest(maxJobs: 4)

    @Test func nothingToClaimInAnEmptyStore() async throws {
        let t = try TestStore()
        #expect(try t.store.mayClaim(everywhere, now: t.clock.now) == false)
    }

    @Test func aQueuedJobCanBeClaimedUnlessItsQueueIsPausedOrFull() async throws {
        let t = try TestStore()
        _ = try await t.enqueue { $0.queue = "mail" }
        #expect(try t.store.mayClaim(everywhere, now: t.clock.now))
        #expect(try t.store.mayClaim(ClaimRequest(maxJobs: 0), now: t.clock.now) == false)
        #expect(try t.store.mayClaim(ClaimRequest(maxJobs: 4, slotsPerQueue: ["mail": 0]), now: t.clock.now) == false)
        #expect(try t.store.mayClaim(ClaimRequest(maxJobs: 4, slotsPerQueue: [:], slotsForOtherQueues: 0), now: t.clock.now) == false)
        try await t.store.pause(queue: "mail")
        #expect(try t.store.mayClaim(everywhere, now: t.clock.now) == false)
        try await t.store.resume(queue: "mail")
        #expect(try t.store.mayClaim(everywhere, now: t.clock.now))
        _ = try await t.claimOne(queue: "mail")
        #expect(try t.store.mayClaim(everywhere, now: t.clock.now) == false)
    }

    @Test func aWaitingJobCountsOnceItIsDue() async throws {
        let t = try TestStore()
        _ = try await t.enqueue { $0.start = .at(t.clock.now.adding(milliseconds: 5000)) }
        #expect(try t.store.mayClaim(everywhere, now: t.clock.now) == false)
        #expect(try t.store.mayClaim(everywhere, now: t.clock.now.adding(milliseconds: 5000)))
    }

    @Test func everyClaimThatFindsAJobWasForeseen() async throws {
        // mayClaim false must mean claim finds nothing, over a mix of states.
        let t = try TestStore()
        for n in 0..<30 {
            _ = try await t.enqueue { $0.queue = ["a", "b", "c"][n % 3]; if n % 4 == 0 { $0.start = .at(t.clock.now.adding(milliseconds: Int64(n * 10))) } }
        }
        try await t.store.pause(queue: "b")
        for step in 0..<40 {
            let request = ClaimRequest(maxJobs: 2, slotsPerQueue: ["a": step % 2, "c": 1])
            let foreseen = try t.store.mayClaim(request, now: t.clock.now)
            let claimed = try await t.store.claim(request)
            if !foreseen { #expect(claimed.isEmpty, "step \(step)") }
            t.clock.advance(ms: 7)
        }
    }

    @Test func theWindowIsAsLongAsAFewCommitsTakeWithinItsBounds() {
        let options = StoreOptions(path: "unused")  // at least 1 ms, 4 commits, at most 10 ms
        #expect(GroupCommitWriter.deferralWindowNanos(averageCommitNanos: 100_000, options) == 1_000_000)  // a fast disk: the floor
        #expect(GroupCommitWriter.deferralWindowNanos(averageCommitNanos: 800_000, options) == 3_200_000)  // a slow flush: longer
        #expect(GroupCommitWriter.deferralWindowNanos(averageCommitNanos: 50_000_000, options) == 10_000_000)  // a stall: capped
    }
}
