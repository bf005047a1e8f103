import JobClient
import JobRPC

/// An error that ends jobctl with its exit status (CLI.md, "Exit status").
struct CLIError: Error {
    var status: Int32
    var message: String

    static func usage(_ message: String) -> CLIError { CLIError(status: 2, message: message) }

    /// The exit status and message for a failed call.
    init(_ error: JobClientError) {
        switch error {
        case .noDaemon: self.init(status: 3, message: error.description)
        case .rpc(let rpc) where rpc.code == .notFound: self.init(status: 4, message: rpc.message)
        default: self.init(status: 1, message: error.description)
        }
    }

    init(status: Int32, message: String) {
        self.status = status
        self.message = message
    }

    static let exitTimedOut: Int32 = 124
}
