import Foundation
import JobCore
import JobRPC
import Synchronization

/// Raised by a handler for a failure that no retry can mend: the job goes
/// to `failed` at once (`fail` with `retry: false`).
public struct PermanentFailure: Error, Sendable {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }
}

/// Serves jobs of external handlers: reserves them, runs a handler function
/// for each, keeps the lease alive with heartbeats at a third of the lease,
/// and reports the end. A handler's return value is the job's result; a
/// thrown error fails the attempt (retried with backoff; `PermanentFailure`
/// not). `stop()` stops reserving; `run()` returns once the jobs it holds
/// have ended.
///
/// ```swift
/// let worker = JobWorker(client: try await JobClient.connect(), concurrency: 8,
///                        handlers: ["resize": { job in try await resize(job.job.payload) }])
/// try await worker.run()
/// ```
public final class JobWorker: Sendable {
    public typealias Handler = @Sendable (ReservedJob) async throws -> RawJSON?

    private let client: JobClient
    private let handlers: [String: Handler]
    private let concurrency: Int
    private let leaseMs: Int64?
    private let name: String?
    private let stopped = Atomic<Bool>(false)
    /// Jobs held now.
    private let active = Atomic<Int>(0)
    /// How long one `reserve` waits for a job: short enough that `stop()`
    /// takes effect soon, long enough to cost nothing while idle.
    static let waitSliceMs: Int64 = 1000

    public init(client: JobClient, concurrency: Int = 1, leaseMs: Int64? = nil, name: String? = nil, handlers: [String: Handler]) {
        precondition(concurrency >= 1 && !handlers.isEmpty)
        self.client = client
        self.handlers = handlers
        self.concurrency = concurrency
        self.leaseMs = leaseMs
        self.name = name
    }

    /// Stops reserving; the jobs held run to their end.
    public func stop() {
        stopped.store(true, ordering: .relaxed)
    }

    /// Serves jobs until `stop()`; returns when the last held job has ended.
    public func run() async throws(JobClientError) {
        let names = handlers.keys.sorted()
        // One pending signal stands for any number of freed slots.
        let (slotFreed, signal) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        var failure: JobClientError?
        await withDiscardingTaskGroup { group in
            var signals = slotFreed.makeAsyncIterator()
            while !stopped.load(ordering: .relaxed) {
                let free = concurrency - active.load(ordering: .acquiring)
                if free == 0 {
                    _ = await signals.next()
                    continue
                }
                let reserved: [ReservedJob]
                do throws(JobClientError) {
                    reserved = try await client.reserve(handlers: names, maxJobs: free, leaseMs: leaseMs, waitMs: Self.waitSliceMs,
                                                        worker: name)
                } catch {
                    // The daemon stops (1006): finish what is held. Anything else ends the run.
                    if error.code != .shuttingDown { failure = error }
                    break
                }
                for job in reserved {
                    active.add(1, ordering: .relaxed)
                    group.addTask { [self] in
                        await serve(job)
                        active.subtract(1, ordering: .releasing)
                        signal.yield()
                    }
                }
            }
        }
        if let failure { throw failure }
    }

    private static func now() -> Timestamp {
        Timestamp(millisecondsSinceEpoch: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)))
    }

    /// Runs one job with heartbeats, then completes or fails it.
    private func serve(_ reserved: ReservedJob) async {
        let handler = handlers[reserved.job.handler]!
        let heartbeats = Task { [client] in
            var expires = reserved.expiresAt
            while !Task.isCancelled {
                let remaining = max(expires.milliseconds(since: Self.now()), 0)
                try? await Task.sleep(for: .milliseconds(max(remaining / 3, 50)))
                if Task.isCancelled { return }
                do {
                    expires = try await client.heartbeat(reserved.job.id, token: reserved.token)
                } catch {
                    return  // lease lost (1007) or no daemon: the end will say so
                }
            }
        }
        let outcome: Result<RawJSON?, any Error>
        do {
            outcome = .success(try await handler(reserved))
        } catch {
            outcome = .failure(error)
        }
        heartbeats.cancel()
        switch outcome {
        case .success(let result):
            _ = try? await client.complete(reserved.job.id, token: reserved.token, result: result)
        case .failure(let error as PermanentFailure):
            _ = try? await client.fail(reserved.job.id, token: reserved.token, message: error.message, retry: false)
        case .failure(let error):
            _ = try? await client.fail(reserved.job.id, token: reserved.token, message: String(describing: error))
        }
    }
}
