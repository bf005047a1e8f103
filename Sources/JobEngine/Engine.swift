import Foundation
import JobCore
import JobStore
import Logging

/// The daemon's engine: it knows the free worker slots, claims that many
/// ready jobs (and, while jobs are short, up to `lookahead` more to start as
/// slots free up, so that many jobs share a commit), runs them, records how
/// they ended, and wakes whoever waits for them. Woken by enqueues,
/// completions and a timer set to the earliest `run_at`; there is no polling loop.
public final class Engine: @unchecked Sendable {
    public let store: any JobStorage
    let logger: Logger
    public let clock: @Sendable () -> Timestamp
    let startedAt = ContinuousClock.now

    let lock = NSLock()
    // Guarded by `lock`:
    var currentConfig: DaemonConfig
    private var busyTotal = 0
    var busyPerQueue: [String: Int] = [:]
    var running: [JobID: RunningJob] = [:]
    var waiters: [JobID: [UInt64: Waiter]] = [:]
    var nextWaiterToken: UInt64 = 0
    /// Jobs whose end is being recorded as a deferrable write (no waiter
    /// when it was submitted): a waiter that comes now expedites it.
    var deferredEnds: Set<JobID> = []
    var stopping = false
    /// One claim at a time (the dispatcher's or an enqueue's), so that two
    /// claims never count the same free slot.
    private var claimInFlight = false
    /// The dispatcher found a claim under way and did not claim.
    private var dispatcherTurnedAway = false
    /// The pending wake-up for the earliest `run_at`; nil once it fired.
    private var timer: (due: Timestamp, token: UInt64, task: Task<Void, Never>)?
    private var nextTimerToken: UInt64 = 0
    var random = SystemRandomNumberGenerator()
    /// Jobs claimed ahead (`running` in the database, not started), in claim order.
    var claimedAhead: [Job] = []
    /// How long attempts take, on average (ns, a moving average): the
    /// engine claims ahead only while they are short.
    private var averageRunNanos: Double = .infinity

    /// The most jobs claimed ahead of the free slots.
    let lookahead: Int
    /// Attempts that take this long on average or longer are not claimed
    /// ahead: a commit is then small beside the job, and a job claimed
    /// ahead would only wait (and show as running) for longer.
    static let shortJobNanos: Double = 20_000_000
    public static let defaultLookahead = 64

    // External workers (Engine+External.swift), guarded by `lock`:
    /// The leases held by external workers, by job.
    var leases: [JobID: ExternalLease] = [:]
    /// Those leases per queue: they take the queue's slots.
    var leasesPerQueue: [String: Int] = [:]
    /// `reserve` calls not yet answered, oldest first: new ones and those that wait.
    var reserveCalls: [ReserveCall] = []
    /// A reserve pass holds the claim (`claimInFlight`) while it runs; a
    /// call or wake-up meanwhile asks for another pass after it.
    var reservePassInFlight = false
    var reservePassWanted = false
    /// Connections that called `reserve`, for `workers`.
    var connectedWorkers: [UInt64: ConnectedWorker] = [:]
    /// Full queues where an external job ended since the reserver task
    /// last looked: their own ready jobs may have waited for that slot.
    var freedFullQueues: Set<String> = []

    // Schedules (Schedules/Engine+Schedules.swift), guarded by `lock`:
    /// The configured schedules, by name.
    var schedules: [String: ScheduleState] = [:]
    // Rate limits (Engine+RateLimits.swift), guarded by `lock`:
    /// The latest starts of each rate-limited handler and queue, oldest first.
    var rateStarts: [RateKey: [Timestamp]] = [:]
    /// Some handler or queue has a `rate_limit` (read once per config: the hot path skips rates otherwise).
    var rateLimitsConfigured: Bool

    private let wakeups: AsyncStream<Void>
    private let wakeupSender: AsyncStream<Void>.Continuation
    /// Wake-ups for the waiting `reserve` calls alone (an external job's
    /// end freed a slot): lighter than a whole dispatch.
    private let reserverWakeups: AsyncStream<Void>
    let reserverWakeupSender: AsyncStream<Void>.Continuation
    private var tasks: [Task<Void, Never>] = []

