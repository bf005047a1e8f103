import Foundation
import JobCore
import Testing
@testable import JobStore

/// Dependencies (SCHEDULING.md) through the store, on a real SQLite file.
@Suite struct DependencyTests {
    func finish(_ t: TestStore, _ id: JobID) async throws {
        let job = try await t.claimOne(queue: try t.job(id).queue)
        #expect(job.id == id)
        _ = try await t.store.complete(id, attempt: job.attempts, result: .null)
    }

    func failForGood(_ t: TestStore, _ id: JobID) async throws {
        let job = try await t.claimOne(queue: try t.job(id).queue)
        #expect(job.id == id)
        _ = try await t.store.fail(id, attempt: job.attempts, failure: JobFailure(message: "boom", at: t.clock.now), disposition: .permanent)
    }

    @Test func aChainRunsInOrder() async throws {
        let t = try TestStore()
        let a = try await t.enqueue()
        let b = try await t.enqueue { $0.after = [a] }
        let c = try await t.enqueue { $0.after = [b] }
        #expect(try t.job(b).state == .blocked && t.job(c).state == .blocked)
        #expect(try t.job(c).after == [b] && t.job(a).hasDependents)
        #expect(try await t.store.claim(ClaimRequest(maxJobs: 10)).map(\.id) == [a])
        _ = try await t.store.complete(a, attempt: 1, result: .null)
        #expect(try t.job(b).state == .queued && t.job(c).state == .blocked)
        try await finish(t, b)
        #expect(try t.job(c).state == .queued)
        #expect(try t.store.stats()["default"]?.counts[.blocked] == 0)
    }

    @Test func aFanInWaitsForEveryDependency() async throws {
        let t = try TestStore()
        let a = try await t.enqueue { $0.queue = "parents" }
        let b = try await t.enqueue { $0.queue = "parents" }
        let c = try await t.enqueue { $0.after = [a, b, a] }  // a repeated id counts once
        try await finish(t, a)
        #expect(try t.job(c).state == .blocked)
        try await finish(t, b)
        #expect(try t.job(c).state == .queued)
    }

    @Test func aFanOutIsUnblockedInTheDependencysTransaction() async throws {
        let t = try TestStore()
        let a = try await t.enqueue { $0.queue = "parents" }
        var children: [JobID] = []
        for _ in 0..<50 { children.append(try await t.enqueue { $0.after = [a] }) }
        #expect(try t.store.stats()["default"]?.counts[.blocked] == 50)
        let job = try await t.claimOne(queue: "parents")
        let commits = t.store.writerCounters.commits
        _ = try await t.store.complete(a, attempt: job.attempts, result: .null)
        #expect(t.store.writerCounters.commits == commits + 1)
        #expect(try children.allSatisfy { try t.job($0).state == .queued })
        #expect(try t.store.stats()["default"]?.counts[.queued] == 50)
        #expect(try outsideQuery(t.path, "SELECT count(*) FROM job_dependencies") == [["0"]])
    }

    @Test func aFailureCancelsTheWholeChainInOneTransaction() async throws {
        let t = try TestStore()
        let settled = SettledRecorder()
        t.store.onSettled = { settled.add($0) }
        let a = try await t.enqueue { $0.queue = "parents" }
        let b = try await t.enqueue { $0.after = [a] }
        let c = try await t.enqueue { $0.after = [b] }
        let d = try await t.enqueue { $0.after = [c, a] }
        let commits = t.store.writerCounters.commits
        try await failForGood(t, a)
        #expect(t.store.writerCounters.commits == commits + 2)  // the claim, then the failure with its cascade
        #expect(try t.job(b).state == .cancelled && t.job(b).error?.message == "dependency \(a) failed")
        #expect(try t.job(c).state == .cancelled && t.job(c).error?.message == "dependency \(b) was cancelled")
        #expect(try t.job(d).state == .cancelled && t.job(d).finishedAt == t.clock.now)
        #expect(Set(settled.cancelled) == [b, c, d])
        #expect(try t.store.stats()["default"]?.counts[.cancelled] == 3)
    }

    @Test func cancellingADependencyCancelsItsDependents() async throws {
        let t = try TestStore()
        let a = try await t.enqueue { $0.start = .after(milliseconds: 60_000) }
        let b = try await t.enqueue { $0.after = [a] }
        _ = try await t.store.cancel(a)
        #expect(try t.job(b).state == .cancelled && t.job(b).error?.message == "dependency \(a) was cancelled")
        // A blocked job can be cancelled itself, and takes its own dependents along.
        let x = try await t.enqueue { $0.start = .after(milliseconds: 60_000) }
        let y = try await t.enqueue { $0.after = [x] }
        let z = try await t.enqueue { $0.after = [y] }
        #expect(try await t.store.cancel(y).previousState == .blocked)
        #expect(try t.job(z).state == .cancelled && t.job(x).state == .scheduled)
    }

