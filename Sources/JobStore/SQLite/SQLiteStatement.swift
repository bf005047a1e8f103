import CSQLite

/// A value bound to a `?` parameter.
enum SQLiteValue {
    case int(Int64)
    case text(String)
    case null

    static func optionalText(_ value: String?) -> SQLiteValue { value.map { .text($0) } ?? .null }
    static func optionalInt(_ value: Int64?) -> SQLiteValue { value.map { .int($0) } ?? .null }
}

/// A prepared statement owned by its connection's cache.
final class SQLiteStatement {
    private let raw: OpaquePointer
    private unowned let connection: SQLiteConnection
    let sql: String

    init(_ raw: OpaquePointer, connection: SQLiteConnection, sql: String) {
        self.raw = raw
        self.connection = connection
        self.sql = sql
    }

    deinit {
        sqlite3_finalize(raw)
    }

    func reset() {
        sqlite3_reset(raw)
        sqlite3_clear_bindings(raw)
    }

    func bind(_ values: [SQLiteValue]) throws(SQLiteError) {
        for (offset, value) in values.enumerated() {
            try bind(value, at: Int32(offset + 1))
        }
    }

    func bind(_ value: SQLiteValue, at index: Int32) throws(SQLiteError) {
        let rc: Int32
        switch value {
        case .int(let v): rc = sqlite3_bind_int64(raw, index, v)
        case .null: rc = sqlite3_bind_null(raw, index)
        case .text(let s):
            var s = s
            rc = s.withUTF8 { bytes in
                sqlite3_bind_text(raw, index, bytes.baseAddress, Int32(bytes.count), csqlite_transient())
            }
        }
        if rc != SQLITE_OK { throw connection.error(rc, context: sql) }
    }

    /// Advances to the next row: true when a row is ready, false when done.
    func step() throws(SQLiteError) -> Bool {
        switch sqlite3_step(raw) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        case let rc:
            let failure = connection.error(rc, context: sql)
            sqlite3_reset(raw)
            throw failure
        }
    }

    var columnCount: Int32 { sqlite3_column_count(raw) }

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(raw, column) == SQLITE_NULL }

    func int(_ column: Int32) -> Int64 { sqlite3_column_int64(raw, column) }

    func optionalInt(_ column: Int32) -> Int64? { isNull(column) ? nil : int(column) }

    func text(_ column: Int32) -> String {
        guard let bytes = sqlite3_column_text(raw, column) else { return "" }
        let count = Int(sqlite3_column_bytes(raw, column))
        return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    }

    func optionalText(_ column: Int32) -> String? { isNull(column) ? nil : text(column) }
}