    struct RunningJob {
        var job: Job
        var handle: CommandHandle
        var task: Task<Void, Never>?
        /// Stopped by a shutdown: its end is not recorded, the next start retries it.
        var abandoned = false
    }

    public init(store: any JobStorage, config: DaemonConfig, logger: Logger, clock: @escaping @Sendable () -> Timestamp = systemClock,
                lookahead: Int = Engine.defaultLookahead) {
        self.store = store
        self.lookahead = lookahead
        self.currentConfig = config
        self.rateLimitsConfigured = config.hasRateLimits
        self.logger = logger
        self.clock = clock
        // Wake-ups coalesce: one pending wake-up stands for any number.
        (wakeups, wakeupSender) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        (reserverWakeups, reserverWakeupSender) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        store.maxActiveJobs = config.limits.maxQueuedJobs
        store.keyConcurrency = Self.keyLimits(config)
        store.shareRateLimits(Self.rateLimits(config))
        // Dependencies and keys change jobs besides a request's own: blocked
        // jobs cancelled by a failed dependency end their waits, and jobs
        // unblocked or let in by their key are for the dispatcher to claim.
        store.onSettled = { [weak self] settled in
            guard let self else { return }
            for job in settled.cancelled { notifyWaiters(job) }
            // Jobs that ended on another node of a cluster: read them, then wake their waiters.
            let ended = settled.polled ? waitedJobs() : settled.endedElsewhere.filter(hasWaiters)
            if !ended.isEmpty { Task { await self.notifyWaiters(reading: ended) } }
            // Cancelled on another node while running here: the handler stops.
            let stopping = runningHere(settled.endedElsewhere)
            if !stopping.isEmpty { Task { await self.stopEndedElsewhere(stopping) } }
            if settled.leaseLost { stopHandlersOfLostLease() }
            // Other nodes fire, pause and resume the shared schedules.
            if settled.polled { Task { await self.refreshScheduleRows() } }
            wake()
        }
    }

    /// Every configured rate limit, by handler and by queue (a cluster's
    /// store counts them across its nodes).
    static func rateLimits(_ config: DaemonConfig) -> [String: SharedRateLimit] {
        var limits: [String: SharedRateLimit] = [:]
        for (name, handler) in config.handlers {
            if let limit = handler.rateLimit { limits[SharedRateLimit.key(handler: name)] = limit }
        }
        for (name, queue) in config.queues {
            if let limit = queue.rateLimit { limits[SharedRateLimit.key(queue: name)] = limit }
        }
        return limits
    }

    /// The handlers whose `key_concurrency` is not the default 1.
    static func keyLimits(_ config: DaemonConfig) -> [String: Int] {
        config.handlers.compactMapValues { $0.keyConcurrency == 1 ? nil : $0.keyConcurrency }
    }

    public var config: DaemonConfig {
        lock.lock(); defer { lock.unlock() }
        return currentConfig
    }

    public var isStopping: Bool {
        lock.lock(); defer { lock.unlock() }
        return stopping
    }

    /// Replaces the configuration (SIGHUP): handlers, queues, concurrency,
    /// limits and retention apply from the next dispatch on.
    public func update(_ config: DaemonConfig) {
        lock.lock()
        currentConfig = config
        rateLimitsConfigured = config.hasRateLimits
        lock.unlock()
        store.maxActiveJobs = config.limits.maxQueuedJobs
        store.keyConcurrency = Self.keyLimits(config)
        store.shareRateLimits(Self.rateLimits(config))
        Task { [self] in
            do {
                try await applyExternalHandlers()
            } catch {
                logger.error("cannot hand jobs to or from external workers after the reload", metadata: ["error": "\(error)"])
            }
            do {
                try await loadSchedules()
            } catch {
                logger.error("cannot apply the schedules of the reloaded config", metadata: ["error": "\(error)"])
            }
            do {
                try await store.releaseHeldKeys()  // a key_concurrency raised: held jobs may go
            } catch {
                logger.error("cannot let in jobs held by their concurrency key", metadata: ["error": "\(error)"])
            }
            wake()
        }
        wake()
    }

