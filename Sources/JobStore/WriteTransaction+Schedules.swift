import JobCore

extension WriteTransaction {
    /// Makes the table match the configured schedules: new ones start now
    /// (no tick before this moment is due), a changed definition starts
    /// afresh, a removed schedule's row goes (its jobs stay).
    func syncSchedules(_ definitions: [String: String]) throws(StoreError) -> [ScheduleRow] {
        let stored = try connection.rows("sync schedules", "SELECT \(ScheduleRow.columns) FROM schedules", [], ScheduleRow.decode)
        for row in stored where definitions[row.name] == nil {
            try connection.run("sync schedules", "DELETE FROM schedules WHERE name = ?", [.text(row.name)])
        }
        let byName = Dictionary(uniqueKeysWithValues: stored.map { ($0.name, $0) })
        for (name, definition) in definitions {
            if let row = byName[name], row.definition == definition { continue }
            try connection.run("sync schedules", """
                INSERT INTO schedules (name, definition, anchor, last_tick, updated_at) VALUES (?1, ?2, ?3, ?3, ?3)
                ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, anchor = excluded.anchor,
                    last_tick = excluded.last_tick, updated_at = excluded.updated_at
                """, [.text(name), .text(definition), .int(now.rawValue)])
        }
        return try connection.rows("sync schedules", "SELECT \(ScheduleRow.columns) FROM schedules ORDER BY name", [], ScheduleRow.decode)
    }

    /// Fires `ticks` (ascending) of a schedule whose last tick is still
    /// `lastTick`, and records `throughTick` as its last tick, all in this
    /// transaction: the job and the tick commit together. With
    /// `skipOverlap`, a tick whose previous job is not terminal enqueues
    /// nothing and counts as skipped.
    func fireSchedule(_ name: String, expectingLastTick lastTick: Timestamp, ticks: [Timestamp], through throughTick: Timestamp,
                      job template: NewJob, skipOverlap: Bool) throws(StoreError) -> ScheduleFiring {
        guard var row = try scheduleRow(name), row.lastTick == lastTick, !row.paused else { return ScheduleFiring(row: nil) }
        var firing = ScheduleFiring(row: nil)
        for tick in ticks {
            if skipOverlap, let previous = row.lastJobID, try isUnfinished(previous) {
                firing.skipped.append(tick)
                row.skipped += 1
                continue
            }
            var job = template
            job.uniqueKey = ScheduleTick.uniqueKey(schedule: name, tick: tick)
            let outcome: EnqueueOutcome
            do {
                outcome = try enqueue(job)
            } catch .overloaded {
                firing.refused.append(tick)
                continue
            }
            Failpoint.scheduleTick.hit()
            firing.enqueued.append((tick, outcome.id, outcome.duplicate))
            row.lastJobID = outcome.id
            row.lastRunAt = now
        }
        row.lastTick = throughTick
        try save(row)
        firing.row = row
        return firing
    }

    /// A job of the schedule now, outside its ticks (`trigger_schedule`).
    /// Overlap does not apply: it was asked for.
    func triggerSchedule(_ name: String, job template: NewJob) throws(StoreError) -> (ScheduleRow, EnqueueOutcome)? {
        guard var row = try scheduleRow(name) else { return nil }
        var job = template
        job.uniqueKey = "schedule:\(name):manual:\(now.rfc3339)"
        let outcome = try enqueue(job)
        row.lastJobID = outcome.id
        row.lastRunAt = now
        try save(row)
        return (row, outcome)
    }

    /// Pauses or resumes a schedule, persistently. A resumed schedule's
    /// ticks while paused are missed ticks (its `catch_up` decides).
    func setSchedulePaused(_ name: String, _ paused: Bool) throws(StoreError) -> ScheduleRow? {
        guard var row = try scheduleRow(name) else { return nil }
        row.paused = paused
        try save(row)
        return row
    }

    func scheduleRow(_ name: String) throws(StoreError) -> ScheduleRow? {
        try connection.firstRow("schedule", "SELECT \(ScheduleRow.columns) FROM schedules WHERE name = ?", [.text(name)], ScheduleRow.decode)
    }

    private func save(_ row: ScheduleRow) throws(StoreError) {
        try connection.run("schedule", """
            UPDATE schedules SET last_tick = ?, last_run_at = ?, last_job_id = ?, paused = ?, skipped = ?, updated_at = ?
            WHERE name = ?
            """, [.int(row.lastTick.rawValue), .optionalInt(row.lastRunAt?.rawValue), .optionalInt(row.lastJobID?.rawValue),
                  .int(row.paused ? 1 : 0), .int(Int64(row.skipped)), .int(now.rawValue), .text(row.name)])
    }

    /// Whether the job exists and is not terminal (a pruned job is done).
    private func isUnfinished(_ id: JobID) throws(StoreError) -> Bool {
        let state = try connection.firstRow("schedule overlap", "SELECT state FROM jobs WHERE id = ?", [.int(id.rawValue)]) { $0.text(0) }
        return state.flatMap(JobState.init(rawValue:)).map { !$0.isTerminal } ?? false
    }
}

extension JobStore {
    /// See `WriteTransaction.syncSchedules`.
    public func syncSchedules(_ definitions: [String: String]) async throws(StoreError) -> [ScheduleRow] {
        try await perform { tx throws(StoreError) in try tx.syncSchedules(definitions) }
    }

    /// See `WriteTransaction.fireSchedule`.
    public func fireSchedule(_ name: String, expectingLastTick lastTick: Timestamp, ticks: [Timestamp], through throughTick: Timestamp,
                             job: NewJob, skipOverlap: Bool) async throws(StoreError) -> ScheduleFiring {
        try await perform { tx throws(StoreError) in
            try tx.fireSchedule(name, expectingLastTick: lastTick, ticks: ticks, through: throughTick, job: job, skipOverlap: skipOverlap)
        }
    }

    public func triggerSchedule(_ name: String, job: NewJob) async throws(StoreError) -> (ScheduleRow, EnqueueOutcome)? {
        try await perform { tx throws(StoreError) in try tx.triggerSchedule(name, job: job) }
    }

    public func setSchedulePaused(_ name: String, _ paused: Bool) async throws(StoreError) -> ScheduleRow? {
        try await perform { tx throws(StoreError) in try tx.setSchedulePaused(name, paused) }
    }

    /// Every stored schedule, by name.
    public func scheduleRows() throws(StoreError) -> [ScheduleRow] {
        try read("schedules") { db throws(StoreError) in
            try db.rows("schedules", "SELECT \(ScheduleRow.columns) FROM schedules ORDER BY name", [], ScheduleRow.decode)
        }
    }
}
