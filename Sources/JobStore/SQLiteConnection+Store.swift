/// The connection's calls with their errors already turned into
/// `StoreError`s that name the operation.
extension SQLiteConnection {
    @discardableResult
    func run(_ operation: String, _ sql: String, _ bindings: [SQLiteValue] = []) throws(StoreError) -> Int {
        try StoreError.wrap(operation) { () throws(SQLiteError) in
            let statement = try prepared(sql)
            try statement.bind(bindings)
            defer { statement.reset() }
            while try statement.step() {}
            return changes
        }
    }

    func rows<T>(
        _ operation: String, _ sql: String, _ bindings: [SQLiteValue] = [],
        _ map: (SQLiteStatement) throws(StoreError) -> T
    ) throws(StoreError) -> [T] {
        let statement = try StoreError.wrap(operation) { () throws(SQLiteError) in
            let statement = try prepared(sql)
            try statement.bind(bindings)
            return statement
        }
        defer { statement.reset() }
        var result: [T] = []
        while try StoreError.wrap(operation, { () throws(SQLiteError) in try statement.step() }) {
            result.append(try map(statement))
        }
        return result
    }

    func firstRow<T>(
        _ operation: String, _ sql: String, _ bindings: [SQLiteValue] = [],
        _ map: (SQLiteStatement) throws(StoreError) -> T
    ) throws(StoreError) -> T? {
        let statement = try StoreError.wrap(operation) { () throws(SQLiteError) in
            let statement = try prepared(sql)
            try statement.bind(bindings)
            return statement
        }
        defer { statement.reset() }  // ends the read at once
        guard try StoreError.wrap(operation, { () throws(SQLiteError) in try statement.step() }) else { return nil }
        return try map(statement)
    }
}