    /// At start-up, before the socket is bound: jobs an earlier run left
    /// `running` become failed attempts, retried after their handler's backoff.
    /// External leases run on (WORKERS.md): they are loaded, not recovered.
    public func recoverInterruptedJobs() async throws(StoreError) -> [Job] {
        try await applyExternalHandlers()
        try await loadLeases()
        try await store.releaseHeldKeys()
        let config = self.config
        let recovered = try await store.recoverInterrupted { job in
            var random = SystemRandomNumberGenerator()
            let policy = config.handler(named: job.handler)?.backoff ?? .default
            return policy.delayMs(afterAttempt: job.attempts, using: &random)
        }
        for job in recovered {
            logger.notice("recovered a job interrupted by the last stop", metadata: ["job": "\(job.id)", "state": "\(job.state)"])
        }
        return recovered
    }

    /// Starts dispatching and the background retention pruning.
    public func start() {
        let dispatcher = Task { [self] in
            for await _ in wakeups {
                if isStopping { break }
                await dispatch()
            }
        }
        let pruner = Task { [self] in await pruneForever() }
        let reservers = Task { [self] in
            for await _ in reserverWakeups {
                if isStopping { break }
                await slotsFreed()
            }
        }
        lock.withLock { tasks = [dispatcher, pruner, reservers] }
        wake()
    }

    /// Asks the dispatcher to look for work (an enqueue, a finished job, a resume...).
    public func wake() {
        wakeupSender.yield()
    }

    // MARK: - Dispatch

    private func dispatch() async {
        await expireLeases()
        await fireDueSchedules()
        await claimForFreeSlots()
        await serveWaitingReservers()
    }

    private func claimForFreeSlots() async {
        do {
            // A read first: most wake-ups (a job's end, an enqueue that
            // claimed its own job) find nothing to claim, and a claim is a
            // transaction. The read holds no claim, so enqueues may claim meanwhile.
            if let free = freeSlots(), try await store.mayClaim(free, now: clock()), let request = beginClaim(byDispatcher: true) {
                defer { _ = endClaim() }
                accept(try await store.claim(request))
            }
        } catch {
            logger.error("cannot claim jobs", metadata: ["error": "\(error)"])
            scheduleWake(at: clock().adding(milliseconds: 1000))
            return
        }
        await scheduleTimer()
    }

    /// What the free slots allow, or nil when none is free or another claim
    /// is under way (whoever holds it wakes the dispatcher when done). A
    /// non-nil answer must be followed by `endClaim()` once the claimed jobs
    /// are launched.
    func beginClaim(byDispatcher: Bool = false) -> ClaimRequest? {
        lock.lock()
        defer { lock.unlock() }
        guard let request = freeSlotsLocked() else { return nil }
        guard !claimInFlight else {
            if byDispatcher { dispatcherTurnedAway = true }
            return nil
        }
        claimInFlight = true
        return request
    }

    /// What the free slots allow now, without starting a claim; nil when none is free.
    private func freeSlots() -> ClaimRequest? {
        lock.withLock { freeSlotsLocked() }
    }

    /// A queue's slots are taken by its running jobs and by its jobs claimed
    /// ahead (they start as soon as it has one). Jobs claimed ahead are
    /// topped up once half of them have started.
    private func freeSlotsLocked() -> ClaimRequest? {
        guard !stopping else { return nil }
        var waiting: [String: Int] = [:]
        for job in claimedAhead { waiting[job.queue, default: 0] += 1 }
        var slots: [String: Int] = [:]
        for queue in Set(currentConfig.queues.keys).union(busyPerQueue.keys).union(waiting.keys).union(leasesPerQueue.keys) {
            slots[queue] = currentConfig.concurrency(of: queue) - (busyPerQueue[queue] ?? 0) - (waiting[queue] ?? 0)
                - (leasesPerQueue[queue] ?? 0)
        }
        // Workers that no job claimed ahead will take: those whose queue has a slot start at once.
        let startable = waiting.reduce(0) {
            $0 + min($1.value, max(0, currentConfig.concurrency(of: $1.key) - (busyPerQueue[$1.key] ?? 0) - (leasesPerQueue[$1.key] ?? 0)))
        }
        let free = currentConfig.workers - busyTotal - startable
        let target = averageRunNanos < Self.shortJobNanos ? lookahead : 0
        let ahead = claimedAhead.count * 2 <= target ? target - claimedAhead.count : 0
        guard free > 0 || ahead > 0 else { return nil }
        let budgets = rateBudgetsLocked()
        for (queue, budget) in budgets.queues { slots[queue] = min(slots[queue] ?? DaemonConfig.defaultQueueConcurrency, budget) }
        return ClaimRequest(maxJobs: max(free, 0), slotsPerQueue: slots, slotsForOtherQueues: DaemonConfig.defaultQueueConcurrency,
                            ahead: ahead, handlerBudgets: budgets.handlers, startOnlyQueues: Set(budgets.queues.keys))
    }

