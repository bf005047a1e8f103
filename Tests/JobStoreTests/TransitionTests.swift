import JobCore
import Testing
@testable import JobStore

/// Every state change through the store, against a real SQLite file.
@Suite struct TransitionTests {
    @Test func enqueueStoresEveryField() async throws {
        let t = try TestStore()
        let outcome = try await t.store.enqueue(NewJob(
            handler: "thumbnail", payload: RawJSON(validatedText: #"{"path":"/srv/a.png"}"#), queue: "images",
            priority: 7, maxAttempts: 3, timeoutMs: 1234, uniqueKey: "a.png", tags: ["x", "y"]))
        #expect(outcome.state == .queued && !outcome.duplicate)
        let job = try t.job(outcome.id)
        #expect(job.queue == "images" && job.handler == "thumbnail" && job.priority == 7)
        #expect(job.payload.text == #"{"path":"/srv/a.png"}"#)
        #expect(job.maxAttempts == 3 && job.timeoutMs == 1234 && job.attempts == 0)
        #expect(job.uniqueKey == "a.png" && job.tags == ["x", "y"])
        #expect(job.createdAt == t.clock.now && job.runAt == t.clock.now)
        #expect(job.startedAt == nil && job.finishedAt == nil && job.result == nil && job.errors.isEmpty)
        #expect(job.leaseOwner == nil)
    }

    @Test func delayedJobIsScheduledThenPromotedWhenDue() async throws {
        let t = try TestStore()
        let id = try await t.enqueue { $0.start = .after(milliseconds: 5000) }
        #expect(try t.job(id).state == .scheduled)
        #expect(try t.job(id).runAt == t.clock.now.adding(milliseconds: 5000))
        #expect(try t.store.nextWakeTime() == t.clock.now.adding(milliseconds: 5000))
        #expect(try await t.store.claim(ClaimRequest(maxJobs: 10)).isEmpty)
        t.clock.advance(ms: 4999)
        #expect(try await t.store.promoteDue() == 0)
        t.clock.advance(ms: 1)
        #expect(try await t.store.promoteDue() == 1)
        #expect(try t.job(id).state == .queued)
        #expect(try t.store.nextWakeTime() == nil)
    }

    @Test func claimPromotesDueJobsItself() async throws {
        let t = try TestStore()
        let id = try await t.enqueue { $0.start = .at(t.clock.now.adding(milliseconds: 100)) }
        t.clock.advance(ms: 100)
        #expect(try await t.claimOne().id == id)
    }

    @Test func claimMarksRunningUnderTheLease() async throws {
        let t = try TestStore()
        let id = try await t.enqueue()
        t.clock.advance(ms: 10)
        let job = try await t.claimOne()
        #expect(job.id == id && job.state == .running && job.attempts == 1)
        #expect(job.leaseOwner == t.store.leaseOwner && job.startedAt == t.clock.now)
        #expect(try t.job(id) == job)
    }

    @Test func completeSucceedsWithResult() async throws {
        let t = try TestStore()
        let id = try await t.enqueue()
        _ = try await t.claimOne()
        t.clock.advance(ms: 20)
        let done = try await t.store.complete(id, attempt: 1, result: RawJSON(validatedText: #"{"w":256}"#), resultTruncated: true)
        #expect(done?.state == .succeeded && done?.result?.text == #"{"w":256}"# && done?.resultTruncated == true)
        #expect(done?.finishedAt == t.clock.now && done?.leaseOwner == nil)
        #expect(try t.job(id) == done)
    }

    @Test func failRetriesAfterBackoffThenFailsWhenExhausted() async throws {
        let t = try TestStore()
        let id = try await t.enqueue { $0.maxAttempts = 2 }
        _ = try await t.claimOne()
        let failure = JobFailure(message: "boom", exitCode: 1, stderr: "oops", at: t.clock.now)
        let first = try await t.store.fail(id, attempt: 1, failure: failure, disposition: .retry(afterMs: 1000))
        #expect(first?.state == .retrying && first?.runAt == t.clock.now.adding(milliseconds: 1000))
        #expect(first?.errors == [failure] && first?.error == failure && first?.finishedAt == nil)

        #expect(try await t.store.claim(ClaimRequest(maxJobs: 1)).isEmpty)  // still backing off
        t.clock.advance(ms: 1000)
        let second = try await t.claimOne()
        #expect(second.id == id && second.attempts == 2)
        let last = try await t.store.fail(id, attempt: 2, failure: failure, disposition: .retry(afterMs: 1000))
        #expect(last?.state == .failed && last?.errors.count == 2 && last?.finishedAt == t.clock.now)
    }

    @Test func zeroBackoffRequeuesAtOnce() async throws {
        let t = try TestStore()
        let id = try await t.enqueue()
        _ = try await t.claimOne()
        let job = try await t.store.fail(id, attempt: 1, failure: JobFailure(message: "x", at: t.clock.now), disposition: .retry(afterMs: 0))
        #expect(job?.state == .queued)
    }

    @Test func permanentFailureSkipsRemainingAttempts() async throws {
        let t = try TestStore()
        let id = try await t.enqueue { $0.maxAttempts = 5 }
        _ = try await t.claimOne()
        let job = try await t.store.fail(id, attempt: 1, failure: JobFailure(message: "bad input", exitCode: 65, at: t.clock.now), disposition: .permanent)
        #expect(job?.state == .failed && job?.attempts == 1)
    }

    @Test(arguments: [JobState.scheduled, .queued, .running, .retrying])
    func cancelFromEveryUnfinishedState(state: JobState) async throws {
        let t = try TestStore()
        let id = try await t.makeJob(in: state)
        let outcome = try await t.store.cancel(id)
        #expect(outcome.previousState == state)
        #expect(outcome.job.state == .cancelled && outcome.job.finishedAt == t.clock.now && outcome.job.leaseOwner == nil)
    }

    @Test(arguments: [JobState.succeeded, .failed, .cancelled])
    func cancelOfAFinishedJobIsInvalid(state: JobState) async throws {
        let t = try TestStore()
        let id = try await t.makeJob(in: state)
        let before = try t.job(id)
        await #expect(throws: StoreError.invalidState(id, state: state, operation: "cancel")) { try await t.store.cancel(id) }
        #expect(try t.job(id) == before)
    }

    @Test(arguments: [JobState.failed, .cancelled])
    func retryQueuesAgainWithAttemptsFromZero(state: JobState) async throws {
        let t = try TestStore()
        let id = try await t.makeJob(in: state)
        let errorsBefore = try t.job(id).errors
        t.clock.advance(ms: 50)
        let job = try await t.store.retry(id)
        #expect(job.state == .queued && job.attempts == 0 && job.finishedAt == nil && job.runAt == t.clock.now)
        #expect(job.errors == errorsBefore)
        #expect(try await t.claimOne().id == id)
    }

    @Test(arguments: [JobState.scheduled, .queued, .running, .retrying, .succeeded])
    func retryOfOtherStatesIsInvalid(state: JobState) async throws {
        let t = try TestStore()
        let id = try await t.makeJob(in: state)
        let before = try t.job(id)
        await #expect(throws: StoreError.invalidState(id, state: state, operation: "retry")) { try await t.store.retry(id) }
        #expect(try t.job(id) == before)
    }

    @Test func unknownIdsAreNotFound() async throws {
        let t = try TestStore()
        let missing = JobID(404)
        #expect(try t.store.get(missing) == nil)
        await #expect(throws: StoreError.notFound(missing)) { try await t.store.cancel(missing) }
        await #expect(throws: StoreError.notFound(missing)) { try await t.store.retry(missing) }
        #expect(try await t.store.complete(missing, attempt: 1, result: nil) == nil)
    }

    @Test func everyStoredStateChangeIsALegalTransition() async throws {
        // Walk one job through a long life and check each step against JobCore.
        let t = try TestStore()
        let id = try await t.enqueue { $0.start = .after(milliseconds: 10); $0.maxAttempts = 2 }
        var previous = try t.job(id).state
        func step(_ expected: JobState) throws {
            let now = try t.job(id).state
            #expect(now == expected)
            #expect(previous.canMove(to: now), "\(previous) -> \(now)")
            previous = now
        }
        t.clock.advance(ms: 10)
        try await t.store.promoteDue(); try step(.queued)
        _ = try await t.claimOne(); try step(.running)
        _ = try await t.store.fail(id, attempt: 1, failure: JobFailure(message: "x", at: t.clock.now), disposition: .retry(afterMs: 5)); try step(.retrying)
        t.clock.advance(ms: 5)
        try await t.store.promoteDue(); try step(.queued)
        _ = try await t.claimOne(); try step(.running)
        _ = try await t.store.fail(id, attempt: 2, failure: JobFailure(message: "x", at: t.clock.now), disposition: .retry(afterMs: 5)); try step(.failed)
        _ = try await t.store.retry(id); try step(.queued)
        _ = try await t.store.cancel(id); try step(.cancelled)
        _ = try await t.store.retry(id); try step(.queued)
        _ = try await t.claimOne(); try step(.running)
        _ = try await t.store.complete(id, attempt: 1, result: .null); try step(.succeeded)
    }
}

extension TestStore {
    /// A job brought into `state` through the store's own operations.
    func makeJob(in state: JobState, queue: String = "default") async throws -> JobID {
        if state == .blocked {
            // After a job of another queue that never runs here.
            let dependency = try await enqueue { $0.queue = "dependencies-of-\(queue)" }
            let id = try await enqueue {
                $0.queue = queue
                $0.after = [dependency]
            }
            #expect(try job(id).state == .blocked)
            return id
        }
        let id = try await enqueue {
            $0.queue = queue
            $0.start = state == .scheduled ? .after(milliseconds: 60_000) : .now
            $0.maxAttempts = 2
        }
        let failure = JobFailure(message: "x", at: clock.now)
        switch state {
        case .scheduled, .queued, .blocked:
            break
        case .running:
            _ = try await claimOne(queue: queue)
        case .retrying:
            _ = try await claimOne(queue: queue)
            _ = try await store.fail(id, attempt: 1, failure: failure, disposition: .retry(afterMs: 60_000))
        case .succeeded:
            _ = try await claimOne(queue: queue)
            _ = try await store.complete(id, attempt: 1, result: .null)
        case .failed:
            _ = try await claimOne(queue: queue)
            _ = try await store.fail(id, attempt: 1, failure: failure, disposition: .permanent)
        case .cancelled:
            _ = try await store.cancel(id)
        }
        #expect(try job(id).state == state)
        return id
    }
}
