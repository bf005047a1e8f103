import JobCore
import JobStore

/// Recurring jobs (SCHEDULING.md) across the cluster: every node keeps the
/// schedules' next ticks, the leader fires them (PostgresTransaction+Schedules).
extension PostgresStore {
    public func syncSchedules(_ definitions: [String: String]) async throws(StoreError) -> [ScheduleRow] {
        try await perform { tx throws(StoreError) in try await tx.syncSchedules(definitions) }
    }

    /// A node that does not lead answers with the stored row and
    /// `firedElsewhere`, after one read and no transaction.
    public func fireSchedule(_ name: String, expectingLastTick lastTick: Timestamp, ticks: [Timestamp], through throughTick: Timestamp,
                             job: NewJob, skipOverlap: Bool) async throws(StoreError) -> ScheduleFiring {
        guard let term = lease.withLock({ $0.leaderTerm }) else {
            return ScheduleFiring(row: try await scheduleRows().first { $0.name == name }, firedElsewhere: true)
        }
        return try await perform { tx throws(StoreError) in
            try await tx.fireSchedule(name, term: term, expectingLastTick: lastTick, ticks: ticks, through: throughTick, job: job,
                                      skipOverlap: skipOverlap)
        }
    }

    public func triggerSchedule(_ name: String, job: NewJob) async throws(StoreError) -> (ScheduleRow, EnqueueOutcome)? {
        try await perform { tx throws(StoreError) in try await tx.triggerSchedule(name, job: job) }
    }

    public func setSchedulePaused(_ name: String, _ paused: Bool) async throws(StoreError) -> ScheduleRow? {
        try await perform { tx throws(StoreError) in try await tx.setSchedulePaused(name, paused) }
    }

    public func scheduleRows() async throws(StoreError) -> [ScheduleRow] {
        try await withSession("schedules") { session throws(StoreError) in
            try await PostgresTransaction.scheduleRows(session)
        }
    }
}