    /// Sets the timer to the earliest `run_at` of a waiting job, the
    /// earliest end of an external lease, or the next schedule tick.
    private func scheduleTimer() async {
        let nextRun: Timestamp?
        do {
            nextRun = try await store.nextWakeTime()
        } catch {
            logger.error("cannot read the next run_at", metadata: ["error": "\(error)"])
            return
        }
        if let expiry = earliestLeaseEnd() {
            // Due already (it ran out since this dispatch began): look again.
            if expiry <= clock() { wake() } else { scheduleWake(at: expiry) }
        }
        if let tick = earliestScheduleTick() {
            if tick <= clock() { wake() } else { scheduleWake(at: tick) }
        }
        wakeForRateWindow()
        guard let next = nextRun else { return }
        if next <= clock() {
            // Due, but the claim did not take it: no free slot, or it fell due
            // after the read that decided there was nothing to claim. Promote
            // it so that stats show it queued, and look again: with no wake-up
            // here, a job due in that instant stayed queued until something
            // else woke the dispatcher (a loaded machine widens the instant).
            // Nothing promoted means somebody else took it, and woke us.
            if let promoted = try? await store.promoteDue(), promoted > 0 { wake() }
            return
        }
        scheduleWake(at: next)
    }

    func scheduleWake(at due: Timestamp) {
        lock.lock()
        defer { lock.unlock() }
        // A pending timer no later than this one will wake the dispatcher (a
        // fired one is nil): keep it.
        if let timer, timer.due <= due { return }
        timer?.task.cancel()
        let delay = max(due.milliseconds(since: clock()), 0) + 1
        nextTimerToken += 1
        let token = nextTimerToken
        let task = Task { [self] in
            try? await Task.sleep(for: .milliseconds(delay))
            guard !Task.isCancelled else { return }
            // Fired: it must not stand for a pending one. The sleep runs on
            // the monotonic clock, run_at is wall time: after a step back of
            // the wall clock the job is not due yet, and the next dispatch
            // must be able to set a new timer for it.
            lock.withLock { if timer?.token == token { timer = nil } }
            wake()
        }
        timer = (due, token, task)
    }

    /// Waits until no claim is under way and keeps others from starting,
    /// until `endClaim()`.
    func holdClaims() async {
        while true {
            let held = lock.withLock {
                if claimInFlight { return false }
                claimInFlight = true
                return true
            }
            if held { return }
            try? await Task.sleep(for: .milliseconds(1))
        }
    }

    /// Ends a claim; true when the dispatcher was turned away meanwhile
    /// and must be woken. A reserve pass that waited for it runs now.
    func endClaim() -> Bool {
        let (turnedAway, passWanted) = lock.withLock {
            claimInFlight = false
            defer { dispatcherTurnedAway = false }
            return (dispatcherTurnedAway, reservePassWanted && !reservePassInFlight)
        }
        if passWanted { runReservePass() }
        return turnedAway
    }

    /// Takes the claim for a reserve pass: no claim of the daemon's own
    /// counts the free slots meanwhile. False when one is under way (the
    /// pass is then wanted, and runs when it ends).
    func beginReservePass() -> Bool {
        lock.withLock {
            guard !claimInFlight, !reservePassInFlight else {
                reservePassWanted = true
                return false
            }
            claimInFlight = true
            reservePassInFlight = true
            reservePassWanted = false
            return true
        }
    }

    // MARK: - Running jobs

