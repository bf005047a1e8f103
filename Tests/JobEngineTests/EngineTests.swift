import Foundation
import JobCore
import JobStore
import Logging
import Testing
@testable import JobEngine

/// The engine with a real store in a temp folder.
@Suite struct EngineTests {
    final class Setup {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("jqe-\(UUID().uuidString.prefix(8))").path
        let store: JobStore
        let engine: Engine

        init(_ configure: (inout DaemonConfig) -> Void = { _ in }, store configureStore: (inout StoreOptions) -> Void = { _ in }) throws {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            var options = StoreOptions(path: folder + "/jobs.db")
            configureStore(&options)
            store = try JobStore.open(options)
            var config = DaemonConfig(workers: 2)
            configure(&config)
            engine = Engine(store: store, config: config, logger: Logger(label: "test"))
        }

        deinit {
            store.close()
            try? FileManager.default.removeItem(atPath: folder)
        }

        func sleepJob(queue: String = "default", ms: Int = 300) -> NewJob {
            NewJob(handler: "sleep", payload: RawJSON(validatedText: #"{"ms":\#(ms)}"#), queue: queue)
        }
    }

    @Test func neverRunsMoreThanTheWorkersAndEachQueuesConcurrency() async throws {
        let s = try Setup { $0.workers = 3; $0.queues["slow"] = .init(concurrency: 1) }
        _ = try await s.engine.enqueueBatch((0..<4).map { _ in s.sleepJob(queue: "slow") } + (0..<4).map { _ in s.sleepJob() })
        s.engine.start()
        var peakTotal = 0, peakSlow = 0
        for _ in 0..<40 {
            let stats = try s.store.stats()
            peakSlow = max(peakSlow, stats["slow"]?.counts[.running] ?? 0)
            peakTotal = max(peakTotal, (stats["slow"]?.counts[.running] ?? 0) + (stats["default"]?.counts[.running] ?? 0))
            try await Task.sleep(for: .milliseconds(25))
        }
        #expect(peakTotal == 3 && peakSlow == 1)
        await s.engine.shutdown()
    }

    @Test func waitIsWokenByTheFinishAndTimesOutWithTheJobAsItStands() async throws {
        let s = try Setup()
        s.engine.start()
        let quick = try await s.engine.enqueue(s.sleepJob(ms: 50))
        let done = try await s.engine.wait(for: quick.id, timeoutMs: 10_000)
        #expect(done.state == .succeeded)
        // A job of a minute: a wait that returns with it unfinished returned at its timeout.
        let slow = try await s.engine.enqueue(s.sleepJob(ms: 60_000))
        let pending = try await s.engine.wait(for: slow.id, timeoutMs: 100)
        #expect(pending.state == .running)
        _ = try await s.engine.cancel(slow.id)
        await #expect(throws: StoreError.notFound(JobID(999))) { try await s.engine.wait(for: JobID(999), timeoutMs: 10) }
        await s.engine.shutdown()
    }

    @Test func anUnwaitedJobsEndWaitsForTheNextWriteOrAWaiter() async throws {
        // A window of an hour: only the next write or a waiter commits a job's end
        // (a broken case fails when its wait times out).
        let s = try Setup(store: { $0.deferralWindowMicroseconds = 3_600_000_000 })
        // Not started: an enqueue with a free worker still claims and runs its
        // job, and no dispatcher or pruner write can carry the ends along.
        // Nobody waits: the end of the job (a noop, done at once) is not committed...
        let first = try await s.engine.enqueue(NewJob(handler: "noop"))
        try await Task.sleep(for: .milliseconds(300))
        #expect(try s.store.get(first.id)?.state == .running)
        // ...until somebody waits for it,
        #expect(try await s.engine.wait(for: first.id, timeoutMs: 90_000).state == .succeeded)
        // or another write comes.
        let second = try await s.engine.enqueue(NewJob(handler: "noop"))
        try await Task.sleep(for: .milliseconds(300))
        #expect(try s.store.get(second.id)?.state == .running)
        _ = try await s.engine.enqueue(NewJob(handler: "noop", start: .after(milliseconds: 60_000)))
        #expect(try s.store.get(second.id)?.state == .succeeded)
        // A job waited for from the start is answered too, whichever comes first.
        let third = try await s.engine.enqueue(NewJob(handler: "noop"))
        #expect(try await s.engine.wait(for: third.id, timeoutMs: 90_000).state == .succeeded)
        await s.engine.shutdown()
    }

    @Test func aDelayedJobRunsWhenItsTimerFires() async throws {
        let s = try Setup()
        s.engine.start()
        let outcome = try await s.engine.enqueue(NewJob(handler: "noop", start: .after(milliseconds: 200)))
        #expect(outcome.state == .scheduled)
        let job = try await s.engine.wait(for: outcome.id, timeoutMs: 5000)
        #expect(job.state == .succeeded && job.startedAt! >= job.runAt)
        await s.engine.shutdown()
    }

    @Test func pruningDeletesFinishedJobsPastRetention() async throws {
        let s = try Setup { $0.retentionMs = [.succeeded: 1, .failed: 1, .cancelled: 86_400_000] }
        s.engine.start()
        let done = try await s.engine.enqueue(NewJob(handler: "noop"))
        _ = try await s.engine.wait(for: done.id, timeoutMs: 5000)
        let kept = try await s.engine.enqueue(NewJob(handler: "noop", start: .after(milliseconds: 60_000)))
        _ = try await s.engine.cancel(kept.id)
        try await Task.sleep(for: .milliseconds(5))
        await s.engine.pruneOnce()
        #expect(try s.store.get(done.id) == nil && s.store.get(kept.id)?.state == .cancelled)
        await s.engine.shutdown()
    }
}
