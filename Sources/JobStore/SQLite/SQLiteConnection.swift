import CSQLite

/// One SQLite connection. Not thread-safe: one owner at a time (the writer
/// thread, or a reader borrowed from the pool).
final class SQLiteConnection {
    let handle: OpaquePointer
    let path: String
    private var statements: [String: SQLiteStatement] = [:]

    enum Mode {
        case readWrite
        case readOnly
    }

    init(path: String, mode: Mode) throws(SQLiteError) {
        _ = Self.libraryConfigured
        var db: OpaquePointer?
        let flags = (mode == .readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
            | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_close_v2(db)
            throw SQLiteError(code: rc & 0xff, extendedCode: rc, message: message, context: "open \(path)")
        }
        self.handle = db
        self.path = path
    }

    /// Configures the library once, before the process's first connection.
    private static let libraryConfigured: Int32 = csqlite_configure_for_single_owner_connections()

    deinit {
        statements.removeAll()  // finalize before closing
        sqlite3_close_v2(handle)
    }

    /// Runs one or more statements that return no rows.
    func execute(_ sql: String) throws(SQLiteError) {
        let rc = sqlite3_exec(handle, sql, nil, nil, nil)
        if rc != SQLITE_OK { throw error(rc, context: sql) }
    }

    /// Runs one statement without rows, prepared once and reused: for the
    /// transaction statements the writer runs thousands of times a second.
    func executePrepared(_ sql: String) throws(SQLiteError) {
        let statement = try prepared(sql)
        defer { statement.reset() }
        while try statement.step() {}
    }

    /// A prepared statement for `sql`, reused across calls (reset before each use).
    func prepared(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        if let statement = statements[sql] {
            statement.reset()
            return statement
        }
        var raw: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &raw, nil)
        guard rc == SQLITE_OK, let raw else { throw error(rc, context: sql) }
        let statement = SQLiteStatement(raw, connection: self, sql: sql)
        statements[sql] = statement
        return statement
    }

    /// Runs `sql` with `bindings` and returns the first column of the first row.
    func scalarInt(_ sql: String, _ bindings: SQLiteValue...) throws(SQLiteError) -> Int64? {
        let statement = try prepared(sql)
        try statement.bind(bindings)
        defer { statement.reset() }  // ends the read at once
        guard try statement.step() else { return nil }
        return statement.isNull(0) ? nil : statement.int(0)
    }

    /// Runs a statement that returns no rows and gives the number of rows it changed.
    @discardableResult
    func run(_ sql: String, _ bindings: SQLiteValue...) throws(SQLiteError) -> Int {
        let statement = try prepared(sql)
        try statement.bind(bindings)
        defer { statement.reset() }
        while try statement.step() {}
        return changes
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    var changes: Int { Int(sqlite3_changes(handle)) }

    var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// True outside a transaction: after an error that rolled the whole
    /// transaction back (a full disk, an I/O error), this turns true.
    var isAutocommit: Bool { sqlite3_get_autocommit(handle) != 0 }

    func error(_ rc: Int32, context: String) -> SQLiteError {
        SQLiteError(
            code: rc & 0xff,
            extendedCode: sqlite3_extended_errcode(handle),
            message: String(cString: sqlite3_errmsg(handle)),
            context: context
        )
    }
}

/// The SQLite version this process is linked against, e.g. "3.40.1".
public let sqliteLibraryVersion = String(cString: sqlite3_libversion())
