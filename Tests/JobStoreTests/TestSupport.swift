import Foundation
import JobCore
@testable import JobStore

/// A clock the test moves by hand.
final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Int64

    init(_ start: Int64 = 1_795_948_530_000) {
        current = start
    }

    var now: Timestamp {
        lock.lock(); defer { lock.unlock() }
        return Timestamp(millisecondsSinceEpoch: current)
    }

    func advance(ms: Int64) {
        lock.lock(); current += ms; lock.unlock()
    }
}

/// A fresh folder per test, removed when the test is done with it.
final class TempDirectory {
    let url: URL

    init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("jq-\(UUID().uuidString.prefix(8))")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
}

/// A store on a real SQLite file in a fresh temp dir, with a manual clock.
final class TestStore {
    let directory = TempDirectory()
    let clock = ManualClock()
    var store: JobStore
    var path: String { directory.path("jobs.db") }

    init(configure: (inout StoreOptions) -> Void = { _ in }) throws {
        var options = StoreOptions(path: directory.path("jobs.db"))
        let clock = self.clock
        options.clock = { clock.now }
        configure(&options)
        store = try JobStore.open(options)
    }

    deinit {
        store.close()
    }

    /// Closes the store and opens the same file again, as a new daemon run would.
    func reopen(configure: (inout StoreOptions) -> Void = { _ in }) throws {
        store.close()
        var options = StoreOptions(path: path)
        let clock = self.clock
        options.clock = { clock.now }
        configure(&options)
        store = try JobStore.open(options)
    }

    func enqueue(_ handler: String = "noop", _ configure: (inout NewJob) -> Void = { _ in }) async throws -> JobID {
        var job = NewJob(handler: handler)
        configure(&job)
        return try await store.enqueue(job).id
    }

    func job(_ id: JobID) throws -> Job {
        guard let job = try store.get(id) else { throw StoreError.notFound(id) }
        return job
    }

    func claimOne(queue: String = "default") async throws -> Job {
        let jobs = try await store.claim(ClaimRequest(maxJobs: 1, slotsPerQueue: [queue: 1], slotsForOtherQueues: 0))
        guard let job = jobs.first else { throw StoreError.internalError(operation: "test", message: "nothing to claim") }
        return job
    }
}

/// Runs a statement on a second, outside connection (as `sqlite3` would).
func outsideQuery(_ path: String, _ sql: String) throws -> [[String]] {
    let db = try SQLiteConnection(path: path, mode: .readWrite)
    let statement = try db.prepared(sql)
    var rows: [[String]] = []
    while try statement.step() {
        rows.append((0..<statement.columnCount).map { statement.optionalText($0) ?? "NULL" })
    }
    return rows
}
