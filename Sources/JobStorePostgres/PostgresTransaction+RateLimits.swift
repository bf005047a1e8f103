import JobCore
import JobStore

/// Rate limits across the cluster (CLUSTER.md: `rate_limit` is
/// cluster-wide). Each limited handler or queue has one `rate_windows` row
/// with its latest starts; a claim or reserve pass locks the rows, takes no
/// more than they allow, and adds its own starts before it commits. The
/// engine's own per-node windows still apply too.
struct RateWindows {
    let limits: [String: SharedRateLimit]
    var starts: [String: [Int64]]
    let now: Int64

    /// Starts left in the window ending now; nil for a key with no limit.
    func budget(_ key: String) -> Int? {
        guard let limit = limits[key] else { return nil }
        return max(0, limit.count - (starts[key] ?? []).filter { $0 > now - limit.perMs }.count)
    }

    /// The claim request, narrowed to what the cluster's windows allow.
    func narrow(_ request: ClaimRequest) -> ClaimRequest {
        var request = request
        for key in limits.keys {
            guard let budget = budget(key) else { continue }
            if let handler = SharedRateLimit.handler(key) {
                request.handlerBudgets[handler] = min(request.handlerBudgets[handler] ?? budget, budget)
            } else if let queue = SharedRateLimit.queue(key) {
                request.slotsPerQueue[queue] = min(request.slotsPerQueue[queue] ?? request.slotsForOtherQueues ?? request.maxJobs, budget)
                request.startOnlyQueues.insert(queue)
            }
        }
        return request
    }

    mutating func record(_ job: Job) {
        for key in [SharedRateLimit.key(queue: job.queue), SharedRateLimit.key(handler: job.handler)] {
            guard let limit = limits[key] else { continue }
            // The latest `count` are all a later pass needs. (Passes of
            // several nodes may record out of their clock's order.)
            var kept = ((starts[key] ?? []) + [now]).sorted()
            if kept.count > limit.count { kept.removeFirst(kept.count - limit.count) }
            starts[key] = kept
        }
    }
}

extension PostgresTransaction {
    /// Locks the window of every limited key (in key order, so that two
    /// nodes' passes never wait for each other in a circle); nil when no
    /// limit is configured.
    func lockRateWindows() async throws(StoreError) -> RateWindows? {
        guard !rateLimits.isEmpty else { return nil }
        let keys = rateLimits.keys.sorted().joined(separator: "\u{1f}")
        try await session.run("rate limits", """
            INSERT INTO rate_windows (key) SELECT unnest(string_to_array($1, chr(31))) ORDER BY 1 ON CONFLICT DO NOTHING RETURNING 1
            """, [.text(keys)])
        let rows = try await session.rows("rate limits", """
            SELECT key, array_to_string(starts, ',') FROM rate_windows WHERE key = ANY (string_to_array($1, chr(31))) ORDER BY key FOR UPDATE
            """, [.text(keys)]) { row in
            (try row[0].decode(String.self), try row[1].decode(String.self).split(separator: ",").compactMap { Int64($0) })
        }
        return RateWindows(limits: rateLimits, starts: Dictionary(rows) { a, _ in a }, now: try await now().rawValue)
    }

    /// Writes the windows back with this pass's starts.
    func saveRateWindows(_ windows: RateWindows) async throws(StoreError) {
        for (key, starts) in windows.starts.sorted(by: { $0.key < $1.key }) {
            try await session.run("rate limits", """
                UPDATE rate_windows SET starts = string_to_array($2, ',')::bigint[] WHERE key = $1 RETURNING 1
                """, [.text(key), .text(starts.map(String.init).joined(separator: ","))])
        }
    }
}
