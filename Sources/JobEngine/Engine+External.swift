import Foundation
import JobCore
import JobStore

/// Who made a call: the connection, and its peer from `SO_PEERCRED`.
public struct Caller: Sendable, Hashable {
    public var connection: UInt64
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32

    public init(connection: UInt64, pid: Int32, uid: UInt32, gid: UInt32) {
        self.connection = connection
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }
}

/// A connection that has called `reserve`, for `workers` and `jobctl workers`.
public struct ConnectedWorker: Sendable, Hashable {
    public var name: String?
    public var caller: Caller
    public var connectedAt: Timestamp
    public var lastHeartbeatAt: Timestamp?
    /// Filled in by `connectedWorkersNow()`: the leases this connection reserved.
    public var jobsHeld = 0
}

/// The engine's copy of one external lease (the database has the same; this
/// one sets the timer and counts the queue's slot).
struct ExternalLease {
    var queue: String
    var handler: String
    var token: String
    var expiresAt: Timestamp
    /// The end of the attempt's `timeout`: no heartbeat extends past it.
    var deadline: Timestamp
    var timeoutMs: Int64
    var attempt: Int
    /// The connection that reserved it (nil for a lease of an earlier run).
    var connection: UInt64?
}

/// One `reserve` call until it is answered.
final class ReserveCall: @unchecked Sendable {
    let reservation: Reservation
    let caller: Caller?
    let completion: @Sendable (Result<[Job], StoreError>) -> Void
    /// Guarded by the engine's lock:
    var inPass = false
    /// Its `wait_ms` ran out (or it never had one): answer at the end of the pass.
    var timeUp: Bool
    /// It has been through a pass and found nothing: only a wake-up can help it.
    var waited = false
    var timeout: Task<Void, Never>?

    init(_ reservation: Reservation, waits: Bool, caller: Caller?, completion: @escaping @Sendable (Result<[Job], StoreError>) -> Void) {
        self.reservation = reservation
        self.caller = caller
        self.timeUp = !waits
        self.completion = completion
    }
}

/// Why an external worker's call was refused.
public enum LeaseCallError: Error, Sendable {
    case store(StoreError)
    case leaseLost(LeaseLost)
}

extension Engine {
    /// The engine's clock now (the time a worker's failure is recorded at).
    public var now: Timestamp { clock() }

    // MARK: - reserve

    /// Reserves up to `reservation.maxJobs` ready jobs of its handlers; with
    /// `waitMs` > 0 waits for them until that time passes. Woken by
    /// wake-ups (enqueues, ends, the timer), never by polling. Calls are
    /// served oldest first, many in one transaction.
    public func reserve(_ reservation: Reservation, waitMs: Int64, caller: Caller?,
                        completion: @escaping @Sendable (Result<[Job], StoreError>) -> Void) {
        let call = ReserveCall(reservation, waits: waitMs > 0, caller: caller, completion: completion)
        // Set before any pass can answer the call (which cancels it).
        if waitMs > 0 {
            call.timeout = Task { [self] in
                try? await Task.sleep(for: .milliseconds(waitMs))
                guard !Task.isCancelled else { return }
                timeUp(call)
            }
        }
        let refused = lock.withLock {
            if stopping { return true }
            if let caller { noteWorkerLocked(caller, name: reservation.worker) }
            reserveCalls.append(call)
            return false
        }
        if refused {
            call.timeout?.cancel()
            return completion(.failure(.closed))
        }
        runReservePass()
    }

    /// A waiting call's time is up: answered with no job now, or at the
    /// end of the pass it is in (which may still give it jobs).
    private func timeUp(_ call: ReserveCall) {
        let answerNow = lock.withLock {
            call.timeUp = true
            guard !call.inPass, let index = reserveCalls.firstIndex(where: { $0 === call }) else { return false }
            reserveCalls.remove(at: index)
            return true
        }
        if answerNow { call.completion(.success([])) }
    }

    /// After a wake-up: serves the waiting calls if a job may be there for
    /// them (a read first: most wake-ups bring nothing for them).
    func serveWaitingReservers() async {
        let handlers = lock.withLock { Set(reserveCalls.filter { !$0.inPass }.flatMap(\.reservation.handlers)) }
        guard !handlers.isEmpty else { return }
        let mayReserve = (try? await store.mayReserve(handlers: handlers, now: clock()) { [self] queue in
            lock.withLock { freeExternalSlotsLocked(queue) }
        }) ?? true
        guard mayReserve else { return }
        lock.withLock { for call in reserveCalls { call.waited = false } }
        runReservePass()
    }

