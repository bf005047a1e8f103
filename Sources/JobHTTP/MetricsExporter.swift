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
    /// What each counter was given so far (a scrape adds the difference),
    /// and the queues the last scrape listed. Scrapes are serialized by it too.
    private let exported = Mutex(Exported())

    private struct Exported {
        var counters: [String: Int] = [:]
        var queues: Set<String> = []
    }

    init(_ sources: Sources) {
        self.sources = sources
        factory = PrometheusMetricsFactory(registry: registry)
    }

    /// What a scrape reads of the store, before it takes the lock.
    private struct StoreReads {
        var now: Timestamp
        var stats: Engine.Stats?
        var oldest: [String: Timestamp]
        var sizes: StorageSizes
    }

    func render() async -> [UInt8] {
        let engine = sources.engine
        let now = engine.clock()
        let stats = try? await engine.stats()
        let oldest = stats == nil ? [:] : ((try? await engine.store.oldestDue(now: now)) ?? [:])
        let reads = StoreReads(now: now, stats: stats, oldest: oldest, sizes: await engine.store.sizes())
        return exported.withLock { exported in
            // One read of the pairs for both their counters and their histograms.
            let pairs = sources.engine.store.metrics.pairs()
            update(&exported, pairs: pairs, reads: reads)
            var text = registry.emitToBuffer()
            appendHistograms(to: &text, pairs: pairs)
            return text
        }
    }

    private func update(_ exported: inout Exported, pairs: [PairSnapshot], reads: StoreReads) {
        let store = sources.engine.store
        let now = reads.now

        // swift-prometheus writes label values as given: escape them here.
        func escaped(_ labels: [(String, String)]) -> [(String, String)] { labels.map { ($0.0, HistogramText.escape($0.1)) } }
        func count(_ name: String, _ labels: [(String, String)], _ total: Int) {
            let key = ([name] + labels.map(\.1)).joined(separator: "\u{0}")
            let delta = total - (exported.counters[key] ?? 0)
            guard delta > 0 || exported.counters[key] == nil else { return }
            Counter(label: name, dimensions: escaped(labels), factory: factory).increment(by: max(delta, 0))
            exported.counters[key] = total
        }
        func gauge(_ name: String, _ value: Double) { gauge(name, [], value) }
        func gauge(_ name: String, _ labels: [(String, String)], _ value: Double) {
            Gauge(label: name, dimensions: escaped(labels), factory: factory).record(value)
        }

        for pair in pairs {
            let labels = [("queue", pair.queue), ("handler", pair.handler)]
            count("jobqueue_jobs_enqueued_total", labels, pair.enqueued)
            for (state, n) in pair.finished { count("jobqueue_jobs_finished_total", labels + [("state", state.rawValue)], n) }
            for (reason, n) in pair.failedAttempts { count("jobqueue_attempts_failed_total", labels + [("reason", reason.rawValue)], n) }
        }
        for answered in sources.rpc.snapshot() {
            count("jobqueue_rpc_requests_total", [("method", answered.method), ("code", String(answered.code))], answered.count)
        }
        count("jobqueue_commits_total", [], store.metrics.commits)

        if let stats = reads.stats {
            let queues = QueueLabels(stats.queues, oldest: reads.oldest)
            for queue in queues.names {
                for state in JobState.allCases {
                    gauge("jobqueue_jobs", [("queue", queue), ("state", state.rawValue)], Double(queues.counts[queue]?[state] ?? 0))
                }
                let age = queues.oldest[queue].map { Double(max(now.rawValue - $0.rawValue, 0)) / 1000 } ?? 0
                gauge("jobqueue_queue_oldest_due_seconds", [("queue", queue)], age)
                gauge("jobqueue_queue_paused", [("queue", queue)], queues.paused.contains(queue) ? 1 : 0)
            }
            // A queue gone from the store (its last job pruned) reads 0, not its last value.
            for gone in exported.queues.subtracting(queues.names) {
                for state in JobState.allCases { gauge("jobqueue_jobs", [("queue", gone), ("state", state.rawValue)], 0) }
                gauge("jobqueue_queue_oldest_due_seconds", [("queue", gone)], 0)
                gauge("jobqueue_queue_paused", [("queue", gone)], 0)
            }
            exported.queues = queues.names
            gauge("jobqueue_workers_busy", Double(stats.busy))
            gauge("jobqueue_workers", Double(stats.workers))
        }
        gauge("jobqueue_connections", Double(sources.connections()))
        gauge("jobqueue_database_bytes", Double(reads.sizes.databaseBytes))
        gauge("jobqueue_wal_bytes", Double(reads.sizes.walBytes))
        gauge("jobqueue_build_info", [("version", sources.version), (store.engineLabel.name, store.engineLabel.version)], 1)
    }

    private func appendHistograms(to text: inout [UInt8], pairs: [PairSnapshot]) {
        let metrics = sources.engine.store.metrics
        var writer = HistogramText(into: text)
        writer.family("jobqueue_job_duration_seconds", pairs.map { ([("queue", $0.queue), ("handler", $0.handler)], $0.duration) })
        writer.family("jobqueue_queue_wait_seconds", metrics.queueWaits().map { ([("queue", $0.queue)], $0.wait) })
        writer.family("jobqueue_commit_duration_seconds", [([], metrics.commitDuration.snapshot())])
        writer.family("jobqueue_writes_per_commit", [([], metrics.writesPerCommit.snapshot())])
        writer.family("jobqueue_checkpoint_duration_seconds", [([], metrics.checkpointDuration.snapshot())])
        text = writer.text
    }
}

/// The queues `jobqueue_jobs` lists: at most `StoreMetrics.maxPairs` by
/// name, the rest summed under `_other` (queue names come from clients).
struct QueueLabels {
    var names: Set<String> = []
    var counts: [String: [JobState: Int]] = [:]
    var oldest: [String: Timestamp] = [:]
    var paused: Set<String> = []

    init(_ stats: [String: QueueStats], oldest due: [String: Timestamp]) {
        let kept = Set(stats.keys.sorted().prefix(StoreMetrics.maxPairs))
        for (queue, queueStats) in stats {
            let name = kept.contains(queue) ? queue : StoreMetrics.overflowLabel
            names.insert(name)
            counts[name, default: [:]].merge(queueStats.counts, uniquingKeysWith: +)
            if queueStats.paused { paused.insert(name) }
        }
        for (queue, at) in due {
            let name = kept.contains(queue) ? queue : StoreMetrics.overflowLabel
            names.insert(name)
            oldest[name] = min(oldest[name] ?? at, at)
        }
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
