import Foundation
import JobCore
import JobStore

/// The migrations of `migrations/postgres/` (embedded, like SQLite's).
public enum PostgresMigrations {
    public static var all: [Migration] { Migration.embeddedPostgres }
}

/// Applies `migrations/postgres/` in order, each in its own transaction with
/// its row in `schema_migrations`, under an advisory lock so that nodes that
/// start together migrate once. A database newer than this binary is refused
/// before anything is written (exit 78, as on SQLite).
struct PostgresMigrator {
    let migrations: [Migration]
    /// The advisory lock's key ("jobq" in ASCII).
    static let lockKey: Int64 = 0x6A6F_6271

    init(migrations: [Migration]) {
        self.migrations = migrations.sorted { $0.version < $1.version }
    }

    func migrate(_ session: PostgresSession, url: String) async throws(StoreError) {
        try await session.run("migrate", "BEGIN")
        do throws(StoreError) {
            // The lock first: two nodes that start together would race to create the table.
            try await session.run("migrate", "SELECT pg_advisory_xact_lock($1)", [.int(Self.lockKey)])
            try await session.run("migrate", """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version    integer PRIMARY KEY,
                    file_name  text    NOT NULL,
                    applied_at bigint  NOT NULL
                )
                """)
            let applied = try await session.firstRow("migrate", "SELECT coalesce(max(version), 0) FROM schema_migrations") {
                try $0[0].decode(Int.self)
            } ?? 0
            let known = migrations.last?.version ?? 0
            if applied > known { throw StoreError.schemaTooNew(path: url, found: applied, known: known) }
            for migration in migrations where migration.version > applied {
                for statement in Self.statements(migration.sql) {
                    do throws(StoreError) {
                        try await session.run("migrate", statement)
                    } catch {
                        throw StoreError.migrationFailed(file: "postgres/" + migration.fileName, message: error.description)
                    }
                }
                try await session.run("migrate", """
                    INSERT INTO schema_migrations (version, file_name, applied_at)
                    VALUES ($1, $2, (extract(epoch FROM clock_timestamp()) * 1000)::bigint)
                    """, [.int(Int64(migration.version)), .text(migration.fileName)])
            }
            try await session.run("migrate", "COMMIT")
        } catch {
            _ = try? await session.run("migrate", "ROLLBACK")
            throw error
        }
    }

    /// The statements of a migration file: split at `;` outside quotes,
    /// `$$` bodies and comments (the extended protocol takes one at a time).
    static func statements(_ sql: String) -> [String] {
        var statements: [String] = []
        var current = ""
        var inQuote = false, inDollar = false, inComment = false
        let chars = Array(sql)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            let next: Character? = i + 1 < chars.count ? chars[i + 1] : nil
            if inComment {
                if c == "\n" { inComment = false; current.append(c) }
            } else if inQuote {
                current.append(c)
                if c == "'" { inQuote = false }
            } else if inDollar {
                current.append(c)
                if c == "$" && next == "$" { current.append("$"); i += 1; inDollar = false }
            } else if c == "-" && next == "-" {
                inComment = true
            } else if c == "'" {
                inQuote = true
                current.append(c)
            } else if c == "$" && next == "$" {
                inDollar = true
                current.append("$$")
                i += 1
            } else if c == ";" {
                let statement = current.trimmingCharacters(in: .whitespacesAndNewlines)
                if !statement.isEmpty { statements.append(statement) }
                current = ""
            } else {
                current.append(c)
            }
            i += 1
        }
        let last = current.trimmingCharacters(in: .whitespacesAndNewlines)
        if !last.isEmpty { statements.append(last) }
        return statements
    }
}
