/// Brings a database to the newest schema this binary knows.
///
/// The applied versions are recorded in `schema_migrations`. Each migration
/// runs in its own transaction together with its record, so a failure rolls
/// it back whole. A database newer than the binary is refused before
/// anything is written to it.
struct Migrator {
    let migrations: [Migration]

    init(migrations: [Migration]) {
        self.migrations = migrations.sorted { $0.version < $1.version }
    }

    var newestVersion: Int { migrations.last?.version ?? 0 }

    /// The newest version recorded in the database, 0 for a new one. Reads only.
    func appliedVersion(_ db: SQLiteConnection) throws(SQLiteError) -> Int {
        let exists = try db.scalarInt(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'") ?? 0
        guard exists > 0 else { return 0 }
        return Int(try db.scalarInt("SELECT coalesce(max(version), 0) FROM schema_migrations") ?? 0)
    }

    /// Refuses a database whose schema is newer than this binary knows.
    func checkNotNewer(_ db: SQLiteConnection) throws(StoreError) {
        let applied = try StoreError.wrap("read schema version") { () throws(SQLiteError) in try appliedVersion(db) }
        if applied > newestVersion {
            throw .schemaTooNew(path: db.path, found: applied, known: newestVersion)
        }
    }

    /// Applies every migration newer than the database's version, in order.
    /// Returns the file names applied.
    @discardableResult
    func migrate(_ db: SQLiteConnection, now: Int64) throws(StoreError) -> [String] {
        try checkNotNewer(db)
        try StoreError.wrap("create schema_migrations") { () throws(SQLiteError) in
            try db.execute("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version    INTEGER PRIMARY KEY,
                    file_name  TEXT    NOT NULL,
                    applied_at INTEGER NOT NULL
                )
                """)
        }
        var applied: [String] = []
        for migration in migrations {
            do {
                try db.execute("BEGIN IMMEDIATE")
                // Read again under the write lock: another process may have migrated meanwhile.
                let current = try appliedVersion(db)
                if migration.version <= current {
                    try db.execute("ROLLBACK")
                    continue
                }
                try db.execute(migration.sql)
                try db.run(
                    "INSERT INTO schema_migrations (version, file_name, applied_at) VALUES (?, ?, ?)",
                    .int(Int64(migration.version)), .text(migration.fileName), .int(now))
                try db.execute("COMMIT")
                applied.append(migration.fileName)
            } catch {
                if !db.isAutocommit { try? db.execute("ROLLBACK") }
                throw .migrationFailed(file: migration.fileName, message: error.message)
            }
        }
        return applied
    }
}
