import Foundation

/// Read-only connections (WAL readers) for get, list and stats. They never
/// write or checkpoint; each is used by one thread at a time.
final class ReaderPool: @unchecked Sendable {
    private let path: String
    private let maxIdle: Int
    private let lock = NSLock()
    private var idle: [SQLiteConnection] = []  // guarded by `lock`
    private var closed = false  // guarded by `lock`

    init(path: String, maxIdle: Int) {
        self.path = path
        self.maxIdle = maxIdle
    }

    func read<T>(_ operation: String, _ body: (SQLiteConnection) throws(StoreError) -> T) throws(StoreError) -> T {
        let connection = try borrow(operation)
        defer { giveBack(connection) }
        return try body(connection)
    }

    func close() {
        lock.lock()
        closed = true
        idle.removeAll()
        lock.unlock()
    }

    private func borrow(_ operation: String) throws(StoreError) -> SQLiteConnection {
        lock.lock()
        if closed {
            lock.unlock()
            throw .closed
        }
        if let connection = idle.popLast() {
            lock.unlock()
            return connection
        }
        lock.unlock()
        return try StoreError.wrap(operation) { () throws(SQLiteError) in
            let connection = try SQLiteConnection(path: path, mode: .readOnly)
            try connection.execute("PRAGMA busy_timeout = 5000; PRAGMA mmap_size = 0")
            return connection
        }
    }

    private func giveBack(_ connection: SQLiteConnection) {
        lock.lock()
        if !closed && idle.count < maxIdle { idle.append(connection) }
        lock.unlock()
    }
}
