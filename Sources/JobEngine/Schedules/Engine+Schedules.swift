import JobCore
import JobStore

/// Recurring jobs (SCHEDULING.md). The engine keeps each schedule's next
/// tick in memory and its timer (the `run_at` one) wakes the dispatcher at
/// the earliest; the dispatcher fires what is due before it claims. A
/// firing is one transaction: the jobs and the schedule's last tick commit
/// together, so a tick is enqueued exactly once across crashes.
extension Engine {
    /// A configured schedule as the engine sees it. Guarded by the engine's lock.
    struct ScheduleState {
        var config: ScheduleConfig
        var row: ScheduleRow
        /// Ticks before this are missed ticks (the daemon was down, or the
        /// schedule paused): `catch_up` decides what they enqueue.
        var onlineSince: Timestamp
        /// The first tick after the last one fired; nil while paused.
        var nextTick: Timestamp?
        /// Another node fires this schedule (a cluster's leader): its due
        /// tick is looked at again then, not before.
        var recheckAt: Timestamp?

        /// When the dispatcher should next look at this schedule.
        var dueAt: Timestamp? {
            guard let nextTick else { return nil }
            return recheckAt.map { max($0, nextTick) } ?? nextTick
        }
    }

    /// What `schedules` shows of one schedule.
    public struct ScheduleEntry: Sendable {
        public var name: String
        public var config: ScheduleConfig
        public var queue: String
        public var paused: Bool
        public var nextRunAt: Timestamp?
        public var lastRunAt: Timestamp?
        public var lastJobID: JobID?
        public var skipped: Int
    }

    /// No schedule of that name is configured (1008).
    public struct UnknownSchedule: Error, Sendable {
        public var name: String
    }

    /// At start-up and after SIGHUP: the table follows the config (new
    /// schedules start now, changed ones afresh, removed ones go), and the
    /// next ticks are computed. Ticks that fell while the daemon was down
    /// are due at once, as missed ticks.
    public func loadSchedules() async throws(StoreError) {
        let configured = config.schedules
        let rows = try await store.syncSchedules(configured.mapValues(\.definition))
        let now = clock()
        lock.withLock {
            var states: [String: ScheduleState] = [:]
            for row in rows {
                guard let config = configured[row.name] else { continue }
                // A schedule that ran on through the reload keeps its "online since".
                let since = schedules[row.name].flatMap { $0.row.definition == row.definition ? $0.onlineSince : nil } ?? now
                states[row.name] = ScheduleState(config: config, row: row, onlineSince: since, nextTick: nil)
                states[row.name]!.nextTick = nextTick(of: states[row.name]!)
            }
            schedules = states
        }
        wake()
    }

    /// How long a node that does not fire a schedule waits to look at its due tick again.
    static let scheduleRecheckMs: Int64 = 1000

    /// A cluster's poll tick: the rows follow what other nodes did (fired
    /// ticks, pauses and resumes there). A schedule resumed elsewhere counts
    /// as online from now on, so that its paused ticks stay missed ticks.
    func refreshScheduleRows() async {
        guard lock.withLock({ !schedules.isEmpty }) else { return }
        let rows: [ScheduleRow]
        do {
            rows = try await store.scheduleRows()
        } catch {
            logger.warning("cannot read the schedules", metadata: ["error": "\(error)"])
            return
        }
        let now = clock()
        var resumed = false
        for row in rows {
            update(row.name) { state in
                // An older row than the one held (a firing committed since the read) changes nothing.
                guard row.lastTick >= state.row.lastTick else { return }
                if state.row.paused && !row.paused {
                    state.onlineSince = now
                    resumed = true
                }
                state.row = row
            }
        }
        if resumed { wake() }
    }

    private func nextTick(of state: ScheduleState) -> Timestamp? {
        guard !state.row.paused else { return nil }
        return state.config.timing.nextTick(after: state.row.lastTick, anchor: state.row.anchor)
    }

