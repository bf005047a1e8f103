import JobCore

/// Everything that can go wrong in the store, with its context. No SQLite
/// type or code leaves JobStore; the server maps these to wire codes.
public enum StoreError: Error, Hashable, Sendable, CustomStringConvertible {
    /// No job with this id.
    case notFound(JobID)
    /// A job named in `after` does not exist (`index`: the batch entry).
    case dependencyNotFound(JobID, index: Int?)
    /// The job's state does not allow the operation.
    case invalidState(JobID, state: JobState, operation: String)
    /// `retry` would make a second job with this `unique_key` active.
    case uniqueKeyInUse(JobID, uniqueKey: String, heldBy: JobID)
    /// `max_queued_jobs` jobs are not yet terminal.
    case overloaded(limit: Int)
    /// Another process held the database's write lock longer than the busy timeout.
    case busy(operation: String)
    /// The disk refused: full, an I/O error, read-only, corrupt. Nothing of
    /// the operation was written; later operations may succeed again.
    case storage(operation: String, message: String)
    /// A constraint or another failure that means a bug, not bad input.
    case internalError(operation: String, message: String)
    /// The database was written by a newer jobqueue; it was left untouched.
    case schemaTooNew(path: String, found: Int, known: Int)
    /// A migration failed and was rolled back.
    case migrationFailed(file: String, message: String)
    /// The database could not be opened or set up.
    case cannotOpen(path: String, message: String)
    /// The store is closed.
    case closed
    /// The database server cannot be reached (PostgreSQL); nothing of the
    /// operation was written, and the store reconnects by itself.
    case unavailable(operation: String, message: String)

    public var description: String {
        switch self {
        case .notFound(let id):
            "job \(id) not found"
        case .dependencyNotFound(let id, _):
            "after: job \(id) not found"
        case .invalidState(let id, let state, let operation):
            "cannot \(operation) job \(id): it is \(state)"
        case .uniqueKeyInUse(let id, let key, let holder):
            "cannot retry job \(id): job \(holder) with unique_key \"\(key)\" is not finished"
        case .overloaded(let limit):
            "too many unfinished jobs (max_queued_jobs = \(limit)); try later"
        case .busy(let operation):
            "\(operation): the database is locked by another process"
        case .storage(let operation, let message):
            "\(operation): storage error: \(message)"
        case .internalError(let operation, let message):
            "\(operation): \(message)"
        case .schemaTooNew(let path, let found, let known):
            "database \(path) has schema version \(found), newer than this jobqueued knows (\(known)); "
                + "use a newer jobqueued, the database was not changed"
        case .migrationFailed(let file, let message):
            "migration \(file) failed and was rolled back: \(message)"
        case .cannotOpen(let path, let message):
            "cannot open database \(path): \(message)"
        case .closed:
            "the job store is closed"
        case .unavailable(let operation, let message):
            "\(operation): database unavailable: \(message)"
        }
    }

    /// The store error for a failed SQLite call during `operation`.
    init(_ error: SQLiteError, operation: String) {
        if error.isBusy {
            self = .busy(operation: operation)
        } else if error.isStorage {
            self = .storage(operation: operation, message: error.message)
        } else {
            self = .internalError(operation: operation, message: error.description)
        }
    }

    /// Runs `body`, turning an SQLite error into a store error for `operation`.
    static func wrap<T>(_ operation: String, _ body: () throws(SQLiteError) -> T) throws(StoreError) -> T {
        do {
            return try body()
        } catch {
            throw StoreError(error, operation: operation)
        }
    }
}
