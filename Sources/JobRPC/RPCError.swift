import JobCore

/// The error codes of PROTOCOL.md.
public enum RPCErrorCode: Int, Sendable, CaseIterable {
    case parseError = -32700
    case invalidRequest = -32600
    case methodNotFound = -32601
    case invalidParams = -32602
    case internalError = -32603
    case notFound = 1001
    case invalidState = 1002
    case unknownHandler = 1003
    case permissionDenied = 1004
    case overloaded = 1005
    case shuttingDown = 1006
    case leaseLost = 1007
    case unknownSchedule = 1008
}

/// An error answer: code, message, and the optional `data` details.
public struct RPCError: Error, Hashable, Sendable, CustomStringConvertible {
    public var code: RPCErrorCode
    public var message: String
    /// `data.field`: the offending parameter.
    public var field: String?
    /// `data.index`: the offending entry of `enqueue_batch`.
    public var index: Int?
    /// `data.state`: the job's state, for 1002.
    public var state: JobState?
    /// `data.id`: the job concerned.
    public var jobID: JobID?

    public init(_ code: RPCErrorCode, _ message: String, field: String? = nil, index: Int? = nil,
                state: JobState? = nil, jobID: JobID? = nil) {
        self.code = code
        self.message = message
        self.field = field
        self.index = index
        self.state = state
        self.jobID = jobID
    }

    public var description: String { "\(code.rawValue): \(message)" }

    /// A -32602 naming `field` in the message (`params.priority: ...`) and in `data.field`.
    public static func invalidParam(_ field: String, _ problem: String, index: Int? = nil) -> RPCError {
        let path = index.map { "params.jobs[\($0)].\(field)" } ?? "params.\(field)"
        return RPCError(.invalidParams, "\(path): \(problem)", field: field, index: index)
    }

    public func write(to w: inout JSONWriter) {
        w.object { o in
            o.member("code") { $0.integer(code.rawValue) }
            o.member("message") { $0.string(message) }
            if field != nil || index != nil || state != nil || jobID != nil {
                o.member("data") { w in
                    w.object { d in
                        if let field { d.member("field") { $0.string(field) } }
                        if let index { d.member("index") { $0.integer(index) } }
                        if let state { d.member("state") { $0.string(state.rawValue) } }
                        if let jobID { d.member("id") { $0.integer(jobID.rawValue) } }
                    }
                }
            }
        }
    }
}
