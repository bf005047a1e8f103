import JobCore
import JobStore

/// Rate limits (SCHEDULING.md): at most `count` attempts of a handler or a
/// queue start in any window of `per`. The engine keeps the last `count`
/// start times of each limited handler and queue in memory (they start
/// empty after a restart, as the spec allows): a claim takes no more than
/// the window allows, and the dispatcher's timer is set to the moment the
/// oldest start leaves the window.
extension Engine {
    enum RateKey: Hashable {
        case queue(String)
        case handler(String)
    }

    private func rateLimitLocked(_ key: RateKey) -> RateLimit? {
        switch key {
        case .queue(let name): currentConfig.queues[name]?.rateLimit
        case .handler(let name): currentConfig.handlers[name]?.rateLimit
        }
    }

    /// Starts left in the window ending now; starts that left it are dropped.
    /// A window is half-open: a start at `t` leaves it at `t + per`.
    func rateBudgetLocked(_ key: RateKey, now: Timestamp) -> Int? {
        guard rateLimitsConfigured, let limit = rateLimitLocked(key) else { return nil }
        let cutoff = now.adding(milliseconds: -limit.perMs)
        if let starts = rateStarts[key], let first = starts.first, first <= cutoff {
            rateStarts[key] = starts.filter { $0 > cutoff }
        }
        return max(0, limit.count - (rateStarts[key]?.count ?? 0))
    }

    /// Counts the attempt `job` started against its handler's and queue's limits.
    func recordRateStartLocked(_ job: Job) {
        guard rateLimitsConfigured else { return }
        let time = job.startedAt ?? clock()
        for key in [RateKey.queue(job.queue), .handler(job.handler)] {
            guard let limit = rateLimitLocked(key) else { continue }
            var starts = rateStarts[key] ?? []
            starts.append(time)
            if starts.count > limit.count { starts.removeFirst(starts.count - limit.count) }
            rateStarts[key] = starts
        }
    }

    /// The per-handler budgets and the rate-limited queues for a claim now:
    /// jobs of a limited handler or queue start at once or not at all
    /// (never claimed ahead: their start would not be counted when it happens).
    func rateBudgetsLocked() -> (handlers: [String: Int], queues: [String: Int]) {
        var handlers: [String: Int] = [:], queues: [String: Int] = [:]
        guard rateLimitsConfigured else { return (handlers, queues) }
        let now = clock()
        for (name, handler) in currentConfig.handlers where handler.rateLimit != nil {
            handlers[name] = rateBudgetLocked(.handler(name), now: now)
        }
        for (name, queue) in currentConfig.queues where queue.rateLimit != nil {
            queues[name] = rateBudgetLocked(.queue(name), now: now)
        }
        return (handlers, queues)
    }

    /// Sets the timer for a full window's end: after every claim and
    /// reserve pass (an enqueue's own claim and a reserve set no timer
    /// otherwise), and at the end of each dispatch.
    func wakeForRateWindow() {
        guard lock.withLock({ rateLimitsConfigured }), let window = nextRateWindow() else { return }
        scheduleWake(at: window)
    }

    /// The earliest moment a full window lets another start in.
    func nextRateWindow() -> Timestamp? {
        lock.withLock {
            guard rateLimitsConfigured else { return nil }
            return rateStarts.compactMap { key, starts -> Timestamp? in
                guard let limit = rateLimitLocked(key), starts.count >= limit.count, let oldest = starts.first else { return nil }
                return oldest.adding(milliseconds: limit.perMs)
            }.min()
        }
    }
}
