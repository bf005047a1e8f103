import JobCore

extension JobJSON {
    /// Reads a job object as `write` produces it (the client's side).
    /// Nil when a required field is missing or of the wrong type.
    public static func read(_ value: JSONValue) -> Job? {
        guard let members = value.members else { return nil }
        var fields: [String: JSONValue] = [:]
        for (key, member) in members { fields[key] = member }
        func time(_ key: String) -> Timestamp? { fields[key]?.string.flatMap(Timestamp.init(rfc3339:)) }
        guard let id = fields["id"]?.integer, let queue = fields["queue"]?.string, let handler = fields["handler"]?.string,
              let state = fields["state"]?.string.flatMap(JobState.init(rawValue:)),
              let priority = fields["priority"]?.integer, let attempts = fields["attempts"]?.integer,
              let maxAttempts = fields["max_attempts"]?.integer, let createdAt = time("created_at"),
              let runAt = time("run_at"), let timeoutMs = fields["timeout_ms"]?.integer
        else { return nil }
        let raw = { (key: String) -> RawJSON? in
            guard let v = fields[key], !v.isNull else { return nil }
            return RawJSON(validatedText: v.rawText)
        }
        var failures = (fields["errors"]?.elements ?? []).compactMap(readFailure)
        if failures.isEmpty, let last = fields["error"].flatMap(readFailure) { failures = [last] }  // list entries carry only `error`
        return Job(
            id: JobID(id), queue: queue, handler: handler, payload: raw("payload") ?? .null, state: state,
            priority: Int(priority), attempts: Int(attempts), maxAttempts: Int(maxAttempts),
            uniqueKey: fields["unique_key"]?.string, tags: fields["tags"]?.elements?.compactMap(\.string) ?? [],
            createdAt: createdAt, runAt: runAt, startedAt: time("started_at"), finishedAt: time("finished_at"),
            timeoutMs: timeoutMs, result: raw("result"), resultTruncated: fields["result_truncated"]?.bool ?? false,
            errors: failures, leaseOwner: nil, lease: fields["lease"].flatMap(readLease), progress: raw("progress"),
            schedule: fields["schedule"]?.string, after: fields["after"]?.elements?.compactMap(\.integer).map { JobID($0) } ?? [],
            concurrencyKey: fields["concurrency_key"]?.string)
    }

    /// `lease`: the token is there only in the answer to `reserve` (empty otherwise).
    static func readLease(_ value: JSONValue) -> Lease? {
        guard let expires = value.member("expires_at")?.string.flatMap(Timestamp.init(rfc3339:)) else { return nil }
        return Lease(token: value.member("token")?.string ?? "", worker: value.member("worker")?.string, expiresAt: expires, leaseMs: 0)
    }

    static func readFailure(_ value: JSONValue) -> JobFailure? {
        guard let message = value.member("message")?.string,
              let at = value.member("at")?.string.flatMap(Timestamp.init(rfc3339:)) else { return nil }
        return JobFailure(message: message, exitCode: value.member("exit_code")?.integer.map { Int($0) },
                          signal: value.member("signal")?.integer.map { Int($0) }, stderr: value.member("stderr")?.string, at: at,
                          details: value.member("details").map { RawJSON(validatedText: $0.rawText) })
    }
}