    /// The earliest tick of an unpaused schedule: the timer wakes the dispatcher for it.
    func earliestScheduleTick() -> Timestamp? {
        lock.withLock { schedules.values.compactMap(\.dueAt).min() }
    }

    /// Fires every schedule whose tick is due (called by the dispatcher,
    /// one firing at a time).
    func fireDueSchedules() async {
        let now = clock()
        let due = lock.withLock { schedules.values.filter { $0.dueAt.map { $0 <= now } ?? false } }
        for state in due {
            await fire(state, now: now)
        }
    }

    private func fire(_ state: ScheduleState, now: Timestamp) async {
        let name = state.row.name
        let ticks = ticksToFire(state, now: now)
        guard let template = jobTemplate(name, state.config) else { return }
        do {
            let firing = try await store.fireSchedule(
                name, expectingLastTick: state.row.lastTick, ticks: ticks, through: now, job: template,
                skipOverlap: state.config.overlap == .skip)
            if firing.firedElsewhere {
                // A follower of a cluster: the leader fires; this node keeps
                // the stored row and, while the tick is still due, looks again in a second.
                update(name) {
                    if let row = firing.row { $0.row = row }
                    $0.recheckAt = now.adding(milliseconds: Self.scheduleRecheckMs)
                }
                return
            }
            for (tick, id, duplicate) in firing.enqueued {
                logger.info("schedule tick enqueued a job", metadata: [
                    "schedule": "\(name)", "tick": "\(tick)", "job": "\(id)", "duplicate": "\(duplicate)",
                ])
            }
            for tick in firing.skipped {
                logger.notice("schedule tick skipped: the previous job has not finished (overlap: skip)", metadata: [
                    "schedule": "\(name)", "tick": "\(tick)", "job": "\(firing.row?.lastJobID.map { "\($0)" } ?? "-")",
                ])
            }
            for tick in firing.refused {
                logger.error("schedule tick not enqueued: max_queued_jobs reached", metadata: ["schedule": "\(name)", "tick": "\(tick)"])
            }
            if let row = firing.row {
                update(name) {
                    $0.row = row
                    $0.recheckAt = nil
                }
            } else {
                // Paused or changed since it was read: take the stored row.
                let row = try await store.scheduleRows().first { $0.name == name }
                if let row { update(name) { $0.row = row } }
            }
        } catch {
            // Nothing committed: the tick is still due, and is tried again.
            logger.error("cannot fire a schedule", metadata: ["schedule": "\(name)", "error": "\(error)"])
            scheduleWake(at: clock().adding(milliseconds: 1000))
        }
    }

    /// The due ticks to enqueue: missed ones as `catch_up` says, then the
    /// ones that fell while the daemon was running (at most 1,000 of each,
    /// the most recent).
    private func ticksToFire(_ state: ScheduleState, now: Timestamp) -> [Timestamp] {
        let timing = state.config.timing, anchor = state.row.anchor
        let onlineSince = max(state.onlineSince, state.row.lastTick)
        var missed: [Timestamp] = []
        switch state.config.catchUp {
        case .none: break
        case .latest: missed = lastTicks(timing, anchor: anchor, after: state.row.lastTick, before: onlineSince, count: 1)
        case .all: missed = lastTicks(timing, anchor: anchor, after: state.row.lastTick, before: onlineSince, count: ScheduleConfig.maxCatchUp)
        }
        let live = lastTicks(timing, anchor: anchor, after: onlineSince.adding(milliseconds: -1), before: now.adding(milliseconds: 1),
                             count: ScheduleConfig.maxCatchUp)
        return missed + live.filter { $0 > state.row.lastTick }
    }