    /// One transaction for every call not yet answered, oldest first.
    func runReservePass() {
        guard beginReservePass() else { return }
        let calls: [ReserveCall] = lock.withLock {
            // Calls that found nothing wait for a wake-up, not for the next pass.
            let due = reserveCalls.filter { !$0.waited }
            for call in due { call.inPass = true }
            return due
        }
        guard !calls.isEmpty else {
            lock.withLock { reservePassInFlight = false }
            if endClaim() { wake() }
            return
        }
        let config = self.config
        let registered = ReservedBox()
        store.reserve(calls.map(\.reservation),
                      freeSlots: { [self] queue in lock.withLock { freeExternalSlotsLocked(queue) } },
                      startsLeft: { [self] handler in lock.withLock { rateBudgetLocked(.handler(handler), now: clock()) } },
                      leaseMs: { config.handler(named: $0)?.leaseMs ?? HandlerConfig.defaultLeaseMs },
                      token: Self.newToken,
                      reserved: { [self] jobs in
                          registered.jobs = jobs
                          lock.withLock {
                              for job in jobs {
                                  addLeaseLocked(job, connection: nil)
                                  recordRateStartLocked(job)
                              }
                          }
                      }) { [self] result in
            finishPass(calls, result, registered: registered.jobs)
        }
    }

    private func finishPass(_ calls: [ReserveCall], _ result: Result<[[Job]], StoreError>, registered: [Job]) {
        var answers: [(ReserveCall, Result<[Job], StoreError>)] = []
        lock.withLock {
            switch result {
            case .success(let reserved):
                for (call, jobs) in zip(calls, reserved) {
                    call.inPass = false
                    for job in jobs { leases[job.id]?.connection = call.caller?.connection }
                    if !jobs.isEmpty || call.timeUp || stopping {
                        answers.append((call, .success(jobs)))
                    } else {
                        call.waited = true
                    }
                }
            case .failure(let error):
                for job in registered { dropLeaseLocked(job.id) }
                for call in calls {
                    call.inPass = false
                    answers.append((call, .failure(error)))
                }
            }
            let answered = Set(answers.map { ObjectIdentifier($0.0) })
            reserveCalls.removeAll { answered.contains(ObjectIdentifier($0)) }
            reservePassInFlight = false
        }
        // The new leases' ends: the dispatcher expires them (within 1 s of
        // their time: the timer wakes it 1 ms after).
        if case .success(let reserved) = result, let first = reserved.joined().compactMap(\.lease?.expiresAt).min() {
            scheduleWake(at: first)
        }
        wakeForRateWindow()  // calls that found the rate used up wait for the window's end
        for (call, answer) in answers {
            call.timeout?.cancel()
            call.completion(answer)
        }
        // Calls that came meanwhile run in the next pass (endClaim starts it).
        if lock.withLock({ reserveCalls.contains { !$0.waited } }) { lock.withLock { reservePassWanted = true } }
        if endClaim() { wake() }
    }

    /// SIGTERM: every waiting `reserve` gets 1006.
    func refuseReserveCalls() {
        let calls = lock.withLock {
            let waiting = reserveCalls.filter { !$0.inPass }
            reserveCalls.removeAll { !$0.inPass }
            return waiting
        }
        for call in calls {
            call.timeout?.cancel()
            call.completion(.failure(.closed))
        }
    }

    /// The connection closed: its waiting calls go (nobody reads their
    /// answer) and it is no longer listed. Its leases run on.
    public func connectionClosed(_ connection: UInt64) {
        let calls = lock.withLock {
            connectedWorkers[connection] = nil
            let gone = reserveCalls.filter { $0.caller?.connection == connection && !$0.inPass }
            reserveCalls.removeAll { $0.caller?.connection == connection && !$0.inPass }
            return gone
        }
        for call in calls { call.timeout?.cancel() }
    }

    /// Free slots of `queue` for external jobs: its concurrency, less its
    /// running jobs, its jobs claimed ahead and its leases.
    func freeExternalSlotsLocked(_ queue: String) -> Int {
        let ahead = claimedAhead.reduce(0) { $0 + ($1.queue == queue ? 1 : 0) }
        let free = currentConfig.concurrency(of: queue) - (busyPerQueue[queue] ?? 0) - ahead - (leasesPerQueue[queue] ?? 0)
        return min(free, rateBudgetLocked(.queue(queue), now: clock()) ?? free)
    }

    /// A new fencing token: 128 random bits, hex.
    @Sendable static func newToken() -> String {
        var random = SystemRandomNumberGenerator()
        return String(format: "%016llx%016llx", random.next() as UInt64, random.next() as UInt64)
    }

    // MARK: - heartbeat, complete, fail

