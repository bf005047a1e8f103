import Foundation
import JobCore
import JobStore
import Logging
import NIOSSL
import PostgresNIO

/// The node's lease, the leader, rescue of dead nodes' jobs, and wake-ups
/// between nodes (CLUSTER.md, "Semantics across nodes").
extension PostgresStore {
    /// How often a node renews its leadership or tries to take a lapsed one.
    var leaderInterval: Duration { .milliseconds(min(2000, max(options.leaseMs / 3, 200))) }
    /// How often a node polls for work when no notification comes (CLUSTER.md: every second).
    static let pollInterval: Duration = .seconds(1)

    /// Whether this node's lease is held now: renewed less than `lease` ago
    /// (by this process's monotonic clock, which no other node's skew moves).
    var leaseHeld: Bool {
        lease.withLock { leaseHeldLocked($0) }
    }

    func leaseHeldLocked(_ state: ClusterState) -> Bool {
        state.renewedAt.map { ContinuousClock.now - $0 < .milliseconds(options.leaseMs) } ?? false
    }

    func registerNode(_ session: PostgresSession) async throws(StoreError) {
        let sent = ContinuousClock.now
        try await session.run("register node", """
            INSERT INTO nodes (name, started_at, renewed_at, expires_at) VALUES ($1, jq_now(), jq_now(), jq_now() + $2)
            ON CONFLICT (name) DO UPDATE SET started_at = excluded.started_at, renewed_at = excluded.renewed_at,
                                             expires_at = excluded.expires_at
            RETURNING 1
            """, [.text(options.nodeName), .int(options.leaseMs)])
        lease.withLock { $0.renewedAt = sent }
    }

    func setRescueDelay(_ delay: @escaping @Sendable (Job) -> Int64) {
        lease.withLock { $0.rescueDelay = delay }
    }

    func startBackground() {
        let tasks = [
            Task { [weak self] () async -> Void in await self?.renewForever() },
            Task { [weak self] () async -> Void in await self?.leadForever() },
            Task { [weak self] () async -> Void in await self?.pollForever() },
        ] + (options.notify ? [Task { [weak self] () async -> Void in await self?.listenForever() }] : [])
        lease.withLock { $0.tasks = tasks }
    }

    func stopBackground() {
        lease.withLock { $0.tasks }.forEach { $0.cancel() }
    }

