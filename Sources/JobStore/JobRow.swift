import Foundation
import JobCore

/// The mapping between a `jobs` row and a `Job` (the PostgreSQL engine
/// shares its columns and its JSON forms).
public enum JobRow {
    /// The columns every job query selects, in the order `decode` reads them.
    public static let columns = """
        id, queue, handler, payload, state, priority, attempts, max_attempts, unique_key, tags, \
        created_at, run_at, started_at, finished_at, timeout_ms, result, result_truncated, errors, lease_owner, \
        lease_token, lease_worker, lease_expires_at, lease_ms, progress, schedule, after_ids, has_dependents, concurrency_key
        """

    static func decode(_ row: SQLiteStatement) throws(StoreError) -> Job {
        let stateText = row.text(4)
        guard let state = JobState(rawValue: stateText) else {
            throw .internalError(operation: "read job", message: "unknown state \"\(stateText)\"")
        }
        return Job(
            id: JobID(row.int(0)),
            queue: row.text(1),
            handler: row.text(2),
            payload: RawJSON(validatedText: row.text(3)),
            state: state,
            priority: Int(row.int(5)),
            attempts: Int(row.int(6)),
            maxAttempts: Int(row.int(7)),
            uniqueKey: row.optionalText(8),
            tags: try decodeTags(row.text(9)),
            createdAt: Timestamp(millisecondsSinceEpoch: row.int(10)),
            runAt: Timestamp(millisecondsSinceEpoch: row.int(11)),
            startedAt: row.optionalInt(12).map(Timestamp.init(millisecondsSinceEpoch:)),
            finishedAt: row.optionalInt(13).map(Timestamp.init(millisecondsSinceEpoch:)),
            timeoutMs: row.int(14),
            result: row.optionalText(15).map(RawJSON.init(validatedText:)),
            resultTruncated: row.int(16) != 0,
            errors: try decodeErrors(row.text(17)),
            leaseOwner: row.optionalText(18),
            lease: row.optionalText(19).map { token in
                Lease(token: token, worker: row.optionalText(20),
                      expiresAt: Timestamp(millisecondsSinceEpoch: row.optionalInt(21) ?? 0), leaseMs: row.optionalInt(22) ?? 0)
            },
            progress: row.optionalText(23).map(RawJSON.init(validatedText:)),
            schedule: row.optionalText(24),
            after: try row.optionalText(25).map(decodeIDs) ?? [],
            hasDependents: row.int(26) != 0,
            concurrencyKey: row.optionalText(27)
        )
    }

    // Most jobs have no tags and no errors: skip the JSON decoder for "[]".

    /// `after_ids`: `[1,2,3]`.
    public static func encodeIDs(_ ids: [JobID]) -> String {
        "[" + ids.map { String($0.rawValue) }.joined(separator: ",") + "]"
    }

    public static func decodeIDs(_ text: String) throws(StoreError) -> [JobID] {
        try decodeJSON([Int64].self, text, what: "after_ids").map { JobID($0) }
    }

    public static func encodeTags(_ tags: [String]) -> String {
        tags.isEmpty ? "[]" : encodeJSON(tags)
    }

    public static func decodeTags(_ text: String) throws(StoreError) -> [String] {
        text == "[]" ? [] : try decodeJSON([String].self, text, what: "tags")
    }

    public static func encodeErrors(_ errors: [JobFailure]) -> String {
        errors.isEmpty ? "[]" : encodeJSON(errors)
    }

    public static func decodeErrors(_ text: String) throws(StoreError) -> [JobFailure] {
        text == "[]" ? [] : try decodeJSON([JobFailure].self, text, what: "errors")
    }

    private static func encodeJSON<T: Encodable>(_ value: T) -> String {
        // Encoding strings, integers and timestamps cannot fail.
        String(decoding: try! JSONEncoder().encode(value), as: UTF8.self)
    }

    private static func decodeJSON<T: Decodable>(_ type: T.Type, _ text: String, what: String) throws(StoreError) -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(text.utf8))
        } catch {
            throw .internalError(operation: "read job", message: "stored \(what) are not valid: \(error)")
        }
    }
}
