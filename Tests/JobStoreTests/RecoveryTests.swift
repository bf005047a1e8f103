import Foundation
import JobCore
import Testing
@testable import JobStore

/// A crash is simulated by abandoning the store without finishing its jobs:
/// the next run (a new store on the same file) must find them.
@Suite struct RecoveryTests {
    @Test func runningJobsOfAnEarlierRunBecomeFailedAttempts() async throws {
        let t = try TestStore()
        let retried = try await t.enqueue { $0.maxAttempts = 3 }
        let lastChance = try await t.enqueue { $0.maxAttempts = 1 }
        let waiting = try await t.enqueue()
        _ = try await t.store.claim(ClaimRequest(maxJobs: 2))
        let oldOwner = t.store.leaseOwner

        try t.reopen()  // the process is gone; nothing finished its jobs
        #expect(t.store.leaseOwner != oldOwner)
        #expect(try t.job(retried).state == .running)  // until recovery runs
        let recovered = try await t.store.recoverInterrupted { job in job.id == retried ? 2000 : 0 }
        #expect(Set(recovered.map(\.id)) == [retried, lastChance])

        let r = try t.job(retried)
        #expect(r.state == .retrying && r.attempts == 1 && r.runAt == t.clock.now.adding(milliseconds: 2000))
        #expect(r.error?.message == "daemon stopped during the attempt" && r.leaseOwner == nil)
        let l = try t.job(lastChance)
        #expect(l.state == .failed && l.error?.message == "daemon stopped during the attempt")
        #expect(try t.job(waiting).state == .queued)
        #expect(try await t.store.recoverInterrupted { _ in 0 }.isEmpty)  // once only
    }

    @Test func recoveryLeavesThisRunsOwnJobsAlone() async throws {
        let t = try TestStore()
        let id = try await t.enqueue()
        _ = try await t.claimOne()
        #expect(try await t.store.recoverInterrupted { _ in 0 }.isEmpty)
        #expect(try t.job(id).state == .running)
    }

    @Test func acknowledgedJobsSurviveAnAbandonedStore() async throws {
        let directory = TempDirectory()
        let path = directory.path("jobs.db")
        var ids: [JobID] = []
        do {
            // Opened and never closed: no final checkpoint, as after a kill.
            let store = try JobStore.open(StoreOptions(path: path))
            for n in 0..<50 { ids.append(try await store.enqueue(NewJob(handler: "noop", payload: RawJSON(validatedText: "\(n)"))).id) }
        }
        let store = try JobStore.open(StoreOptions(path: path))
        defer { store.close() }
        let stored = try store.list(ListFilter(limit: 1000)).jobs
        #expect(stored.map(\.id) == ids)
        #expect(try outsideQuery(path, "PRAGMA integrity_check") == [["ok"]])
    }
}
