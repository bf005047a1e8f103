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

        init(_ configure: (inout DaemonConfig) -> Void = { _ in }, store configureStore: (inout StoreOptions) -> Void = { _ in },
             clock: @escaping @Sendable () -> Timestamp = systemClock, lookahead: Int = Engine.defaultLookahead) throws {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            var options = StoreOptions(path: folder + "/jobs.db")
            options.clock = clock
            configureStore(&options)
            store = try JobStore.open(options)
            var config = DaemonConfig(workers: 2)
            configure(&config)
            engine = Engine(store: store, config: config, logger: Logger(label: "test"), clock: clock, lookahead: lookahead)
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
        let s = try Setup { $0.workers = 3; $0.queues["slow"] = .init(concurrency: 1); $0.shutdownGraceMs = 0 }
        // Jobs of a minute: once the slots are full nothing ends, so what runs
        // is stable however slowly this test looks at it.
        let ids = try await s.engine.enqueueBatch((0..<4).map { _ in s.sleepJob(queue: "slow", ms: 60_000) }
                                                  + (0..<4).map { _ in s.sleepJob(ms: 60_000) }).ids
        s.engine.start()
        func running() throws -> (total: Int, slow: Int) {
            let stats = try s.store.stats()
            let slow = stats["slow"]?.counts[.running] ?? 0
            return (slow + (stats["default"]?.counts[.running] ?? 0), slow)
        }
        let deadline = Date().addingTimeInterval(60)
        while try running().total < 3 && Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
        try await Task.sleep(for: .milliseconds(300))  // room for a claim too many to show
        let (total, slow) = try running()
        #expect(total == 3 && slow == 1)
        for id in ids { _ = try? await s.engine.cancel(id) }
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
        #expect(pending.state == .running || pending.state == .queued)  // a loaded machine may not have started it yet
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
        let job = try await s.engine.wait(for: outcome.id, timeoutMs: 60_000)
        #expect(job.state == .succeeded && job.startedAt! >= job.runAt)
        await s.engine.shutdown()
    }

    /// Regressions, both found by a loaded machine: a job that fell due
    /// between the dispatcher's read (nothing due yet) and its timer (due
    /// already) was promoted to queued and left there, the dispatcher never
    /// woken again (a restart with a 10 ms backoff left a recovered job
    /// queued); and a timer that fired before its job was due by the wall
    /// clock (a step back of it) stood for a pending one, so no new timer was
    /// set and the job stayed scheduled. A clock that jumps at every reading
    /// puts due times inside those instants; each job comes alone, with
    /// nothing else to wake the dispatcher.
    @Test func aJobThatFallsDueBetweenTheReadAndTheTimerStillRuns() async throws {
        let clock = SteppingClock(stepMs: 100)
        let s = try Setup(clock: { clock.read() })
        s.engine.start()
        for offset in stride(from: 50, through: 1000, by: 50) {
            let job = try await s.engine.enqueue(NewJob(handler: "noop", start: .at(clock.read().adding(milliseconds: Int64(offset)))))
            let done = try await s.engine.wait(for: job.id, timeoutMs: 30_000)
            #expect(done.state == .succeeded, "due \(offset) ms after its enqueue: \(done.state)")
        }
        await s.engine.shutdown()
    }

    @Test func pruningDeletesFinishedJobsPastRetention() async throws {
        let s = try Setup { $0.retentionMs = [.succeeded: 1, .failed: 1, .cancelled: 86_400_000] }
        s.engine.start()
        let done = try await s.engine.enqueue(NewJob(handler: "noop"))
        _ = try await s.engine.wait(for: done.id, timeoutMs: 60_000)
        let kept = try await s.engine.enqueue(NewJob(handler: "noop", start: .after(milliseconds: 60_000)))
        _ = try await s.engine.cancel(kept.id)
        try await Task.sleep(for: .milliseconds(5))
        await s.engine.pruneOnce()
        #expect(try s.store.get(done.id) == nil && s.store.get(kept.id)?.state == .cancelled)
        await s.engine.shutdown()
    }
}

/// A clock that moves `stepMs` at every reading: time passes only when
/// somebody looks, so the order of the readings decides what is due.
final class SteppingClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current = systemClock().millisecondsSinceEpoch
    let stepMs: Int64

    init(stepMs: Int64) { self.stepMs = stepMs }

    func read() -> Timestamp {
        lock.withLock {
            current += stepMs
            return Timestamp(millisecondsSinceEpoch: current)
        }
    }
}
