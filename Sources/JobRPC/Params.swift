import JobCore

/// The `params` object of one request: unknown fields are refused, and each
/// accessor names its field in the error, as PROTOCOL.md asks.
public struct Params {
    private var fields: [String: JSONValue] = [:]
    /// Set for the entries of `enqueue_batch`: errors carry `data.index`.
    private let index: Int?
    /// Set for an object inside the params (`error` of `fail`): field names are `error.message`.
    private let prefix: String?

    /// `allowed`: the method's parameter names. Absent params count as `{}`.
    public init(_ value: JSONValue?, allowed: Set<String>, index: Int? = nil, prefix: String? = nil) throws(RPCError) {
        self.index = index
        self.prefix = prefix
        if let prefix, value?.members == nil {
            throw RPCError.invalidParam(prefix, "expected an object")
        }
        guard let value, !value.isNull else { return }
        guard let members = value.members else {
            throw index == nil ? RPCError(.invalidParams, "params: expected an object")
                : RPCError(.invalidParams, "params.jobs[\(index!)]: expected an object", field: "jobs", index: index)
        }
        for (key, member) in members {
            guard allowed.contains(key) else { throw fail(key, "unknown field") }
            guard fields.updateValue(member, forKey: key) == nil else { throw fail(key, "given twice") }
        }
    }

    private func fail(_ field: String, _ problem: String) -> RPCError {
        RPCError.invalidParam(prefix.map { "\($0).\(field)" } ?? field, problem, index: index)
    }

    public func bool(_ key: String) throws(RPCError) -> Bool? {
        guard let value = fields[key] else { return nil }
        guard let b = value.bool else { throw fail(key, "expected true or false") }
        return b
    }

    public func has(_ key: String) -> Bool { fields[key] != nil }

    public func raw(_ key: String) -> JSONValue? { fields[key] }

    public func string(_ key: String) throws(RPCError) -> String? {
        guard let value = fields[key] else { return nil }
        guard let s = value.string else { throw fail(key, "expected a string") }
        return s
    }

    public func requiredString(_ key: String) throws(RPCError) -> String {
        guard let s = try string(key) else { throw fail(key, "required") }
        return s
    }

    public func integer(_ key: String, in range: ClosedRange<Int64>) throws(RPCError) -> Int64? {
        guard let value = fields[key] else { return nil }
        guard let n = value.integer else { throw fail(key, "expected an integer") }
        guard range.contains(n) else { throw fail(key, "must be within \(range.lowerBound)...\(range.upperBound)") }
        return n
    }

    public func requiredInteger(_ key: String, in range: ClosedRange<Int64>) throws(RPCError) -> Int64 {
        guard let n = try integer(key, in: range) else { throw fail(key, "required") }
        return n
    }

    public func stringArray(_ key: String) throws(RPCError) -> [String]? {
        guard let value = fields[key] else { return nil }
        guard let elements = value.elements else { throw fail(key, "expected an array of strings") }
        var result: [String] = []
        for element in elements {
            guard let s = element.string else { throw fail(key, "expected an array of strings") }
            result.append(s)
        }
        return result
    }

    public func array(_ key: String) throws(RPCError) -> [JSONValue]? {
        guard let value = fields[key] else { return nil }
        guard let elements = value.elements else { throw fail(key, "expected an array") }
        return elements
    }
}