    @Test func dependenciesThatAlreadyEndedCountAtOnce() async throws {
        let t = try TestStore()
        let done = try await t.enqueue()
        try await finish(t, done)
        #expect(try await t.store.enqueue(NewJob(handler: "noop", queue: "others", after: [done])).state == .queued)
        let failed = try await t.enqueue()
        try await failForGood(t, failed)
        let outcome = try await t.store.enqueue(NewJob(handler: "noop", after: [done, failed]))
        #expect(outcome.state == .cancelled)
        #expect(try t.job(outcome.id).error?.message == "dependency \(failed) failed")
        // Blocked until its run_at, then scheduled.
        let later = try await t.enqueue { $0.queue = "parents" }
        let timed = try await t.enqueue {
            $0.after = [later]
            $0.start = .after(milliseconds: 5000)
        }
        try await finish(t, later)
        #expect(try t.job(timed).state == .scheduled)
    }

    @Test func anUnknownDependencyIsRefusedAndStoresNothing() async throws {
        let t = try TestStore()
        await #expect(throws: StoreError.dependencyNotFound(JobID(999), index: nil)) {
            try await t.store.enqueue(NewJob(handler: "noop", after: [JobID(999)]))
        }
        let a = try await t.enqueue()
        // A DAG in one batch: entries name earlier ones; one bad entry and none is stored.
        let bad = [NewJob(handler: "noop"), NewJob(handler: "noop", afterIndex: [0]), NewJob(handler: "noop", after: [JobID(999)], afterIndex: [1])]
        await #expect(throws: StoreError.dependencyNotFound(JobID(999), index: 2)) { try await t.store.enqueueBatch(bad) }
        #expect(try t.store.list(ListFilter()).jobs.map(\.id) == [a])
        #expect(try outsideQuery(t.path, "SELECT count(*) FROM job_dependencies") == [["0"]])

        let dag = [NewJob(handler: "noop", queue: "p"), NewJob(handler: "noop", afterIndex: [0]), NewJob(handler: "noop", afterIndex: [0]),
                   NewJob(handler: "noop", after: [a], afterIndex: [1, 2])]
        let ids = try await t.store.enqueueBatch(dag).ids
        #expect(try ids.map { try t.job($0).state } == [.queued, .blocked, .blocked, .blocked])
        #expect(try t.job(ids[3]).after == [a, ids[1], ids[2]])
    }

    @Test func retryingADependentWaitsAgainForItsDependencies() async throws {
        let t = try TestStore()
        let a = try await t.enqueue { $0.queue = "parents"; $0.maxAttempts = 1 }
        let b = try await t.enqueue { $0.after = [a] }
        try await failForGood(t, a)
        #expect(try t.job(b).state == .cancelled)
        #expect(try await t.store.retry(b).state == .blocked)
        _ = try await t.store.retry(a)
        try await finish(t, a)
        #expect(try t.job(b).state == .queued && t.job(b).attempts == 0)
    }

    /// A reload that makes a handler external takes its blocked jobs along:
    /// once unblocked they go to the workers, not to the daemon's own.
    @Test func aBlockedJobFollowsItsHandlerToTheWorkers() async throws {
        let t = try TestStore()
        let a = try await t.enqueue { $0.queue = "parents" }
        let b = try await t.store.enqueue(NewJob(handler: "resize", after: [a])).id
        _ = try await t.store.setExternalHandlers(["resize"])
        #expect(try outsideQuery(t.path, "SELECT external FROM jobs WHERE id = \(b.rawValue)") == [["1"]])
        try await finish(t, a)
        #expect(try t.job(b).state == .queued)
        #expect(try await t.store.claim(ClaimRequest(maxJobs: 10)).isEmpty)
    }

    @Test func aBlockedJobHoldsItsUniqueKey() async throws {
        let t = try TestStore()
        let a = try await t.enqueue { $0.queue = "parents" }
        let b = try await t.store.enqueue(NewJob(handler: "noop", uniqueKey: "k", after: [a]))
        let again = try await t.store.enqueue(NewJob(handler: "noop", uniqueKey: "k"))
        #expect(again.duplicate && again.id == b.id && again.state == .blocked)
    }
}

/// What `onSettled` reported, across the writer thread.
final class SettledRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var ids: [JobID] = []

    func add(_ settled: SettledJobs) {
        lock.withLock { ids += settled.cancelled.map(\.id) }
    }

    var cancelled: [JobID] { lock.withLock { ids } }
}
