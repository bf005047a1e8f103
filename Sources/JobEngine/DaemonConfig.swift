import JobCore
import JobStore

/// Everything the configuration file sets (DAEMON.md, "Configuration file"),
/// with its defaults.
public struct DaemonConfig: Sendable, Equatable {
    public enum Durability: String, Sendable, Equatable { case full, normal }

    public struct Socket: Sendable, Equatable {
        public var mode: UInt16 = 0o660
        public var group: String?
        public var allowUIDs: [UInt32] = []
        public var allowGIDs: [UInt32] = []
    }

    public struct Limits: Sendable, Equatable {
        public var maxMessageBytes = 1 << 20
        public var maxPayloadBytes = 256 << 10
        public var maxResultBytes = 1 << 20
        public var maxQueuedJobs = StoreOptions.defaultMaxActiveJobs
        public var maxConnections = 1024
        /// `idle_timeout` (PROTOCOL.md, Transport): a silent connection is closed after this.
        public var idleTimeoutMs: Int64 = 300_000
    }

    public struct Queue: Sendable, Equatable {
        public var concurrency: Int = DaemonConfig.defaultQueueConcurrency
        /// At most so many attempts of the queue start in any window (SCHEDULING.md).
        public var rateLimit: RateLimit?

        public init(concurrency: Int = DaemonConfig.defaultQueueConcurrency, rateLimit: RateLimit? = nil) {
            self.concurrency = concurrency
            self.rateLimit = rateLimit
        }
    }

    /// The concurrency of a queue the config does not list.
    public static let defaultQueueConcurrency = 4

    public var workers: Int
    public var durability: Durability = .full
    public var shutdownGraceMs: Int64 = 30_000
    public var retentionMs: [JobState: Int64] = [.succeeded: 7 * 86_400_000, .failed: 30 * 86_400_000, .cancelled: 30 * 86_400_000]
    public var socket = Socket()
    public var limits = Limits()
    public var queues: [String: Queue] = [:]
    /// Configured handlers, with the always-present builtins added (see `handler(named:)`).
    public var handlers: [String: HandlerConfig] = [:]
    /// `schedules:` (SCHEDULING.md), by name.
    public var schedules: [String: ScheduleConfig] = [:]
    /// `http:` (OBSERVABILITY.md): off unless `listen` is set.
    public var http = HTTP()
    /// `database:`, `postgres:` and `node:` (CLUSTER.md).
    public var cluster = Cluster()

    public init(workers: Int) {
        self.workers = workers
    }

    /// The handler of that name: a configured one, else one of the builtins
    /// that always exist (`noop`, `echo`, `sleep`, `fail`). `exec` exists
    /// only when configured.
    public func handler(named name: String) -> HandlerConfig? {
        if let configured = handlers[name] { return configured }
        if let builtin = Builtin(rawValue: name), builtin.alwaysAvailable { return HandlerConfig(kind: .builtin(builtin)) }
        return nil
    }

    /// Whether a handler or queue has a `rate_limit` (else the engine skips them altogether).
    public var hasRateLimits: Bool {
        handlers.values.contains { $0.rateLimit != nil } || queues.values.contains { $0.rateLimit != nil }
    }

    public func concurrency(of queue: String) -> Int {
        queues[queue]?.concurrency ?? Self.defaultQueueConcurrency
    }
}

/// `rate_limit: {count: 100, per: 1m}`: at most `count` starts in any
/// window of `per` (the store's type: a cluster's store counts them too).
public typealias RateLimit = SharedRateLimit

/// The handlers built into the daemon.
public enum Builtin: String, Sendable, CaseIterable, Equatable {
    case noop, echo, sleep, fail, exec

    /// All but `exec`, which runs commands and must be enabled by the operator.
    public var alwaysAvailable: Bool { self != .exec }
}

/// One entry of `handlers:`.
public struct HandlerConfig: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case builtin(Builtin)
        /// argv, run without a shell.
        case command([String])
        /// Served by worker programs over the socket (WORKERS.md).
        case external
    }

    public var kind: Kind
    public var queue: String?
    public var timeoutMs: Int64?
    public var maxAttempts: Int?
    public var backoff: RetryPolicy = .default
    public var env: [String: String] = [:]
    public var workingDirectory: String?
    /// An external handler's default lease (`lease`).
    public var leaseMs: Int64?
    /// At most so many of its jobs with the same `concurrency_key` run at once.
    public var keyConcurrency = 1
    /// At most so many of its attempts start in any window.
    public var rateLimit: RateLimit?

    public init(kind: Kind) {
        self.kind = kind
    }

    /// Command handlers and `exec` start processes; `env` and `working_directory` apply to them.
    public var runsCommands: Bool {
        switch kind {
        case .command, .builtin(.exec): true
        case .builtin, .external: false
        }
    }

    /// Defaults of DAEMON.md for a job that names neither.
    public static let defaultTimeoutMs: Int64 = 60_000
    public static let defaultMaxAttempts = 5
    /// WORKERS.md: an external handler's lease when it names none, and its range.
    public static let defaultLeaseMs: Int64 = 30_000
    public static let leaseRangeMs: ClosedRange<Int64> = 1_000...3_600_000
}