    /// Starts what a claim marked to start now, keeps the jobs claimed ahead.
    func accept(_ claimed: [Job]) {
        let ahead = claimed.filter { $0.startedAt == nil }
        if !ahead.isEmpty { lock.withLock { claimedAhead += ahead } }
        for job in claimed where job.startedAt != nil { launch(job) }
        startClaimedAhead()
        wakeForRateWindow()
    }

    /// Starts jobs claimed ahead while a worker and their queue's slot are free.
    func startClaimedAhead() {
        while let job = lock.withLock({ takeClaimedAheadLocked() }) {
            store.recordStart(job.id, attempt: job.attempts, at: job.startedAt!)
            run(job)
        }
    }

    /// The first job claimed ahead that may start now, its slot taken.
    private func takeClaimedAheadLocked() -> Job? {
        guard !stopping, busyTotal < currentConfig.workers,
              let index = claimedAhead.firstIndex(where: {
                  (busyPerQueue[$0.queue] ?? 0) + (leasesPerQueue[$0.queue] ?? 0) < currentConfig.concurrency(of: $0.queue)
              })
        else { return nil }
        var job = claimedAhead.remove(at: index)
        job.startedAt = clock()
        takeSlotLocked(job)
        return job
    }

    /// Takes jobs claimed ahead out of the engine (of `queue`, or all):
    /// the caller puts them back in the store.
    func removeClaimedAhead(queue: String?) -> [Job] {
        lock.withLock {
            let removed = claimedAhead.filter { queue == nil || $0.queue == queue }
            claimedAhead.removeAll { queue == nil || $0.queue == queue }
            return removed
        }
    }

    private func takeSlotLocked(_ job: Job) {
        recordRateStartLocked(job)
        busyTotal += 1
        busyPerQueue[job.queue, default: 0] += 1
        running[job.id] = RunningJob(job: job, handle: CommandHandle())
    }

    func launch(_ job: Job) {
        lock.withLock { takeSlotLocked(job) }
        run(job)
    }

    /// Runs a job whose slot is taken.
    private func run(_ job: Job) {
        lock.lock()
        let handle = running[job.id]!.handle
        let handler = currentConfig.handler(named: job.handler)
        let executor = JobExecutor(maxResultBytes: currentConfig.limits.maxResultBytes, logger: logger, clock: clock)
        lock.unlock()
        let started = DispatchTime.now().uptimeNanoseconds
        logger.debug("job started", metadata: ["job": "\(job.id)", "handler": "\(job.handler)", "attempt": "\(job.attempts)"])

        Failpoint.afterClaim.hit()
        let task = Task { [self] in
            let outcome: AttemptOutcome
            if let handler {
                outcome = await executor.run(job, handler: handler, handle: handle)
            } else {
                outcome = .failed(JobFailure(message: "unknown handler \"\(job.handler)\"", at: clock()), permanent: true)
            }
            finish(job, outcome, ranNanos: DispatchTime.now().uptimeNanoseconds - started)
        }
        lock.lock()
        running[job.id]?.task = task
        lock.unlock()
    }

    /// The handler is done. Its end is written without a task waiting for
    /// it: the rest (`ended`) runs on the store's writer thread after the
    /// commit, which saves waking a task per job.
    private func finish(_ job: Job, _ outcome: AttemptOutcome, ranNanos: UInt64) {
        Failpoint.afterHandler.hit()
        // The handler is done, so its slot is free now: a job claimed ahead
        // takes it at once, or the claim that fills it can share a
        // transaction with this job's end.
        let (abandoned, delay, awaited) = lock.withLock {
            busyTotal -= 1
            busyPerQueue[job.queue, default: 1] -= 1
            if busyPerQueue[job.queue] == 0 { busyPerQueue[job.queue] = nil }
            let ran = Double(ranNanos)
            averageRunNanos = averageRunNanos.isFinite ? averageRunNanos + (ran - averageRunNanos) / 8 : ran
            let policy = currentConfig.handler(named: job.handler)?.backoff ?? .default
            let awaited = waiters[job.id] != nil
            if !awaited { deferredEnds.insert(job.id) }
            return (running[job.id]?.abandoned ?? false, policy.delayMs(afterAttempt: job.attempts, using: &random), awaited)
        }
        if abandoned {
            ended(job, outcome, awaited: awaited, .success(nil))
            return
        }
        startClaimedAhead()
        wake()
        // Nobody waits for this job: its end may share the next
        // transaction (most often the claim that fills the freed slot,
        // or a client's enqueue) instead of paying an fsync alone. A
        // waiter that comes later expedites it (`wait(for:)`).
        let deferrable = !awaited
        switch outcome {
        case .succeeded(let result, let truncated):
            store.complete(job.id, attempt: job.attempts, result: result, resultTruncated: truncated, deferrable: deferrable) {
                [self] in ended(job, outcome, awaited: awaited, $0)
            }
        case .failed(let failure, let permanent):
            store.fail(job.id, attempt: job.attempts, failure: failure, disposition: permanent ? .permanent : .retry(afterMs: delay),
                       deferrable: deferrable) { [self] in ended(job, outcome, awaited: awaited, $0) }
        }
    }