    /// Every lease / 3: one statement renews the node's lease, and with it
    /// the lease of every job it runs. A renewal that fails leaves the old
    /// one to run out: the node stops claiming then (`leaseHeld`).
    private func renewForever() async {
        let interval = Duration.milliseconds(max(options.leaseMs / 3, 100))
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            let sent = ContinuousClock.now
            do {
                // Within the renewal interval, whatever request_timeout says: a renewal that cannot get through is a lost lease.
                let renewed = try await withSession("renew lease", deadline: .milliseconds(max(options.leaseMs / 2, 1000))) { [options] session throws(StoreError) in
                    try await session.run("renew lease", """
                        UPDATE nodes SET renewed_at = jq_now(), expires_at = jq_now() + $2 WHERE name = $1 RETURNING 1
                        """, [.text(options.nodeName), .int(options.leaseMs)])
                }
                if renewed == 0 {
                    // The row went (an operator deleted it): register again.
                    try await withSession("register node") { session throws(StoreError) in try await self.registerNode(session) }
                } else {
                    let lost = !leaseHeld
                    lease.withLock { $0.renewedAt = sent }
                    if lost { logger.notice("node lease renewed again", metadata: ["node": "\(options.nodeName)"]) }
                }
            } catch {
                logger.warning("cannot renew the node lease", metadata: ["node": "\(options.nodeName)", "error": "\(error)"])
            }
            // Gone (no renewal for a whole lease): once, the handlers stop.
            let lostNow = lease.withLock { state in
                defer { state.lossReported = !self.leaseHeldLocked(state) }
                return !state.lossReported && !self.leaseHeldLocked(state)
            }
            if lostNow {
                var settled = SettledJobs()
                settled.leaseLost = true
                onSettled?(settled)
            }
        }
    }

    /// At once, then every couple of seconds: take or keep the leader's row;
    /// as leader, rescue the running jobs of nodes whose lease ran out.
    /// (Schedules: the engine fires them while `leaderTerm` is set.)
    private func leadForever() async {
        var first = true
        while !Task.isCancelled {
            if !first { try? await Task.sleep(for: leaderInterval) }
            first = false
            do {
                guard let term = try await takeLeadership() else { continue }
                let rescued = try await rescueExpired()
                if !rescued.isEmpty {
                    logger.notice("rescued the jobs of a node whose lease ran out",
                                  metadata: ["count": "\(rescued.count)", "term": "\(term)"])
                    onSettled?(SettledJobs())
                }
            } catch .closed {
                return  // the node is stopping: a pass that was under way when the writer closed
            } catch {
                logger.warning("leader duties failed", metadata: ["node": "\(options.nodeName)", "error": "\(error)"])
            }
        }
    }

    /// The leader's term if this node leads now (it took a lapsed row, or
    /// renewed its own). The leader's row lasts one node lease: a dead
    /// leader's successor is in place by the time the dead node's jobs are
    /// due for rescue (lease + one leader interval, within CLUSTER.md's lease + 5 s).
    func takeLeadership() async throws(StoreError) -> Int64? {
        let node = options.nodeName
        let led = try await withSession("leader") { session throws(StoreError) in
            try await session.firstRow("leader", """
                INSERT INTO leader (id, node, term, expires_at) VALUES (1, $1, 1, jq_now() + $2)
                ON CONFLICT (id) DO UPDATE
                    SET node = excluded.node, expires_at = excluded.expires_at,
                        term = CASE WHEN leader.node = excluded.node THEN leader.term ELSE leader.term + 1 END
                    WHERE leader.node = excluded.node OR leader.expires_at < jq_now()
                RETURNING term
                """, [.text(node), .int(self.options.leaseMs)]) { try $0[0].decode(Int64.self) }
        }
        let was = lease.withLock { state in
            defer { state.leaderTerm = led }
            return state.leaderTerm
        }
        if let led, led != was { logger.notice("this node leads the cluster", metadata: ["node": "\(node)", "term": "\(led)"]) }
        return led
    }

    /// Running jobs whose node's lease ran out (or whose node is gone):
    /// interrupted attempts, retried with their handler's backoff. An
    /// external worker's job waits for its own lease as well (the worker may
    /// go on through another node with its token), then is a lease that ran
    /// out. Each end is guarded by the dead node's name and the attempt, so
    /// a job that ended meanwhile is left as it is.
    func rescueExpired() async throws(StoreError) -> [Job] {
        let delay = lease.withLock { $0.rescueDelay } ?? { _ in 0 }
        return try await perform { tx throws(StoreError) in
            let orphans = try await tx.session.jobs("rescue", """
                SELECT \(PostgresJobRow.columns) FROM jobs
                WHERE state = 'running' AND (lease_token IS NULL OR lease_expires_at <= jq_now())
                  AND NOT EXISTS (SELECT 1 FROM nodes WHERE nodes.name = jobs.lease_owner AND nodes.expires_at > jq_now())
                ORDER BY id LIMIT 500 FOR UPDATE SKIP LOCKED
                """)
            return try await tx.recover(orphans, retryDelayMs: delay)
        }
    }

    /// A wake-up every second: jobs enqueued on other nodes, retries that
    /// fell due, jobs rescued elsewhere. With LISTEN working it finds little;
    /// with `notify: false` it is how work arrives.
    private func pollForever() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: Self.pollInterval)
            // `polled`: the engine looks again at the jobs it has waiters for
            // (they may have ended on another node with no notification).
            var settled = SettledJobs()
            settled.polled = true
            onSettled?(settled)
        }
    }

    // MARK: - LISTEN / NOTIFY

    /// After a commit (never in it: a NOTIFY in a transaction takes a lock
    /// that serializes every commit of the server): the wake-ups gather while
    /// one sender runs, so that they take at most one pooled connection.
    func committed(ready: Set<String>, finished: [JobID]) {
        guard !ready.isEmpty || !finished.isEmpty else { return }
        let start = lease.withLock { state in
            state.unsentReady.formUnion(ready)
            state.unsentFinished += finished
            defer { state.sending = true }
            return !state.sending
        }
        guard start else { return }
        Task {
            while true {
                let (ready, finished): (Set<String>, [JobID]) = lease.withLock { state in
                    defer { state.unsentReady = []; state.unsentFinished = [] }
                    if state.unsentReady.isEmpty && state.unsentFinished.isEmpty { state.sending = false }
                    return (state.unsentReady, state.unsentFinished)
                }
                if ready.isEmpty && finished.isEmpty { return }
                _ = try? await withSession("notify") { session throws(StoreError) in
                    await Self.notify(session, ready: ready, finished: finished)
                }
            }
        }
    }

    /// One notification per queue that got ready jobs, and one listing the
    /// jobs that ended (split to fit NOTIFY's 8000 bytes).
    static func notify(_ session: PostgresSession, ready: Set<String>, finished: [JobID]) async {
        var payloads = ready.sorted().map { ("jq_ready", $0) }
        var chunk: [String] = []
        for id in finished {
            chunk.append(String(id.rawValue))
            if chunk.count == 500 {
                payloads.append(("jq_done", chunk.joined(separator: ",")))
                chunk = []
            }
        }
        if !chunk.isEmpty { payloads.append(("jq_done", chunk.joined(separator: ","))) }
        guard !payloads.isEmpty else { return }
        _ = try? await session.run("notify", """
            SELECT pg_notify(c, m) FROM unnest(string_to_array($1, chr(31)), string_to_array($2, chr(31))) AS n (c, m)
            """, [.text(payloads.map(\.0).joined(separator: "\u{1f}")), .text(payloads.map(\.1).joined(separator: "\u{1f}"))])
    }

    /// A connection of its own that listens, with a heartbeat every 10 s:
    /// a listener that died silently would leave jobs waiting (Oban#493).
    /// While it is down the poll goes on.
    private func listenForever() async {
        while !Task.isCancelled {
            do {
                let configuration = try options.connectionConfiguration()
                let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
                logger.debug("listening for other nodes' wake-ups", metadata: ["node": "\(options.nodeName)"])
                do {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask { [weak self] in
                            try await connection.listen(on: "jq_ready") { notes in
                                for try await _ in notes { self?.onSettled?(SettledJobs()) }
                            }
                        }
                        group.addTask { [weak self] in
                            try await connection.listen(on: "jq_done") { notes in
                                for try await note in notes { self?.jobsEnded(note.payload) }
                            }
                        }
                        group.addTask { [logger] in
                            while true {
                                try await Task.sleep(for: .seconds(10))
                                _ = try await Self.withDeadline(.seconds(5), operation: "listener heartbeat") { _ in
                                    try await connection.query("SELECT 1", logger: logger)
                                }
                            }
                        }
                        _ = try await group.next()
                        group.cancelAll()
                    }
                } catch {
                    logger.warning("the listening connection failed; polling every second until it is back", metadata: ["error": "\(error)"])
                }
                try? await connection.close()
            } catch {
                logger.debug("cannot listen", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// `jq_done`: ids of jobs that ended on some node; the engine wakes their waiters here.
    private func jobsEnded(_ payload: String) {
        var settled = SettledJobs()
        settled.endedElsewhere = payload.split(separator: ",").compactMap { Int64($0) }.map { JobID($0) }
        if !settled.endedElsewhere.isEmpty { onSettled?(settled) }
    }
}

extension PostgresOptions {
    /// The configuration of one connection outside the pool (the listener,
    /// the probe at start): the pool's.
    func connectionConfiguration() throws(StoreError) -> PostgresConnection.Configuration {
        let pool = try clientConfiguration()
        var tls = PostgresConnection.Configuration.TLS.disable
        if let parts = URLComponents(string: url), let (settings, required) = try tlsSettings(parts) {
            do {
                let context = try NIOSSLContext(configuration: settings)
                tls = required ? .require(context) : .prefer(context)
            } catch {
                throw .cannotOpen(path: redactedURL, message: "TLS settings: \(error)")
            }
        }
        var configuration = PostgresConnection.Configuration(host: pool.host ?? "127.0.0.1", port: pool.port ?? 5432, username: pool.username,
                                                             password: pool.password, database: pool.database, tls: tls)
        configuration.options.connectTimeout = .seconds(5)
        // The same session settings as the pool's (a probe at start must meet what the pool will).
        configuration.options.additionalStartupParameters = pool.options.additionalStartupParameters
        return configuration
    }
}
