import JobCore
import JobEngine
import JobRPC
import JobStore

/// `stats`: counts per queue and state, workers, version, uptime.
/// Answered on the caller's thread when the store's reads are local.
enum StatsMethod: RPCMethod {
    static let name = "stats"

    static func run(_ params: JSONValue?, _ context: MethodContext) async throws(RPCError) -> JSONWriter {
        _ = try NoParams(params)
        return answer(try await storeCall { () async throws(StoreError) in try await context.engine.stats() }, context)
    }

    static func start(_ params: JSONValue?, _ context: MethodContext,
                      reply: @escaping @Sendable (Result<JSONWriter, RPCError>) -> Void) -> Bool {
        let now = Result { () throws(RPCError) -> Engine.Stats? in
            _ = try NoParams(params)
            return try wire(Result { () throws(StoreError) in try context.engine.statsNow() }).get()
        }
        switch now {
        case .success(nil): return false
        case .success(let stats?): reply(.success(answer(stats, context)))
        case .failure(let error): reply(.failure(error))
        }
        return true
    }

    private static func answer(_ stats: Engine.Stats, _ context: MethodContext) -> JSONWriter {
        var w = JSONWriter()
        w.object { o in
            o.member("queues") { w in
                w.object { q in
                    for name in stats.queues.keys.sorted() {
                        let queue = stats.queues[name]!
                        q.member(name) { w in
                            w.object { s in
                                for state in JobState.allCases { s.member(state.rawValue) { $0.integer(queue.counts[state] ?? 0) } }
                                s.member("paused") { $0.bool(queue.paused) }
                                s.member("concurrency") { $0.integer(stats.concurrency[name] ?? DaemonConfig.defaultQueueConcurrency) }
                            }
                        }
                    }
                }
            }
            o.member("workers") { w in
                w.object { k in
                    k.member("busy") { $0.integer(stats.busy) }
                    k.member("total") { $0.integer(stats.workers) }
                }
            }
            o.member("version") { $0.string(context.version) }
            o.member("uptime_ms") { $0.integer(stats.uptimeMs) }
            o.member("storage") { w in
                w.object { k in
                    k.member("commits") { $0.integer(stats.storage.commits) }
                    k.member("writes") { $0.integer(stats.storage.writes) }
                    k.member("wal_bytes") { $0.integer(stats.storage.walBytes) }
                    k.member("page_size") { $0.integer(stats.storage.pageSize) }
                }
            }
        }
        return w
    }
}

/// `pause` / `resume`: persisted per queue.
enum PauseMethod: RPCMethod {
    static let name = "pause"

    static func run(_ params: JSONValue?, _ context: MethodContext) async throws(RPCError) -> JSONWriter {
        let request = try QueueParams(params)
        try await storeCall { () async throws(StoreError) in try await context.engine.pause(queue: request.queue) }
        return queueResult(request.queue, paused: true)
    }
}

enum ResumeMethod: RPCMethod {
    static let name = "resume"

    static func run(_ params: JSONValue?, _ context: MethodContext) async throws(RPCError) -> JSONWriter {
        let request = try QueueParams(params)
        try await storeCall { () async throws(StoreError) in try await context.engine.resume(queue: request.queue) }
        return queueResult(request.queue, paused: false)
    }
}

private func queueResult(_ queue: String, paused: Bool) -> JSONWriter {
    var w = JSONWriter()
    w.object { o in
        o.member("queue") { $0.string(queue) }
        o.member("paused") { $0.bool(paused) }
    }
    return w
}

/// `ping`: version and protocol.
enum PingMethod: ImmediateRPCMethod {
    static let name = "ping"

    static func answer(_ params: JSONValue?, _ context: MethodContext) throws(RPCError) -> JSONWriter {
        _ = try NoParams(params)
        let http = context.listener.value.withLock { $0 }
        var w = JSONWriter()
        w.object { o in
            o.member("version") { $0.string(context.version) }
            o.member("protocol") { $0.integer(1) }
            // The additions to version 1 served (PROTOCOL.md, ping).
            let store = context.engine.store
            let features = store.features + (http == nil ? [] : ["http"])
            o.member("features") { $0.array(features) { w, feature in w.string(feature) } }
            if let node = store.clusterNode {
                o.member("node") { $0.string(node) }
                // CLUSTER.md, "Outages": ping answers and says so.
                o.member("database") { $0.string(store.databaseReachable ? "ok" : "unavailable") }
            }
            if let http {
                o.member("http") { w in
                    w.object { o in
                        o.member("url") { $0.string(http.url) }
                        o.member("token_file") { $0.string(http.tokenFile) }
                    }
                }
            }
        }
        return w
    }
}
