import JobCore

/// A request's `id`: an integer or a string.
public enum RPCID: Hashable, Sendable {
    case number(Int64)
    case string(String)

    func write(to w: inout JSONWriter) {
        switch self {
        case .number(let n): w.integer(n)
        case .string(let s): w.string(s)
        }
    }
}

/// One JSON-RPC 2.0 request object, its envelope checked.
public struct RPCRequest: Sendable {
    /// Nil for a notification: executed, never answered.
    public var id: RPCID?
    public var method: String
    /// The `params` value, if given (checked by the method).
    public var params: JSONValue?

    public init(id: RPCID?, method: String, params: JSONValue?) {
        self.id = id
        self.method = method
        self.params = params
    }
}

/// What one line of input holds.
public enum RPCMessage: Sendable {
    /// One request, or an envelope error to answer at once.
    case single(Result<RPCRequest, RPCEnvelopeError>)
    /// A batch: each entry a request or an envelope error.
    case batch([Result<RPCRequest, RPCEnvelopeError>])
}

/// An envelope that cannot be executed, with the id to answer it under (nil: `id: null`).
public struct RPCEnvelopeError: Error, Sendable {
    public var id: RPCID?
    public var error: RPCError
}

public enum RPCDecoder {
    /// Reads one line (without its newline). A parse error or an empty batch
    /// is returned as a single envelope error.
    public static func decode(line: [UInt8]) -> RPCMessage {
        let root: JSONValue
        do {
            root = try JSONReader.parse(line)
        } catch {
            return .single(.failure(RPCEnvelopeError(id: nil, error: RPCError(.parseError, "parse error: \(error.description)"))))
        }
        if let elements = root.elements {
            guard !elements.isEmpty else {
                return .single(.failure(RPCEnvelopeError(id: nil, error: RPCError(.invalidRequest, "invalid request: empty batch"))))
            }
            return .batch(elements.map(request))
        }
        return .single(request(root))
    }

    private static let envelopeKeys: Set<String> = ["jsonrpc", "id", "method", "params"]

    static func request(_ value: JSONValue) -> Result<RPCRequest, RPCEnvelopeError> {
        guard let members = value.members else {
            return .failure(RPCEnvelopeError(id: nil, error: RPCError(.invalidRequest, "invalid request: expected a JSON-RPC 2.0 request object")))
        }
        var fields: [String: JSONValue] = [:]
        for (key, member) in members {
            guard fields.updateValue(member, forKey: key) == nil else {
                return .failure(RPCEnvelopeError(id: nil, error: RPCError(.invalidRequest, "invalid request: \"\(key)\" given twice")))
            }
        }
        // The id first, so that other envelope errors can be answered under it.
        var id: RPCID?
        if let idValue = fields["id"] {
            if let n = idValue.integer {
                id = .number(n)
            } else if let s = idValue.string {
                id = .string(s)
            } else {
                return .failure(RPCEnvelopeError(id: nil, error: RPCError(.invalidRequest, "invalid request: id must be an integer or a string")))
            }
        }
        func invalid(_ message: String) -> Result<RPCRequest, RPCEnvelopeError> {
            .failure(RPCEnvelopeError(id: id, error: RPCError(.invalidRequest, "invalid request: \(message)")))
        }
        if let unknown = fields.keys.filter({ !envelopeKeys.contains($0) }).sorted().first {
            return invalid("unknown member \"\(unknown)\"")
        }
        guard fields["jsonrpc"]?.string == "2.0" else { return invalid("jsonrpc must be \"2.0\"") }
        guard let method = fields["method"]?.string else { return invalid("method must be a string") }
        return .success(RPCRequest(id: id, method: method, params: fields["params"]))
    }
}

/// Writes response lines.
public enum RPCEncoder {
    /// `{"jsonrpc":"2.0","id":...,"result":...}`; `result` writes the value.
    public static func success(id: RPCID?, _ result: (inout JSONWriter) -> Void) -> JSONWriter {
        var w = JSONWriter()
        w.object { o in
            o.member("jsonrpc") { $0.string("2.0") }
            o.member("id") { w in if let id { id.write(to: &w) } else { w.null() } }
            o.member("result", result)
        }
        return w
    }

    public static func failure(id: RPCID?, _ error: RPCError) -> JSONWriter {
        var w = JSONWriter()
        w.object { o in
            o.member("jsonrpc") { $0.string("2.0") }
            o.member("id") { w in if let id { id.write(to: &w) } else { w.null() } }
            o.member("error") { error.write(to: &$0) }
        }
        return w
    }

    /// A batch's responses as one JSON array.
    public static func batch(_ responses: [JSONWriter]) -> JSONWriter {
        var w = JSONWriter(capacity: responses.reduce(2) { $0 + $1.bytes.count + 1 })
        w.array(responses) { w, r in w.raw(r) }
        return w
    }
}