    /// A job's end is written (or was not to be: abandoned, `nil`).
    private func ended(_ job: Job, _ outcome: AttemptOutcome, awaited: Bool, _ written: Result<Job?, StoreError>) {
        if case .failure(let error) = written {
            // The job stays `running` in the database; the next start recovers it.
            logger.error("cannot record the end of a job", metadata: ["job": "\(job.id)", "error": "\(error)"])
        }
        lock.withLock {
            if !awaited { deferredEnds.remove(job.id) }
            running[job.id] = nil
        }
        guard case .success(let final?) = written else { return }
        logger.debug("job attempt ended", metadata: ["job": "\(job.id)", "state": "\(final.state)"])
        // Terminal: tell the waiters. Queued or retrying again: the
        // dispatcher must see it (and set its timer).
        if final.state.isTerminal { notifyWaiters(final) } else { wake() }
        if case .failed(let failure, _) = outcome, final.state == .failed {
            logger.warning("job failed", metadata: ["job": "\(job.id)", "handler": "\(job.handler)", "error": "\(failure.message)"])
        }
    }

    /// Stops the handler of a running job (cancel): SIGTERM to its process
    /// group, SIGKILL 10 s later; a builtin's task is cancelled.
    func stopRunning(_ id: JobID) {
        lock.lock()
        let entry = running[id]
        claimedAhead.removeAll { $0.id == id }  // cancelled before it started
        dropLeaseLocked(id)  // an external job: its worker's next call gets 1007
        lock.unlock()
        entry?.handle.cancel()
        entry?.task?.cancel()
    }

    // MARK: - Shutdown

    /// SIGTERM: no new work (the server answers 1006), running jobs get
    /// `shutdown_grace` to finish, the rest are stopped and left for the next
    /// start to retry.
    public func shutdown() async {
        let grace = lock.withLock {
            stopping = true
            timer?.task.cancel()
            return currentConfig.shutdownGraceMs
        }
        refuseReserveCalls()
        wakeupSender.finish()
        reserverWakeupSender.finish()

        let deadline = ContinuousClock.now + .milliseconds(grace)
        while lock.withLock({ !running.isEmpty }) && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        let (stopped, background) = lock.withLock {
            for id in running.keys { running[id]?.abandoned = true }
            return (running.values.map { ($0.handle, $0.task) }, tasks)
        }
        if !stopped.isEmpty { logger.notice("stopping jobs still running after shutdown_grace", metadata: ["count": "\(stopped.count)"]) }
        for (handle, task) in stopped {
            handle.cancel()
            task?.cancel()
        }
        for (_, task) in stopped { await task?.value }
        for task in background { task.cancel() }
        // Claimed ahead and never started: back to queued, as they were. (A
        // claim still under way now leaves its jobs to the next start, which
        // does the same.)
        let unstarted = removeClaimedAhead(queue: nil)
        do {
            try await store.releaseUnstarted(unstarted.map { ($0.id, $0.attempts) })
        } catch {
            logger.error("cannot put back jobs claimed ahead", metadata: ["count": "\(unstarted.count)", "error": "\(error)"])
        }
        resolveAllWaiters()
    }

    var runningCount: Int {
        lock.lock(); defer { lock.unlock() }
        return busyTotal
    }
}
