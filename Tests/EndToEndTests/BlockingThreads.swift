import Foundation
import Testing

/// The end-to-end tests block: they wait on sockets, processes and sleeps
/// of the real daemon. On Swift Testing's cooperative pool (one thread per
/// core, 2 here) two of them hold every thread, and the async tests of the
/// other targets get none for seconds (a 2 s deferral window measured 23 s).
/// This trait runs a test's body on a pool of threads of its own: its task
/// prefers `BlockingThreads.shared` as its executor, so the body, synchronous
/// or not, never runs on the cooperative pool.
struct OnBlockingThreads: SuiteTrait, TestTrait, TestScoping {
    var isRecursive: Bool { true }

    /// One scope per test case (a parameterized test gets one per argument).
    func scopeProvider(for test: Test, testCase: Test.Case?) -> Self? {
        testCase == nil ? nil : self
    }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        try await withTaskExecutorPreference(BlockingThreads.shared) { try await function() }
    }
}

extension Trait where Self == OnBlockingThreads {
    /// Runs the test off the cooperative pool, on `BlockingThreads.shared`.
    static var blocking: Self { Self() }
}

/// A fixed number of threads that run jobs in the order they come. The
/// width bounds how many blocking tests run at once (each starts daemons);
/// `JQ_TEST_THREADS` sets it (default 4).
final class BlockingThreads: TaskExecutor, @unchecked Sendable {
    static let shared = BlockingThreads(width: ProcessInfo.processInfo.environment["JQ_TEST_THREADS"].flatMap(Int.init) ?? 4)

    private let condition = NSCondition()
    // Guarded by condition:
    private var jobs: [UnownedJob] = []
    private var threads: Set<pthread_t> = []

    init(width: Int) {
        for _ in 0..<max(width, 1) {
            let thread = Thread { [self] in work() }
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    /// Whether the calling thread is one of the pool's.
    var isCurrent: Bool {
        condition.lock()
        defer { condition.unlock() }
        return threads.contains(pthread_self())
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    private func work() {
        condition.lock()
        threads.insert(pthread_self())
        condition.unlock()
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}

@Suite(.blocking) struct BlockingThreadsTests {
    @Test func aBlockingTestRunsOnThePoolsThreads() {
        #expect(BlockingThreads.shared.isCurrent)
    }

    @Test(arguments: [1, 2])
    func soDoesEachCaseOfAParameterizedTestAfterASuspension(_ n: Int) async throws {
        #expect(BlockingThreads.shared.isCurrent)
        try await Task.sleep(for: .milliseconds(n))
        #expect(BlockingThreads.shared.isCurrent)
    }
}

@Suite struct WithoutTheTrait {
    @Test func aTestRunsOnTheCooperativePool() async {
        #expect(!BlockingThreads.shared.isCurrent)  // the check above can fail
    }
}
