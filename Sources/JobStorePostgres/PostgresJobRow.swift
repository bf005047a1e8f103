import Foundation
import JobCore
import JobStore
import PostgresNIO

/// A `jobs` row of the PostgreSQL schema as a `Job`: the columns of
/// `JobRow.columns`, in its order, with booleans where SQLite has 0/1.
enum PostgresJobRow {
    static let columns = JobRow.columns
    /// The same, each as `jobs.column` (for statements that join).
    static let qualifiedColumns = columns.split(separator: ",").map { "jobs." + $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        .joined(separator: ", ")

    static func decode(_ row: PostgresRandomAccessRow) throws -> Job {
        let stateText = try row[4].decode(String.self)
        guard let state = JobState(rawValue: stateText) else {
            throw StoreError.internalError(operation: "read job", message: "unknown state \"\(stateText)\"")
        }
        func time(_ index: Int) throws -> Timestamp? {
            try row[index].decode(Int64?.self).map(Timestamp.init(millisecondsSinceEpoch:))
        }
        let token = try row[19].decode(String?.self)
        return Job(
            id: JobID(try row[0].decode(Int64.self)),
            queue: try row[1].decode(String.self),
            handler: try row[2].decode(String.self),
            payload: RawJSON(validatedText: try row[3].decode(String.self)),
            state: state,
            priority: try row[5].decode(Int.self),
            attempts: try row[6].decode(Int.self),
            maxAttempts: try row[7].decode(Int.self),
            uniqueKey: try row[8].decode(String?.self),
            tags: try JobRow.decodeTags(try row[9].decode(String.self)),
            createdAt: try time(10)!,
            runAt: try time(11)!,
            startedAt: try time(12),
            finishedAt: try time(13),
            timeoutMs: try row[14].decode(Int64.self),
            result: try row[15].decode(String?.self).map(RawJSON.init(validatedText:)),
            resultTruncated: try row[16].decode(Bool.self),
            errors: try JobRow.decodeErrors(try row[17].decode(String.self)),
            leaseOwner: try row[18].decode(String?.self),
            lease: try token.map { token in
                Lease(token: token, worker: try row[20].decode(String?.self),
                      expiresAt: try time(21) ?? Timestamp(millisecondsSinceEpoch: 0), leaseMs: try row[22].decode(Int64?.self) ?? 0)
            },
            progress: try row[23].decode(String?.self).map(RawJSON.init(validatedText:)),
            schedule: try row[24].decode(String?.self),
            after: try row[25].decode(String?.self).map(JobRow.decodeIDs) ?? [],
            hasDependents: try row[26].decode(Bool.self),
            concurrencyKey: try row[27].decode(String?.self)
        )
    }
}
