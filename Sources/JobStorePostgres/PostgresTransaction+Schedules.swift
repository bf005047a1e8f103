import JobCore
import JobStore
import PostgresNIO

/// Recurring jobs on PostgreSQL, as on SQLite (`WriteTransaction+Schedules`):
/// one `schedules` table shared by every node. Only the leader fires a
/// tick, and it checks its term in the firing's own transaction, holding
/// the leader's row until the commit: a node that lost the lead meanwhile
/// fires nothing, so two leaders never act on the same tick.
extension PostgresTransaction {
    static let scheduleColumns = "name, definition, anchor, last_tick, last_run_at, last_job_id, paused, skipped"

    static func decodeSchedule(_ row: PostgresRandomAccessRow) throws -> ScheduleRow {
        func time(_ index: Int) throws -> Timestamp? { try row[index].decode(Int64?.self).map(Timestamp.init(millisecondsSinceEpoch:)) }
        return ScheduleRow(
            name: try row[0].decode(String.self), definition: try row[1].decode(String.self), anchor: try time(2)!,
            lastTick: try time(3)!, lastRunAt: try time(4), lastJobID: try row[5].decode(Int64?.self).map { JobID($0) },
            paused: try row[6].decode(Bool.self), skipped: try row[7].decode(Int.self))
    }

    /// See `WriteTransaction.syncSchedules`. Every node syncs at its start
    /// and reload: the nodes of a cluster must share one `schedules:` config.
    func syncSchedules(_ definitions: [String: String]) async throws(StoreError) -> [ScheduleRow] {
        let now = try await self.now()
        try await session.run("sync schedules", """
            DELETE FROM schedules WHERE NOT (name = ANY (string_to_array($1, chr(31)))) RETURNING 1
            """, [.text(definitions.keys.sorted().joined(separator: "\u{1f}"))])
        for (name, definition) in definitions.sorted(by: { $0.key < $1.key }) {
            // A changed definition starts afresh; an unchanged one keeps its ticks.
            try await session.run("sync schedules", """
                INSERT INTO schedules (name, definition, anchor, last_tick, updated_at) VALUES ($1, $2, $3, $3, $3)
                ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, anchor = excluded.anchor,
                    last_tick = excluded.last_tick, updated_at = excluded.updated_at
                WHERE schedules.definition <> excluded.definition
                RETURNING 1
                """, [.text(name), .text(definition), .int(now.rawValue)])
        }
        return try await Self.scheduleRows(session)
    }

    static func scheduleRows(_ session: PostgresSession) async throws(StoreError) -> [ScheduleRow] {
        try await session.rows("schedules", "SELECT \(scheduleColumns) FROM schedules ORDER BY name", [], decodeSchedule)
    }

    /// See `WriteTransaction.fireSchedule`. `term`: the leader's term this
    /// node holds; when it holds it no longer, nothing is fired and the
    /// stored row comes back as `firedElsewhere`.
    func fireSchedule(_ name: String, term: Int64, expectingLastTick lastTick: Timestamp, ticks: [Timestamp],
                      through throughTick: Timestamp, job template: NewJob, skipOverlap: Bool) async throws(StoreError) -> ScheduleFiring {
        // FOR SHARE: the lead cannot pass to another node before this commits.
        let leads = try await session.run("fire schedule", """
            SELECT 1 FROM leader WHERE node = $1 AND term = $2 AND expires_at > jq_now() FOR SHARE
            """, [.text(node), .int(term)]) > 0
        guard leads else { return ScheduleFiring(row: try await scheduleRow(name, lock: false), firedElsewhere: true) }
        guard var row = try await scheduleRow(name, lock: true), row.lastTick == lastTick, !row.paused else { return ScheduleFiring(row: nil) }
        let now = try await self.now()
        var firing = ScheduleFiring(row: nil)
        for tick in ticks {
            if skipOverlap, let previous = row.lastJobID, try await isUnfinished(previous) {
                firing.skipped.append(tick)
                row.skipped += 1
                continue
            }
            var job = template
            job.uniqueKey = ScheduleTick.uniqueKey(schedule: name, tick: tick)
            let outcome: EnqueueOutcome
            do {
                outcome = try await enqueue(job)
            } catch .overloaded {
                firing.refused.append(tick)
                continue
            }
            firing.enqueued.append((tick, outcome.id, outcome.duplicate))
            row.lastJobID = outcome.id
            row.lastRunAt = now
        }
        row.lastTick = throughTick
        try await save(row)
        firing.row = row
        return firing
    }

    /// See `WriteTransaction.triggerSchedule`: any node may, it was asked for.
    func triggerSchedule(_ name: String, job template: NewJob) async throws(StoreError) -> (ScheduleRow, EnqueueOutcome)? {
        guard var row = try await scheduleRow(name, lock: true) else { return nil }
        let now = try await self.now()
        var job = template
        job.uniqueKey = "schedule:\(name):manual:\(now.rfc3339)"
        let outcome = try await enqueue(job)
        row.lastJobID = outcome.id
        row.lastRunAt = now
        try await save(row)
        return (row, outcome)
    }

    func setSchedulePaused(_ name: String, _ paused: Bool) async throws(StoreError) -> ScheduleRow? {
        guard var row = try await scheduleRow(name, lock: true) else { return nil }
        row.paused = paused
        try await save(row)
        return row
    }

    private func scheduleRow(_ name: String, lock: Bool) async throws(StoreError) -> ScheduleRow? {
        try await session.firstRow("schedule", "SELECT \(Self.scheduleColumns) FROM schedules WHERE name = $1" + (lock ? " FOR UPDATE" : ""),
                                   [.text(name)], Self.decodeSchedule)
    }

    private func save(_ row: ScheduleRow) async throws(StoreError) {
        try await session.run("schedule", """
            UPDATE schedules SET last_tick = $1, last_run_at = $2, last_job_id = $3, paused = $4, skipped = $5, updated_at = jq_now()
            WHERE name = $6 RETURNING 1
            """, [.int(row.lastTick.rawValue), .optionalInt(row.lastRunAt?.rawValue), .optionalInt(row.lastJobID?.rawValue),
                  .bool(row.paused), .int(Int64(row.skipped)), .text(row.name)])
    }

    /// Whether the job exists and is not terminal (a pruned job is done).
    private func isUnfinished(_ id: JobID) async throws(StoreError) -> Bool {
        let state = try await session.firstRow("schedule overlap", "SELECT state FROM jobs WHERE id = $1", [.int(id.rawValue)]) {
            try $0[0].decode(String.self)
        }
        return state.flatMap(JobState.init(rawValue:)).map { !$0.isTerminal } ?? false
    }
}
