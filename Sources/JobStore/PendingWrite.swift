/// A write request waiting for the writer thread: it runs inside the shared
/// transaction, and its caller is answered only after the COMMIT.
protocol PendingWrite: AnyObject {
    /// True when the request writes with at most one statement: SQLite then
    /// undoes a failed statement by itself and no savepoint is needed.
    var writesOneStatement: Bool { get }
    /// Runs the request's statements. Returns their error when they failed;
    /// the writer then rolls back this request's savepoint and nothing else.
    func execute(_ transaction: WriteTransaction) -> StoreError?
    /// Answers the caller with what `execute` produced (after the COMMIT).
    func answer()
    /// Answers the caller with `error`: the transaction did not commit.
    func fail(_ error: StoreError)
}

/// A `PendingWrite` whose caller gets a value of type `Value`: `deliver`
/// runs on the writer thread after the COMMIT (it resumes an awaiting task,
/// or hands the answer to an event loop).
final class TypedWrite<Value: Sendable>: PendingWrite {
    let writesOneStatement: Bool
    private let body: (WriteTransaction) throws(StoreError) -> Value
    private let deliver: (Result<Value, StoreError>) -> Void
    private var outcome: Result<Value, StoreError>?

    init(
        writesOneStatement: Bool,
        body: @escaping (WriteTransaction) throws(StoreError) -> Value,
        deliver: @escaping (Result<Value, StoreError>) -> Void
    ) {
        self.writesOneStatement = writesOneStatement
        self.body = body
        self.deliver = deliver
    }

    func execute(_ transaction: WriteTransaction) -> StoreError? {
        do {
            outcome = .success(try body(transaction))
            return nil
        } catch {
            outcome = .failure(error)
            return error
        }
    }

    func answer() {
        deliver(outcome!)
    }

    func fail(_ error: StoreError) {
        deliver(.failure(error))
    }
}
