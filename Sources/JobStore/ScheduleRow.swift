import JobCore

/// A schedule's stored state (the `schedules` table): what survives restarts.
public struct ScheduleRow: Sendable, Equatable {
    public var name: String
    /// The cron expression and zone, or the period, that the ticks follow.
    public var definition: String
    /// When this definition was first seen: `every` counts from it.
    public var anchor: Timestamp
    /// The latest tick fired, skipped or caught up; later ticks are due.
    public var lastTick: Timestamp
    public var lastRunAt: Timestamp?
    public var lastJobID: JobID?
    public var paused: Bool
    /// Ticks skipped by `overlap: skip`.
    public var skipped: Int

    static let columns = "name, definition, anchor, last_tick, last_run_at, last_job_id, paused, skipped"

    public init(name: String, definition: String, anchor: Timestamp, lastTick: Timestamp, lastRunAt: Timestamp?, lastJobID: JobID?,
                paused: Bool, skipped: Int) {
        self.name = name
        self.definition = definition
        self.anchor = anchor
        self.lastTick = lastTick
        self.lastRunAt = lastRunAt
        self.lastJobID = lastJobID
        self.paused = paused
        self.skipped = skipped
    }

    static func decode(_ row: SQLiteStatement) -> ScheduleRow {
        ScheduleRow(
            name: row.text(0), definition: row.text(1), anchor: Timestamp(millisecondsSinceEpoch: row.int(2)),
            lastTick: Timestamp(millisecondsSinceEpoch: row.int(3)),
            lastRunAt: row.optionalInt(4).map(Timestamp.init(millisecondsSinceEpoch:)),
            lastJobID: row.optionalInt(5).map { JobID($0) }, paused: row.int(6) != 0, skipped: Int(row.int(7)))
    }
}

/// The unique keys of a schedule's jobs.
public enum ScheduleTick {
    /// `schedule:NAME:TICK`, TICK in RFC 3339 UTC (SCHEDULING.md).
    public static func uniqueKey(schedule: String, tick: Timestamp) -> String {
        "schedule:\(schedule):\(tick.rfc3339)"
    }
}

/// What a firing did.
public struct ScheduleFiring: Sendable {
    /// The row after the firing (nil: the schedule changed meanwhile; nothing was done).
    public var row: ScheduleRow?
    /// Nothing was done here: another node fires the schedule's ticks (the
    /// cluster's leader, CLUSTER.md); `row` is the stored row, to look at
    /// again a little later.
    public var firedElsewhere = false
    /// The jobs enqueued, with the tick of each.
    public var enqueued: [(tick: Timestamp, id: JobID, duplicate: Bool)] = []
    /// Ticks skipped because the previous job was not terminal.
    public var skipped: [Timestamp] = []
    /// Ticks not enqueued because `max_queued_jobs` was reached.
    public var refused: [Timestamp] = []

    public init(row: ScheduleRow?, firedElsewhere: Bool = false) {
        self.row = row
        self.firedElsewhere = firedElsewhere
    }
}