    /// The last `count` ticks in the open range (`after`, `before`),
    /// ascending. Looks back through growing windows, so a long downtime
    /// of a frequent schedule costs about `count` tick computations, not
    /// one per tick missed.
    private func lastTicks(_ timing: ScheduleTiming, anchor: Timestamp, after lower: Timestamp, before upper: Timestamp,
                           count: Int) -> [Timestamp] {
        guard lower < upper else { return [] }
        let hour: Int64 = 3_600_000
        for span in [hour, 24 * hour, 32 * 24 * hour, 367 * 24 * hour, 10 * 367 * 24 * hour, Int64.max] {
            let start = span == .max || upper.milliseconds(since: lower) <= span ? lower : upper.adding(milliseconds: -span)
            var found: [Timestamp] = []
            var time = start
            while let tick = timing.nextTick(after: time, anchor: anchor), tick < upper {
                found.append(tick)
                if found.count > count { found.removeFirst(found.count - count) }
                time = tick
            }
            if found.count >= count || start == lower { return found }
        }
        return []
    }

    /// The job a tick enqueues, as if by `enqueue` with the schedule's fields.
    private func jobTemplate(_ name: String, _ schedule: ScheduleConfig) -> NewJob? {
        guard let resolved = resolve(handler: schedule.handler, queue: schedule.queue, maxAttempts: schedule.maxAttempts,
                                     timeoutMs: schedule.timeoutMs) else {
            logger.error("schedule names a handler that does not exist", metadata: ["schedule": "\(name)", "handler": "\(schedule.handler)"])
            return nil
        }
        return NewJob(handler: schedule.handler, payload: schedule.payload, queue: resolved.queue, priority: schedule.priority ?? 0,
                      maxAttempts: resolved.maxAttempts, timeoutMs: resolved.timeoutMs, tags: schedule.tags,
                      external: resolved.external, schedule: name)
    }

    private func update(_ name: String, _ change: (inout ScheduleState) -> Void) {
        lock.withLock {
            guard var state = schedules[name] else { return }
            change(&state)
            state.nextTick = nextTick(of: state)
            schedules[name] = state
        }
    }

    // MARK: - Methods

    /// Every configured schedule, by name.
    public func scheduleEntries() -> [ScheduleEntry] {
        lock.withLock { schedules.keys.sorted().map { entryLocked(schedules[$0]!) } }
    }

    private func entryLocked(_ state: ScheduleState) -> ScheduleEntry {
        let queue = state.config.queue ?? currentConfig.handler(named: state.config.handler)?.queue ?? "default"
        return ScheduleEntry(name: state.row.name, config: state.config, queue: queue, paused: state.row.paused,
                             nextRunAt: state.nextTick, lastRunAt: state.row.lastRunAt, lastJobID: state.row.lastJobID,
                             skipped: state.row.skipped)
    }

    private func entry(_ name: String) throws(UnknownSchedule) -> ScheduleEntry {
        guard let entry = lock.withLock({ schedules[name].map(entryLocked) }) else { throw UnknownSchedule(name: name) }
        return entry
    }

    /// `pause_schedule`: persisted; no tick fires until it is resumed.
    public func pauseSchedule(_ name: String) async throws -> ScheduleEntry {
        _ = try entry(name)
        if let row = try await store.setSchedulePaused(name, true) { update(name) { $0.row = row } }
        return try entry(name)
    }

    /// `resume_schedule`: the ticks that fell while it was paused are
    /// missed ticks (`catch_up`).
    public func resumeSchedule(_ name: String) async throws -> ScheduleEntry {
        let before = try entry(name)
        guard before.paused else { return before }
        let now = clock()
        if let row = try await store.setSchedulePaused(name, false) {
            update(name) {
                $0.row = row
                $0.onlineSince = now
            }
        }
        wake()
        return try entry(name)
    }

    /// `trigger_schedule`: a job now, outside the ticks.
    public func triggerSchedule(_ name: String) async throws -> JobID {
        let current = try entry(name)
        guard let template = jobTemplate(name, current.config) else { throw UnknownSchedule(name: name) }
        guard let (row, outcome) = try await store.triggerSchedule(name, job: template) else { throw UnknownSchedule(name: name) }
        update(name) { $0.row = row }
        wake()
        return outcome.id
    }
}
