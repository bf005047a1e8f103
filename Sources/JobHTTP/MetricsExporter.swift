import Foundation
import JobCore
import JobEngine
import JobServer
import JobStore
import Metrics
import Prometheus
import Synchronization

/// Renders `/metrics` (OBSERVABILITY.md): the store's and the RPC layer's
/// lock-free counts, read at scrape time, go through swift-metrics into
/// swift-prometheus's registry, which writes the text format. The hot path
/// never touches swift-metrics: it only bumps atomics (StoreMetrics,
/// RPCMetrics). Histograms are rendered here from the atomic buckets,
/// since swift-prometheus's `Histogram.record` takes a lock per value.
final class MetricsExporter: Sendable {
    struct Sources: Sendable {
        var engine: Engine
        var rpc: RPCMetrics
        var connections: @Sendable () -> Int
        var version: String
    }

    private let sources: Sources
    private let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    /// What each counter was given so far: a scrape adds the difference.
    /// Scrapes are serialized by it too.
    private let exported = Mutex<[String: Int]>([:])

    init(_ sources: Sources) {
        self.sources = sources
        factory = PrometheusMetricsFactory(registry: registry)
    }

    func render() -> [UInt8] {
        exported.withLock { exported in
            update(&exported)
            var text = registry.emitToBuffer()
            appendHistograms(to: &text)
            return text
        }
    }

    private func update(_ exported: inout [String: Int]) {
        let engine = sources.engine
        let store = engine.store
        let now = engine.clock()

        func count(_ name: String, _ labels: [(String, String)], _ total: Int) {
            let key = name + labels.map { "|\($0.1)" }.joined()
            let delta = total - (exported[key] ?? 0)
            guard delta > 0 || exported[key] == nil else { return }
            Counter(label: name, dimensions: labels, factory: factory).increment(by: max(delta, 0))
            exported[key] = total
        }
        func gauge(_ name: String, _ value: Double) { gauge(name, [], value) }
        func gauge(_ name: String, _ labels: [(String, String)], _ value: Double) {
            Gauge(label: name, dimensions: labels, factory: factory).record(value)
        }

        for pair in store.metrics.pairs() {
            let labels = [("queue", pair.queue), ("handler", pair.handler)]
            count("jobqueue_jobs_enqueued_total", labels, pair.enqueued)
            for (state, n) in pair.finished { count("jobqueue_jobs_finished_total", labels + [("state", state.rawValue)], n) }
            for (reason, n) in pair.failedAttempts { count("jobqueue_attempts_failed_total", labels + [("reason", reason.rawValue)], n) }
        }
        for answered in sources.rpc.snapshot() {
            count("jobqueue_rpc_requests_total", [("method", answered.method), ("code", String(answered.code))], answered.count)
        }
        count("jobqueue_commits_total", [], store.metrics.commits)

        if let stats = try? engine.stats() {
            for (queue, queueStats) in stats.queues {
                for state in JobState.allCases {
                    gauge("jobqueue_jobs", [("queue", queue), ("state", state.rawValue)], Double(queueStats.counts[state] ?? 0))
                }
            }
            gauge("jobqueue_workers_busy", Double(stats.busy))
            gauge("jobqueue_workers", Double(stats.workers))
            let oldest = (try? store.oldestDue(now: now)) ?? [:]
            for queue in Set(stats.queues.keys).union(oldest.keys) {
                let age = oldest[queue].map { Double(max(now.rawValue - $0.rawValue, 0)) / 1000 } ?? 0
                gauge("jobqueue_queue_oldest_due_seconds", [("queue", queue)], age)
            }
        }
        gauge("jobqueue_connections", Double(sources.connections()))
        let path = store.options.path
        gauge("jobqueue_database_bytes", Double(Self.fileSize(path)))
        gauge("jobqueue_wal_bytes", Double(Self.fileSize(path + "-wal")))
        gauge("jobqueue_build_info", [("version", sources.version), ("sqlite", JobStore.sqliteVersion)], 1)
    }

    private func appendHistograms(to text: inout [UInt8]) {
        let metrics = sources.engine.store.metrics
        var writer = HistogramText(into: text)
        let pairs = metrics.pairs()
        writer.family("jobqueue_job_duration_seconds", pairs.map { ([("queue", $0.queue), ("handler", $0.handler)], $0.duration) })
        writer.family("jobqueue_queue_wait_seconds", metrics.queueWaits().map { ([("queue", $0.queue)], $0.wait) })
        writer.family("jobqueue_commit_duration_seconds", [([], metrics.commitDuration.snapshot())])
        writer.family("jobqueue_writes_per_commit", [([], metrics.writesPerCommit.snapshot())])
        writer.family("jobqueue_checkpoint_duration_seconds", [([], metrics.checkpointDuration.snapshot())])
        text = writer.text
    }

    private static func fileSize(_ path: String) -> Int64 {
        var info = stat()
        return stat(path, &info) == 0 ? Int64(info.st_size) : 0
    }
}

/// Prometheus text format 0.0.4 for histograms: cumulative `_bucket`
/// lines with `le`, then `_sum` and `_count`.
struct HistogramText {
    var text: [UInt8]

    init(into text: [UInt8]) {
        self.text = text
    }

    mutating func family(_ name: String, _ series: [(labels: [(String, String)], histogram: HistogramSnapshot)]) {
        guard !series.isEmpty else { return }
        append("# TYPE \(name) histogram\n")
        for (labels, histogram) in series {
            for (index, bound) in histogram.bounds.enumerated() {
                line(name + "_bucket", labels + [("le", Self.number(bound))], String(histogram.cumulativeCounts[index]))
            }
            line(name + "_bucket", labels + [("le", "+Inf")], String(histogram.count))
            line(name + "_sum", labels, Self.number(histogram.sum))
            line(name + "_count", labels, String(histogram.count))
        }
    }

    private mutating func line(_ name: String, _ labels: [(String, String)], _ value: String) {
        append(name)
        if !labels.isEmpty {
            append("{" + labels.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ",") + "}")
        }
        append(" " + value + "\n")
    }

    private mutating func append(_ string: String) {
        text.append(contentsOf: string.utf8)
    }

    /// A label value with `\`, `"` and newlines escaped, as the format wants.
    static func escape(_ value: String) -> String {
        var escaped = ""
        for character in value {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    /// `0.001`, `1`, `3600`: shortest form, no exponent for these ranges.
    static func number(_ value: Double) -> String {
        if value == value.rounded() && abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}
