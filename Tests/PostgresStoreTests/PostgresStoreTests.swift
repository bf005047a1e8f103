import Foundation
import JobCore
import JobStore
import Logging
import PostgresTestServer
import Testing
@testable import JobStorePostgres

/// The PostgreSQL engine against a real server (Debian's postgresql, a
/// private cluster in a temp folder): each test has its own database.
@Suite struct PostgresStoreTests {
    static func open(_ url: String, node: String, leaseMs: Int64 = 30_000) async throws -> PostgresStore {
        var options = PostgresOptions(url: url, nodeName: node)
        options.leaseMs = leaseMs
        options.requestTimeoutMs = 60_000  // a loaded test machine is not an outage
        return try await PostgresStore.open(options, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
    }

    static func job(_ handler: String = "echo", queue: String = "default", uniqueKey: String? = nil, tags: [String] = [],
                    start: NewJob.Start = .now, maxAttempts: Int = 3) -> NewJob {
        NewJob(handler: handler, payload: RawJSON(validatedText: #"{"n":1}"#), queue: queue, priority: 0, start: start,
               maxAttempts: maxAttempts, timeoutMs: 60_000, uniqueKey: uniqueKey, tags: tags)
    }

    @Test func enqueueClaimCompleteAndRead() async throws {
        let url = try PostgresTestServer.shared().makeDatabase()
        let store = try await Self.open(url, node: "a")
        defer { store.close() }
        let first = try await store.enqueue(Self.job(tags: ["x", "y"]))
        #expect(first.state == .queued && !first.duplicate)
        let stored = try #require(try await store.get(first.id))
        #expect(stored.handler == "echo" && stored.tags == ["x", "y"] && stored.payload.text == #"{"n":1}"#)

        let claimed = try await store.claim(ClaimRequest(maxJobs: 10))
        #expect(claimed.map(\.id) == [first.id])
        #expect(claimed.first?.state == .running && claimed.first?.attempts == 1 && claimed.first?.leaseOwner == "a")
        #expect(try await store.claim(ClaimRequest(maxJobs: 10)).isEmpty)

        let done = try await store.complete(first.id, attempt: 1, result: RawJSON(validatedText: "42"))
        #expect(done?.state == .succeeded && done?.result?.text == "42" && done?.finishedAt != nil)
        // A second end of the same attempt changes nothing.
        #expect(try await store.complete(first.id, attempt: 1, result: nil) == nil)

        let stats = try await store.stats()
        #expect(stats["default"]?.counts[.succeeded] == 1 && stats["default"]?.counts[.queued] == 0)
        let page = try await store.list(ListFilter(tag: "y", limit: 10))
        #expect(page.jobs.map(\.id) == [first.id])
    }

    @Test func aUniqueKeyHoldsAcrossNodes() async throws {
        let url = try PostgresTestServer.shared().makeDatabase()
        let a = try await Self.open(url, node: "a")
        let b = try await Self.open(url, node: "b")
        defer { a.close(); b.close() }
        let one = try await a.enqueue(Self.job(uniqueKey: "k"))
        let two = try await b.enqueue(Self.job(uniqueKey: "k"))
        #expect(two.duplicate && two.id == one.id)
        _ = try await a.claim(ClaimRequest(maxJobs: 1))
        _ = try await a.complete(one.id, attempt: 1, result: nil)
        let three = try await b.enqueue(Self.job(uniqueKey: "k"))
        #expect(!three.duplicate && three.id != one.id)
    }

    @Test func twoNodesNeverClaimTheSameJob() async throws {
        let url = try PostgresTestServer.shared().makeDatabase()
        let a = try await Self.open(url, node: "a")
        let b = try await Self.open(url, node: "b")
        defer { a.close(); b.close() }
        let ids = try await a.enqueueBatch((0..<200).map { _ in Self.job() }).ids
        async let fromA = Self.drain(a)
        async let fromB = Self.drain(b)
        let (gotA, gotB) = try await (fromA, fromB)
        #expect(Set(gotA).isDisjoint(with: gotB))
        #expect(Set(gotA + gotB) == Set(ids) && gotA.count + gotB.count == ids.count)
    }

    static func drain(_ store: PostgresStore) async throws -> [JobID] {
        var got: [JobID] = []
        while true {
            let jobs = try await store.claim(ClaimRequest(maxJobs: 7))
            if jobs.isEmpty { return got }
            for job in jobs { _ = try await store.complete(job.id, attempt: job.attempts, result: nil) }
            got += jobs.map(\.id)
        }
    }

    @Test func failedAttemptsRetryThenFail() async throws {
        let url = try PostgresTestServer.shared().makeDatabase()
        let store = try await Self.open(url, node: "a")
        defer { store.close() }
        let id = try await store.enqueue(Self.job(maxAttempts: 2)).id
        let failure = JobFailure(message: "exit 1", exitCode: 1, at: Timestamp(millisecondsSinceEpoch: 0))
        var job = try #require(try await store.claim(ClaimRequest(maxJobs: 1)).first)
        let retried = try await store.fail(id, attempt: job.attempts, failure: failure, disposition: .retry(afterMs: 0))
        #expect(retried?.state == .queued && retried?.errors.count == 1)
        job = try #require(try await store.claim(ClaimRequest(maxJobs: 1)).first)
        #expect(job.attempts == 2)
        let failed = try await store.fail(id, attempt: 2, failure: failure, disposition: .retry(afterMs: 0))
        #expect(failed?.state == .failed && failed?.errors.count == 2)
        let again = try await store.retry(id, isExternal: { _ in false })
        #expect(again.state == .queued && again.attempts == 0)
        let cancelled = try await store.cancel(id)
        #expect(cancelled.job.state == .cancelled && cancelled.previousState == .queued)
        await #expect(throws: StoreError.invalidState(id, state: .cancelled, operation: "cancel")) { try await store.cancel(id) }
    }

    @Test func aDeadNodesJobsAreRescuedAndItsLateEndIsFenced() async throws {
        let url = try PostgresTestServer.shared().makeDatabase()
        let dead = try await Self.open(url, node: "dead", leaseMs: 3_000)
        let alive = try await Self.open(url, node: "alive", leaseMs: 3_000)
        defer { alive.close() }
        _ = try await alive.recoverInterrupted { _ in 0 }
        let id = try await dead.enqueue(Self.job()).id
        let job = try #require(try await dead.claim(ClaimRequest(maxJobs: 1)).first)
        // The node stops renewing (as after kill -9): its lease runs out.
        dead.stopBackground()
        let started = ContinuousClock.now
        var rescued: Job?
        while ContinuousClock.now - started < .seconds(60) {
            if let now = try await alive.get(id), now.state != .running { rescued = now; break }
            try await Task.sleep(for: .milliseconds(100))
        }
        // Queued again after its handler's backoff (0 here); the rescue's timing is ClusterTests' to measure.
        #expect(rescued?.state == .queued && rescued?.errors.last?.message == JobFailure.interruptedMessage)
        // The dead node's late end is fenced: it changes nothing.
        #expect(try await dead.complete(id, attempt: job.attempts, result: nil) == nil)
        #expect(try await alive.get(id)?.state == .queued)
        dead.close()
    }

    @Test func aNewerSchemaIsRefused() async throws {
        let server = try PostgresTestServer.shared()
        let url = try server.makeDatabase()
        try await Self.open(url, node: "a").close()
        let database = String(url.split(separator: "/").last!)
        try server.psql("INSERT INTO schema_migrations VALUES (999, '0999_future.sql', 0)", database: database)
        await #expect(throws: StoreError.self) { try await Self.open(url, node: "a") }
        do {
            _ = try await Self.open(url, node: "a")
        } catch {
            guard case .schemaTooNew(_, let found, _) = error as? StoreError else { Issue.record("\(error)"); return }
            #expect(found == 999)
        }
    }

    @Test func migrationStatementsSplitOutsideQuotesAndBodies() {
        let parts = PostgresMigrator.statements("""
            -- a comment; with a semicolon
            CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;
            INSERT INTO t VALUES ('a;b');
            """)
        #expect(parts == ["CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$", "INSERT INTO t VALUES ('a;b')"])
    }

    @Test func theEmbeddedMigrationsAreTheFiles() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../migrations/postgres").standardized
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".sql") }.sorted()
        #expect(files == PostgresMigrations.all.map(\.fileName), "run scripts/embed-migrations")
        for migration in PostgresMigrations.all {
            let text = try String(contentsOf: folder.appendingPathComponent(migration.fileName), encoding: .utf8)
            #expect(text == migration.sql, "\(migration.fileName) differs from its embedded copy: run scripts/embed-migrations")
        }
    }
}
