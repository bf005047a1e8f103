import Foundation
import JobCore
import Testing
@testable import JobStore

/// A full disk, made real with SQLite's own page limit: writes fail with a
/// clear storage error and change nothing, reads go on, and writes work
/// again once there is room.
@Suite struct StorageFailureTests {
    @Test func aFullDiskFailsWritesChangesNothingAndRecovers() async throws {
        let t = try TestStore()
        let kept = try await t.enqueue()
        try await t.store.perform { tx throws(StoreError) in
            let pages = try tx.connection.firstRow("test", "PRAGMA page_count") { $0.int(0) } ?? 0
            try tx.connection.run("test", "PRAGMA max_page_count = \(pages + 2)")
        }
        let big = RawJSON(validatedText: "\"" + String(repeating: "x", count: 200_000) + "\"")
        await #expect {
            try await t.store.enqueue(NewJob(handler: "noop", payload: big))
        } throws: { error in
            guard case StoreError.storage(_, let message) = error else { return false }
            return message.contains("full")
        }
        #expect(try t.store.list(ListFilter()).jobs.map(\.id) == [kept])
        #expect(try t.store.stats()["default"]?.counts[.queued] == 1)

        _ = try await t.store.perform { tx throws(StoreError) in
            try tx.connection.run("test", "PRAGMA max_page_count = 1073741823")
        }
        let id = try await t.store.enqueue(NewJob(handler: "noop", payload: big)).id
        #expect(try t.job(id).payload == big)
    }
}