    /// Extends a lease; `progress` is stored. 1007 when `token` does not
    /// hold the job. `completion` runs on the store's writer thread.
    public func heartbeat(_ id: JobID, token: String, leaseMs: Int64?, progress: RawJSON?, caller: Caller?,
                          completion: @escaping @Sendable (Result<HeartbeatOutcome, LeaseCallError>) -> Void) {
        store.heartbeat(id, token: token, leaseMs: leaseMs, progress: progress) { [self] written in
            let outcome = Self.flatten(written)
            if case .success(let beat) = outcome {
                let now = clock()
                lock.withLock {
                    guard leases[id]?.token == token else { return }
                    leases[id]?.expiresAt = beat.expiresAt
                    // The worker is the connection that reserved the job (a
                    // worker may heartbeat on another): its entry shows the beat.
                    let holder = leases[id]?.connection ?? caller?.connection
                    if let holder { connectedWorkers[holder]?.lastHeartbeatAt = now }
                }
            }
            completion(outcome)
        }
    }

    /// `complete` from the holder of `token`: the job is `succeeded`. A
    /// result over `max_result_bytes` is kept as its JSON text, cut, as
    /// for a command's stdout.
    public func complete(_ id: JobID, token: String, result: RawJSON?, completion: @escaping @Sendable (Result<Job, LeaseCallError>) -> Void) {
        let maxBytes = config.limits.maxResultBytes
        var stored = result
        var truncated = false
        if let text = result?.text, text.utf8.count > maxBytes {
            (stored, truncated) = JobExecutor.result(fromStdout: Array(text.utf8.prefix(maxBytes)), truncated: true, maxBytes: maxBytes)
        }
        store.complete(id, token: token, result: stored, resultTruncated: truncated) { [self] in ended(Self.flatten($0), completion) }
    }

    /// `fail` from the holder of `token`: retried after the backoff, or
    /// `failed` (at once with `permanent`, or on the last attempt).
    public func fail(_ id: JobID, token: String, failure: JobFailure, permanent: Bool,
                     completion: @escaping @Sendable (Result<Job, LeaseCallError>) -> Void) {
        let delay = lock.withLock {
            let attempt = leases[id]?.attempt ?? 1
            return (currentConfig.handler(named: leases[id]?.handler ?? "")?.backoff ?? .default).delayMs(afterAttempt: attempt, using: &random)
        }
        store.fail(id, token: token, failure: failure, disposition: permanent ? .permanent : .retry(afterMs: delay)) { [self] in
            ended(Self.flatten($0), completion)
        }
    }

    private func ended(_ outcome: Result<Job, LeaseCallError>, _ completion: @Sendable (Result<Job, LeaseCallError>) -> Void) {
        if case .success(let job) = outcome { externalAttemptEnded(job) }
        completion(outcome)
    }

    private static func flatten<T>(_ written: Result<Result<T, LeaseLost>, StoreError>) -> Result<T, LeaseCallError> {
        switch written {
        case .failure(let error): .failure(.store(error))
        case .success(.failure(let lost)): .failure(.leaseLost(lost))
        case .success(.success(let value)): .success(value)
        }
    }

    /// An external attempt ended in the database: its slot is free. The
    /// dispatcher is woken for a job that waits for a retry (its timer);
    /// for the rest the reserver task looks (`slotsFreed`), many ends at a
    /// time: a drain by workers then costs no dispatch per job.
    private func externalAttemptEnded(_ job: Job) {
        let (wasFull, aheadWaits, reserveWaits) = lock.withLock {
            let wasFull = (busyPerQueue[job.queue] ?? 0) + (leasesPerQueue[job.queue] ?? 0) >= currentConfig.concurrency(of: job.queue)
            dropLeaseLocked(job.id)
            if wasFull { freedFullQueues.insert(job.queue) }
            return (wasFull, wasFull && claimedAhead.contains { $0.queue == job.queue }, !reserveCalls.isEmpty)
        }
        // A job claimed ahead may have waited for this slot: it starts now.
        if aheadWaits { startClaimedAhead() }
        if job.state.isTerminal { notifyWaiters(job) }
        if !job.state.isTerminal {
            wake()
        } else if wasFull || reserveWaits {
            reserverWakeupSender.yield()
        }
    }

    // MARK: - Leases in memory

    func addLeaseLocked(_ job: Job, connection: UInt64?) {
        guard let lease = job.lease, let started = job.startedAt else { return }
        if leases[job.id] == nil { leasesPerQueue[job.queue, default: 0] += 1 }
        leases[job.id] = ExternalLease(queue: job.queue, handler: job.handler, token: lease.token, expiresAt: lease.expiresAt,
                                       deadline: started.adding(milliseconds: job.timeoutMs), timeoutMs: job.timeoutMs,
                                       attempt: job.attempts, connection: connection)
    }

