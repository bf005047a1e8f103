import JobRPC

/// What a call through `JobClient` can fail with.
public enum JobClientError: Error, Sendable, CustomStringConvertible {
    /// Nothing accepts connections on the socket (no daemon, or a stale file).
    case noDaemon(path: String, reason: String)
    /// The daemon answered with an error: the protocol's code, message and data.
    case rpc(RPCError)
    /// The connection closed before the answer came.
    case connectionClosed
    /// The answer was not what the protocol promises.
    case invalidResponse(String)

    public var description: String {
        switch self {
        case .noDaemon(let path, let reason):
            "no daemon answers on \(path) (\(reason)); start one with `jobqueued --socket \(path)` or set JOBQUEUE_SOCKET"
        case .rpc(let error): error.message
        case .connectionClosed: "the daemon closed the connection"
        case .invalidResponse(let why): "invalid response from the daemon: \(why)"
        }
    }

    /// The protocol's error code, for `.rpc`.
    public var code: RPCErrorCode? {
        if case .rpc(let error) = self { return error.code }
        return nil
    }
}
