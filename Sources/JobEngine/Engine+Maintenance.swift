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
    public func stats() throws(StoreError) -> Stats {
        var queues = try store.stats()
        let config = self.config
        let empty = Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0, 0) })
        for name in config.queues.keys.sorted() + ["default"] where queues[name] == nil {
            queues[name] = QueueStats(counts: empty, paused: try store.isPaused(queue: name))
        }
        let concurrency = Dictionary(uniqueKeysWithValues: queues.keys.map { ($0, config.concurrency(of: $0)) })
        let uptime = ContinuousClock.now - startedAt
        return Stats(queues: queues, concurrency: concurrency, busy: runningCount, workers: config.workers,
                     uptimeMs: uptime.components.seconds * 1000 + uptime.components.attoseconds / 1_000_000_000_000_000,
                     storage: store.writerCounters)
    }
}
