import Foundation
import JobCore
import Testing
@testable import JobStore

@Suite struct MigrationTests {
    static let migrationsFolder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("migrations")

    @Test func embeddedCopyEqualsTheMigrationsFolder() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.migrationsFolder.path)
            .filter { $0.hasSuffix(".sql") }.sorted()
        #expect(files == Migration.all.map(\.fileName), "run scripts/embed-migrations")
        for migration in Migration.all {
            let text = try String(contentsOf: Self.migrationsFolder.appendingPathComponent(migration.fileName), encoding: .utf8)
            #expect(text == migration.sql, "\(migration.fileName) differs from its embedded copy: run scripts/embed-migrations")
            #expect(migration.fileName.hasPrefix(String(format: "%04d_", migration.version)))
        }
        #expect(Migration.all.map(\.version) == Array(1...Migration.all.count))
    }

    @Test func migratesAnEmptyDatabaseToWALWithEveryTable() throws {
        let t = try TestStore()
        let tables = try outsideQuery(t.path, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").map { $0[0] }
        for table in ["jobs", "job_tags", "job_counts", "queues", "schema_migrations"] {
            #expect(tables.contains(table))
        }
        #expect(try outsideQuery(t.path, "PRAGMA journal_mode") == [["wal"]])
        let applied = try outsideQuery(t.path, "SELECT version, file_name FROM schema_migrations ORDER BY version")
        #expect(applied == Migration.all.map { ["\($0.version)", $0.fileName] })
    }

    @Test func eachMigrationAppliesOnce() throws {
        let t = try TestStore()
        try t.reopen()
        try t.reopen()
        let count = try outsideQuery(t.path, "SELECT count(*) FROM schema_migrations")
        #expect(count == [["\(Migration.all.count)"]])
    }

    /// The version after the newest real one.
    static let next = Migration.all.count + 1

    static let second = Migration(version: next, fileName: String(format: "%04d_test_note.sql", next), sql: """
        ALTER TABLE jobs ADD COLUMN note TEXT;
        CREATE TABLE test_marker (x INTEGER);
        """)

    @Test func upgradesAnOlderSchemaWithOnlyTheNewMigration() async throws {
        let t = try TestStore()  // the newest real version: the fixture of an older schema
        let id = try await t.enqueue()
        try t.reopen { $0.migrations = Migration.all + [Self.second] }
        #expect(try outsideQuery(t.path, "SELECT version FROM schema_migrations ORDER BY version") == (1...Self.next).map { ["\($0)"] })
        #expect(try outsideQuery(t.path, "SELECT id, note FROM jobs") == [["\(id)", "NULL"]])
        #expect(try t.job(id).state == .queued)
    }

    /// Migration 0004 rebuilds the jobs table (a new CHECK for `blocked`):
    /// every row, every id, the tags' trigger and the id counter survive.
    @Test func theJobsTableRebuildKeepsRowsIdsAndTheCounter() async throws {
        let t = try TestStore { $0.migrations = Array(Migration.all.prefix(3)) }
        t.store.close()
        for (state, finished) in [("queued", "NULL"), ("succeeded", "5"), ("failed", "6"), ("queued", "NULL")] {
            _ = try outsideQuery(t.path, """
                INSERT INTO jobs (queue, handler, state, max_attempts, timeout_ms, tags, created_at, run_at, finished_at)
                VALUES ('q', 'noop', '\(state)', 3, 1000, '["t"]', 1, 1, \(finished)) RETURNING id
                """)
        }
        _ = try outsideQuery(t.path, "INSERT INTO job_tags (job_id, tag) SELECT id, 't' FROM jobs")
        _ = try outsideQuery(t.path, "DELETE FROM jobs WHERE id = 4")  // the newest: its id must not come back
        try t.reopen()
        #expect(try outsideQuery(t.path, "SELECT id, state FROM jobs ORDER BY id") == [["1", "queued"], ["2", "succeeded"], ["3", "failed"]])
        #expect(try t.job(JobID(1)).tags == ["t"] && t.job(JobID(1)).after.isEmpty && !t.job(JobID(1)).hasDependents)
        #expect(try await t.store.enqueue(NewJob(handler: "noop")).id == JobID(5))
        #expect(try await t.store.enqueue(NewJob(handler: "noop", after: [JobID(1)])).state == .blocked)
        _ = try outsideQuery(t.path, "DELETE FROM jobs WHERE id = 2")
        #expect(try outsideQuery(t.path, "SELECT job_id FROM job_tags ORDER BY job_id") == [["1"], ["3"]])
        #expect(try outsideQuery(t.path, "PRAGMA integrity_check") == [["ok"]])
    }

    @Test func aFailingMigrationRollsBackAndNamesItsFile() throws {
        let t = try TestStore()
        let broken = Migration(version: Self.next, fileName: String(format: "%04d_broken.sql", Self.next), sql: """
            CREATE TABLE half_done (x INTEGER);
            INSERT INTO no_such_table VALUES (1);
            """)
        #expect {
            try t.reopen { $0.migrations = Migration.all + [broken] }
        } throws: { error in
            guard case StoreError.migrationFailed(let file, let message) = error else { return false }
            return file == broken.fileName && message.contains("no_such_table") && "\(error)".contains(broken.fileName)
        }
        #expect(try outsideQuery(t.path, "SELECT count(*) FROM sqlite_master WHERE name = 'half_done'") == [["0"]])
        #expect(try outsideQuery(t.path, "SELECT max(version) FROM schema_migrations") == [["\(Migration.all.count)"]])
        try t.reopen()  // the database still works with the migrations it had
    }

    @Test func refusesANewerDatabaseAndLeavesItUntouched() throws {
        let t = try TestStore()
        t.store.close()
        _ = try outsideQuery(t.path, "INSERT INTO schema_migrations (version, file_name, applied_at) VALUES (99, '0099_future.sql', 0)")
        _ = try outsideQuery(t.path, "PRAGMA wal_checkpoint(TRUNCATE)")
        let before = try Data(contentsOf: URL(fileURLWithPath: t.path))
        let walBefore = try? Data(contentsOf: URL(fileURLWithPath: t.path + "-wal"))

        #expect(throws: StoreError.schemaTooNew(path: t.path, found: 99, known: Migration.all.count)) {
            var options = StoreOptions(path: t.path)
            options.durability = .full
            _ = try JobStore.open(options)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: t.path)) == before)
        #expect((try? Data(contentsOf: URL(fileURLWithPath: t.path + "-wal"))) == walBefore)
        #expect("\(StoreError.schemaTooNew(path: "x.db", found: 99, known: 1))".contains("newer than this jobqueued knows"))
    }

    @Test func durabilitySetsSynchronous() async throws {
        let full = try TestStore()
        let fullLevel = try await full.store.perform { tx throws(StoreError) in
            try tx.connection.firstRow("test", "PRAGMA synchronous") { $0.int(0) }
        }
        #expect(fullLevel == 2)  // FULL
        let normal = try TestStore { $0.durability = .normal }
        let normalLevel = try await normal.store.perform { tx throws(StoreError) in
            try tx.connection.firstRow("test", "PRAGMA synchronous") { $0.int(0) }
        }
        #expect(normalLevel == 1)  // NORMAL
    }
}

@Suite struct PageSizeTests {
    @Test func aNewDatabaseGetsTheConfiguredPageSizeAndAnOldOneKeepsItsOwn() throws {
        let directory = TempDirectory()
        let fresh = try JobStore.open(StoreOptions(path: directory.path("new.db")))
        #expect(fresh.writerCounters.pageSize == 1024)
        fresh.close()
        #expect(try outsideQuery(directory.path("new.db"), "PRAGMA page_size") == [["1024"]])

        // A database made with 4 KiB pages (by an earlier release, or sqlite3) keeps them.
        _ = try outsideQuery(directory.path("old.db"), "CREATE TABLE t (x)")
        let old = try JobStore.open(StoreOptions(path: directory.path("old.db")))
        #expect(old.writerCounters.pageSize == 4096)
        old.close()
    }
}