    func dropLeaseLocked(_ id: JobID) {
        guard let lease = leases.removeValue(forKey: id) else { return }
        leasesPerQueue[lease.queue, default: 1] -= 1
        if leasesPerQueue[lease.queue] == 0 { leasesPerQueue[lease.queue] = nil }
    }

    /// External ends freed slots (the reserver task, off the writer thread):
    /// the daemon's own ready jobs of a queue that was full get the
    /// dispatcher, waiting `reserve` calls a pass.
    func slotsFreed() async {
        let queues = lock.withLock {
            defer { freedFullQueues = [] }
            return freedFullQueues
        }
        if !queues.isEmpty, ((try? await store.queuesWithOwnReadyJobs(among: queues)) ?? queues).isEmpty == false { wake() }
        await serveWaitingReservers()
    }

    /// When the next lease runs out.
    func earliestLeaseEnd() -> Timestamp? {
        lock.withLock { leases.values.map(\.expiresAt).min() }
    }

    /// At start-up: the leases an earlier run granted run on.
    public func loadLeases() async throws(StoreError) {
        let held = try await store.heldLeases()
        lock.withLock { for job in held { addLeaseLocked(job, connection: nil) } }
        if !held.isEmpty { logger.notice("external leases survive the restart", metadata: ["count": "\(held.count)"]) }
    }

    /// Marks the unstarted jobs of the config's external handlers external, and the others not.
    public func applyExternalHandlers() async throws(StoreError) {
        let names = config.handlers.filter { $0.value.kind == .external }.map(\.key).sorted()
        let changed = try await store.setExternalHandlers(names)
        if changed > 0 { logger.notice("jobs changed hands with the config (external or not)", metadata: ["count": "\(changed)"]) }
    }

    /// Leases that ran out (no heartbeat in time, or the attempt's timeout)
    /// become failed attempts, retried with backoff or failed.
    func expireLeases() async {
        let now = clock()
        let due: [(JobID, ExternalLease, Int64)] = lock.withLock {
            leases.filter { $0.value.expiresAt <= now }.map { id, lease in
                let policy = currentConfig.handler(named: lease.handler)?.backoff ?? .default
                return (id, lease, policy.delayMs(afterAttempt: lease.attempt, using: &random))
            }
        }
        guard !due.isEmpty else { return }
        await withTaskGroup(of: Void.self) { group in
            for (id, lease, delay) in due {
                group.addTask { [self] in
                    let message = lease.expiresAt >= lease.deadline ? JobFailure.timeoutMessagePrefix + "\(lease.timeoutMs) ms" : JobFailure.leaseExpiredMessage
                    do {
                        if let job = try await store.expire(id, token: lease.token, failure: JobFailure(message: message, at: now),
                                                            retryAfterMs: delay) {
                            logger.info("external lease ran out", metadata: ["job": "\(id)", "reason": "\(message)", "state": "\(job.state)"])
                            externalAttemptEnded(job)
                        } else {
                            await reconcileLease(id, token: lease.token)
                        }
                    } catch {
                        logger.error("cannot expire a lease", metadata: ["job": "\(id)", "error": "\(error)"])
                    }
                }
            }
        }
    }

    /// The database did not expire the lease: a heartbeat extended it, or
    /// the job ended. Takes the database's view.
    private func reconcileLease(_ id: JobID, token: String) async {
        let job = try? await store.get(id)
        lock.withLock {
            guard leases[id]?.token == token else { return }
            if let job, job.state == .running, let lease = job.lease, lease.token == token {
                leases[id]?.expiresAt = lease.expiresAt
            } else {
                dropLeaseLocked(id)
            }
        }
    }

    // MARK: - Workers

    private func noteWorkerLocked(_ caller: Caller, name: String?) {
        if connectedWorkers[caller.connection] == nil {
            connectedWorkers[caller.connection] = ConnectedWorker(name: name, caller: caller, connectedAt: clock())
        } else if let name {
            connectedWorkers[caller.connection]?.name = name
        }
    }

    /// The connections that called `reserve`, with the leases each holds.
    public func connectedWorkersNow() -> [ConnectedWorker] {
        lock.withLock {
            var held: [UInt64: Int] = [:]
            for lease in leases.values { if let c = lease.connection { held[c, default: 0] += 1 } }
            return connectedWorkers.values.map { worker in
                var w = worker
                w.jobsHeld = held[worker.caller.connection] ?? 0
                return w
            }.sorted { $0.connectedAt == $1.connectedAt ? $0.caller.connection < $1.caller.connection : $0.connectedAt < $1.connectedAt }
        }
    }
}

/// The jobs a reserve pass registered, kept for undoing them if the commit fails.
private final class ReservedBox: @unchecked Sendable {
    var jobs: [Job] = []
}
