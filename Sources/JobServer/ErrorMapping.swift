import JobCore
import JobRPC
import JobEngine
import JobStore

/// The one place where store errors become wire errors.
extension RPCError {
    init(_ error: StoreError) {
        switch error {
        case .notFound(let id):
            self.init(.notFound, "job \(id) not found", jobID: id)
        case .dependencyNotFound(let id, let index):
            let field = index == nil ? "params.after" : "params.jobs[\(index!)].after"
            self.init(.notFound, "\(field): job \(id) not found", field: "after", index: index, jobID: id)
        case .invalidState(let id, let state, _):
            self.init(.invalidState, error.description, state: state, jobID: id)
        case .uniqueKeyInUse(let id, _, _):
            self.init(.invalidState, error.description, jobID: id)
        case .overloaded:
            self.init(.overloaded, error.description)
        case .closed:
            self.init(.shuttingDown, "the daemon is shutting down")
        case .unavailable:
            self.init(.internalError, "database unavailable: \(error.description)")
        case .busy, .storage, .internalError, .schemaTooNew, .migrationFailed, .cannotOpen:
            // Nothing acknowledged is lost: the request changed nothing.
            self.init(.internalError, "internal error: \(error.description)")
        }
    }

    /// A field of a job out of range (checked again when the job is built).
    init(_ error: JobValidationError, index: Int? = nil) {
        self = .invalidParam(error.field, error.message, index: index)
    }

    /// A worker's call on a lease it no longer holds: 1007 with the job's state.
    init(_ error: LeaseCallError) {
        switch error {
        case .store(let store):
            self.init(store)
        case .leaseLost(let lost):
            self.init(.leaseLost, "lease lost: the token does not hold job \(lost.id) (it is \(lost.state) now)",
                      state: lost.state, jobID: lost.id)
        }
    }

    static let shuttingDown = RPCError(.shuttingDown, "the daemon is shutting down and accepts no new work")
}
