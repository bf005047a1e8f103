import CSQLite

/// A failed SQLite call, kept inside JobStore: `StoreError` is what leaves it.
struct SQLiteError: Error, CustomStringConvertible {
    /// The primary result code (`SQLITE_BUSY`, `SQLITE_FULL`, ...).
    var code: Int32
    var extendedCode: Int32
    var message: String
    /// What was being done (the SQL, or the call).
    var context: String

    var description: String { "\(message) (SQLite code \(extendedCode)) in \(context)" }

    var isBusy: Bool { code == SQLITE_BUSY || code == SQLITE_LOCKED }
    var isConstraint: Bool { code == SQLITE_CONSTRAINT }
    /// Errors of the disk rather than of the request: full, I/O, read-only, corrupt.
    var isStorage: Bool {
        [SQLITE_FULL, SQLITE_IOERR, SQLITE_READONLY, SQLITE_CORRUPT, SQLITE_NOTADB, SQLITE_CANTOPEN, SQLITE_PERM]
            .contains(code)
    }
}
