import Foundation
import JobCore
import JobStore

/// One caller waiting for a job to finish.
final class Waiter: @unchecked Sendable {
    let continuation: CheckedContinuation<Job?, Never>
    var timeout: Task<Void, Never>?

    init(_ continuation: CheckedContinuation<Job?, Never>) {
        self.continuation = continuation
    }
}

extension Engine {
    /// The job as soon as it is terminal, or as it stands after `timeoutMs`.
    /// Woken by the engine when the job finishes: no polling of the database.
    public func wait(for id: JobID, timeoutMs: Int64) async throws(StoreError) -> Job {
        guard let current = try await store.get(id) else { throw .notFound(id) }
        if current.state.isTerminal || timeoutMs == 0 { return current }

        let token = lock.withLock {
            nextWaiterToken += 1
            return nextWaiterToken
        }

        let finished: Job? = await withCheckedContinuation { continuation in
            let waiter = Waiter(continuation)
            lock.lock()
            waiters[id, default: [:]][token] = waiter
            let endIsDeferred = deferredEnds.contains(id)
            lock.unlock()
            // Its end is (or is about to be) a deferrable write: commit it now.
            if endIsDeferred { store.expediteDeferredWrites() }
            waiter.timeout = Task { [self] in
                try? await Task.sleep(for: .milliseconds(timeoutMs))
                resolveWaiter(id, token, with: nil)
            }
            // It may have finished between the read above and the registration.
            Task { [self] in
                if let again = try? await store.get(id), again.state.isTerminal { resolveWaiter(id, token, with: again) }
            }
        }
        if let finished { return finished }
        guard let now = try await store.get(id) else { throw .notFound(id) }
        return now
    }

    func hasWaiters(_ id: JobID) -> Bool {
        lock.withLock { waiters[id] != nil }
    }

    /// The jobs somebody waits for here.
    func waitedJobs() -> [JobID] {
        lock.withLock { Array(waiters.keys) }
    }

    /// Reads jobs that ended elsewhere (another node) and wakes their waiters.
    func notifyWaiters(reading ids: [JobID]) async {
        for id in ids {
            if let job = try? await store.get(id), job.state.isTerminal { notifyWaiters(job) }
        }
    }

    /// Wakes everyone waiting for `job` with it.
    func notifyWaiters(_ job: Job) {
        lock.lock()
        let list = waiters.removeValue(forKey: job.id) ?? [:]
        lock.unlock()
        for waiter in list.values {
            waiter.timeout?.cancel()
            waiter.continuation.resume(returning: job)
        }
    }

    private func resolveWaiter(_ id: JobID, _ token: UInt64, with job: Job?) {
        lock.lock()
        let waiter = waiters[id]?.removeValue(forKey: token)
        if waiters[id]?.isEmpty == true { waiters[id] = nil }
        lock.unlock()
        guard let waiter else { return }
        waiter.timeout?.cancel()
        waiter.continuation.resume(returning: job)
    }

    /// At shutdown: every waiter gets the job as it stands.
    func resolveAllWaiters() {
        lock.lock()
        let all = waiters
        waiters = [:]
        lock.unlock()
        for (_, list) in all {
            for waiter in list.values {
                waiter.timeout?.cancel()
                waiter.continuation.resume(returning: nil)
            }
        }
    }
}
