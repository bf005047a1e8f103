import JobCore
import JobStore

/// What a node of a cluster (CLUSTER.md) does about the other nodes'
/// writes to the jobs it runs: a job cancelled elsewhere stops here, and a
/// node whose lease ran out stops its handlers (their jobs are another
/// node's to rescue, and whatever they report is fenced).
extension Engine {
    /// Jobs that ended on another node while their handlers run here.
    func runningHere(_ ids: [JobID]) -> [JobID] {
        lock.withLock { ids.filter { running[$0] != nil } }
    }

    /// Stops the handlers of those of `ids` that have ended (a cancel on another node).
    func stopEndedElsewhere(_ ids: [JobID]) async {
        for id in ids {
            guard let job = try? await store.get(id), job.state.isTerminal else { continue }
            logger.notice("job ended on another node while its handler ran here: the handler is stopped",
                          metadata: ["job": "\(id)", "state": "\(job.state)"])
            stopRunning(id)
        }
    }

    /// This node's lease ran out: every handler it runs stops.
    func stopHandlersOfLostLease() {
        let ids = lock.withLock { Array(running.keys) }
        guard !ids.isEmpty else { return }
        logger.warning("node lease ran out: stopping the running handlers (another node retries their jobs)",
                       metadata: ["count": "\(ids.count)"])
        for id in ids { stopRunning(id) }
    }
}
