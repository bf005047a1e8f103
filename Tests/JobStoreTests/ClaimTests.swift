import JobCore
import Testing
@testable import JobStore

@Suite struct ClaimTests {
    @Test func claimsInPriorityThenRunAtThenIdOrder() async throws {
        let t = try TestStore()
        let base = t.clock.now
        let low = try await t.enqueue { $0.priority = -5 }
        let lateHigh = try await t.enqueue { $0.priority = 10; $0.start = .at(base.adding(milliseconds: -10)) }
        let earlyHigh = try await t.enqueue { $0.priority = 10; $0.start = .at(base.adding(milliseconds: -20)) }
        let plainA = try await t.enqueue()
        let plainB = try await t.enqueue()
        let sameTimeHigh = try await t.enqueue { $0.priority = 10; $0.start = .at(base.adding(milliseconds: -10)) }
        let claimed = try await t.store.claim(ClaimRequest(maxJobs: 10)).map(\.id)
        #expect(claimed == [earlyHigh, lateHigh, sameTimeHigh, plainA, plainB, low])
    }

    @Test func orderHoldsAcrossQueues() async throws {
        let t = try TestStore()
        let a1 = try await t.enqueue { $0.queue = "a"; $0.priority = 1 }
        let b1 = try await t.enqueue { $0.queue = "b"; $0.priority = 3 }
        let a2 = try await t.enqueue { $0.queue = "a"; $0.priority = 2 }
        let c1 = try await t.enqueue { $0.queue = "c" }
        #expect(try await t.store.claim(ClaimRequest(maxJobs: 3)).map(\.id) == [b1, a2, a1])
        #expect(try await t.store.claim(ClaimRequest(maxJobs: 3)).map(\.id) == [c1])
    }

    @Test(arguments: [0, 1, 2, 7])
    func neverClaimsMoreThanAsked(n: Int) async throws {
        let t = try TestStore()
        _ = try await t.store.enqueueBatch((0..<5).map { _ in NewJob(handler: "noop") })
        let claimed = try await t.store.claim(ClaimRequest(maxJobs: n))
        #expect(claimed.count == min(n, 5))
        #expect(try t.store.stats()["default"]?.counts[.running] == min(n, 5))
    }

    @Test func respectsEachQueuesFreeSlots() async throws {
        let t = try TestStore()
        for queue in ["images", "mail", "other"] {
            _ = try await t.store.enqueueBatch((0..<4).map { _ in NewJob(handler: "noop", queue: queue) })
        }
        let request = ClaimRequest(maxJobs: 10, slotsPerQueue: ["images": 2, "mail": 0], slotsForOtherQueues: 1)
        let claimed = try await t.store.claim(request)
        let perQueue = Dictionary(grouping: claimed, by: \.queue).mapValues(\.count)
        #expect(perQueue == ["images": 2, "other": 1])
    }

    @Test func pausedQueuesStartNothingAndThePauseIsPersisted() async throws {
        let t = try TestStore()
        let image = try await t.enqueue { $0.queue = "images" }
        let mail = try await t.enqueue { $0.queue = "mail" }
        #expect(try await t.store.pause(queue: "images") == true)
        try t.reopen()
        #expect(try t.store.isPaused(queue: "images"))
        #expect(try t.store.stats()["images"]?.paused == true)
        #expect(try await t.store.claim(ClaimRequest(maxJobs: 10)).map(\.id) == [mail])
        let later = try await t.enqueue { $0.queue = "images" }  // a paused queue still accepts jobs
        #expect(try await t.store.resume(queue: "images") == false)
        #expect(try await t.store.claim(ClaimRequest(maxJobs: 10)).map(\.id) == [image, later])
    }

    @Test func aJobIsClaimedOnceEvenByConcurrentClaims() async throws {
        let t = try TestStore()
        _ = try await t.store.enqueueBatch((0..<200).map { _ in NewJob(handler: "noop") })
        let store = t.store
        let claimed = try await withThrowingTaskGroup(of: [JobID].self) { group in
            for _ in 0..<20 { group.addTask { try await store.claim(ClaimRequest(maxJobs: 15)).map(\.id) } }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(claimed.count == 200)
        #expect(Set(claimed).count == 200)
    }
}
