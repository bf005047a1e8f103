import Foundation
import JobCore
import JobStore

/// Retention pruning and `stats`: the engine's work besides running jobs.
extension Engine {
    // MARK: - Retention

    func pruneForever() async {
        while !Task.isCancelled && !isStopping {
            await pruneOnce()
            try? await Task.sleep(for: .seconds(60))
        }
    }

    /// Deletes expired finished jobs in batches of 500, yielding in between.
    public func pruneOnce() async {
        var total = 0
        while !isStopping {
            do {
                let deleted = try await store.prune(retentionMs: config.retentionMs, batchSize: 500)
                total += deleted
                if deleted == 0 { break }
                await Task.yield()
            } catch {
                logger.error("retention pruning failed", metadata: ["error": "\(error)"])
                break
            }
        }
        if total > 0 { logger.info("retention pruned finished jobs", metadata: ["count": "\(total)"]) }
    }

    // MARK: - Stats

    public struct Stats: Sendable {
        public var queues: [String: QueueStats]
        public var concurrency: [String: Int]
        public var busy: Int
        public var workers: Int
        public var uptimeMs: Int64
        public var storage: WriterCounters
    }

    /// Every configured queue and every queue that holds jobs.
    public func stats() async throws(StoreError) -> Stats {
        let config = self.config
        var queues = try await store.stats()
        for name in Self.unlisted(config, queues) { queues[name] = Self.emptyQueue(paused: try await store.isPaused(queue: name)) }
        return stats(queues, config)
    }

    /// `stats()` on the caller's thread, when the store's reads are local; nil otherwise.
    public func statsNow() throws(StoreError) -> Stats? {
        guard let reads = store.localReads else { return nil }
        let config = self.config
        var queues = try reads.stats()
        for name in Self.unlisted(config, queues) { queues[name] = Self.emptyQueue(paused: try reads.isPaused(queue: name)) }
        return stats(queues, config)
    }

    /// The configured queues (and "default") that hold no job.
    private static func unlisted(_ config: DaemonConfig, _ queues: [String: QueueStats]) -> [String] {
        (config.queues.keys.sorted() + ["default"]).filter { queues[$0] == nil }
    }

    private static func emptyQueue(paused: Bool) -> QueueStats {
        QueueStats(counts: Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0, 0) }), paused: paused)
    }

    private func stats(_ queues: [String: QueueStats], _ config: DaemonConfig) -> Stats {
        let concurrency = Dictionary(uniqueKeysWithValues: queues.keys.map { ($0, config.concurrency(of: $0)) })
        let uptime = ContinuousClock.now - startedAt
        return Stats(queues: queues, concurrency: concurrency, busy: runningCount, workers: config.workers,
                     uptimeMs: uptime.components.seconds * 1000 + uptime.components.attoseconds / 1_000_000_000_000_000,
                     storage: store.writerCounters)
    }
}
