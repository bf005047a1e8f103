import Foundation
import JobCore
import Testing
@testable import JobStore

@Suite struct ConcurrencyTests {
    @Test func thousandConcurrentEnqueuesAreAllAcknowledgedAndStored() async throws {
        let t = try TestStore()
        let store = t.store
        let acknowledged = try await withThrowingTaskGroup(of: (Int, JobID).self) { group in
            for n in 0..<1000 {
                group.addTask { (n, try await store.enqueue(NewJob(handler: "noop", payload: RawJSON(validatedText: "\(n)"))).id) }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        #expect(acknowledged.count == 1000)
        let ids = Array(acknowledged.values)
        #expect(Set(ids).count == 1000)
        #expect(ids.min() == JobID(1) && ids.max() == JobID(1000))
        var stored: [Job] = []
        var after: Int64 = 0
        while true {
            let page = try store.list(ListFilter(afterID: after, limit: 300))
            stored += page.jobs
            guard let next = page.nextAfterID else { break }
            after = next
        }
        #expect(stored.map(\.id) == ids.sorted())
        for job in stored { #expect(acknowledged[Int(job.payload.text)!] == job.id) }
    }

    @Test func idsIncreaseInAcknowledgementOrder() async throws {
        let t = try TestStore()
        var last = JobID(0)
        for _ in 0..<50 {
            let id = try await t.enqueue()
            #expect(id > last)
            last = id
        }
    }

    @Test func idsAreNeverReusedAfterTheNewestJobIsPruned() async throws {
        let t = try TestStore()
        let id = try await t.makeJob(in: .cancelled)
        t.clock.advance(ms: 10)
        #expect(try await t.store.prune(retentionMs: [.cancelled: 1]) == 1)
        try t.reopen()
        #expect(try await t.enqueue() > id)
    }

    @Test func aSecondProcessHoldingTheWriteLockDelaysButNeverFailsWrites() async throws {
        let t = try TestStore()
        let outside = try SQLiteConnection(path: t.path, mode: .readWrite)
        try outside.execute("BEGIN IMMEDIATE")
        let store = t.store
        let started = Date()
        let writes = Task {
            try await withThrowingTaskGroup(of: JobID.self) { group in
                for _ in 0..<20 { group.addTask { try await store.enqueue(NewJob(handler: "noop")).id } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        try await Task.sleep(for: .seconds(2))
        #expect(try store.list(ListFilter()).jobs.isEmpty)  // readers are not blocked, writes wait
        try outside.execute("COMMIT")
        let ids = try await writes.value
        #expect(ids.count == 20 && Date().timeIntervalSince(started) >= 2)
        #expect(try store.list(ListFilter()).jobs.count == 20)
    }

    @Test func aLockHeldPastTheBusyTimeoutFailsWritesCleanly() async throws {
        let t = try TestStore { $0.busyTimeoutMs = 200 }
        let outside = try SQLiteConnection(path: t.path, mode: .readWrite)
        try outside.execute("BEGIN IMMEDIATE")
        await #expect(throws: StoreError.busy(operation: "begin transaction")) { try await t.enqueue() }
        try outside.execute("COMMIT")
        #expect(try t.store.list(ListFilter()).jobs.isEmpty)
        _ = try await t.enqueue()  // and the writer goes on
        #expect(try t.store.list(ListFilter()).jobs.count == 1)
    }
}
