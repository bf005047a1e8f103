import Foundation
import JobCore
import Yams

/// One thing wrong with a config file, with where it is.
public struct ConfigProblem: Sendable, Equatable, CustomStringConvertible {
    public var line: Int?
    /// The key, dotted (`handlers.thumbnail.timeout`).
    public var key: String
    public var message: String

    public var description: String {
        (line.map { "line \($0): " } ?? "") + (key.isEmpty ? "" : "\(key): ") + message
    }
}

/// The config file could not be used; every problem found is listed.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var problems: [ConfigProblem]

    public var description: String {
        problems.map { "\(file): \($0)" }.joined(separator: "\n")
    }
}

/// Reads the YAML config file. Unknown keys, bad values and unknown builtins
/// are problems: nothing is silently ignored.
public struct ConfigLoader {
    public var defaultWorkers: Int

    public init(defaultWorkers: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.defaultWorkers = defaultWorkers
    }

    /// Loads `path`; a missing file gives the defaults when `mustExist` is false.
    public func load(path: String, mustExist: Bool) throws(ConfigError) -> DaemonConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            if !mustExist && !FileManager.default.fileExists(atPath: path) { return DaemonConfig(workers: defaultWorkers) }
            throw ConfigError(file: path, problems: [ConfigProblem(key: "", message: "cannot read the file")])
        }
        return try parse(String(decoding: data, as: UTF8.self), file: path)
    }

    public func parse(_ text: String, file: String) throws(ConfigError) -> DaemonConfig {
        var reader = Reader()
        var config = DaemonConfig(workers: defaultWorkers)
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw ConfigError(file: file, problems: [ConfigProblem(key: "", message: "not valid YAML: \(error)")])
        }
        if let root {
            reader.read(root, into: &config)
        }
        guard reader.problems.isEmpty else { throw ConfigError(file: file, problems: reader.problems) }
        return config
    }
}

/// Walks the YAML tree, collecting problems instead of stopping at the first.
struct Reader {
    var problems: [ConfigProblem] = []

    mutating func problem(_ node: Node?, _ key: String, _ message: String) {
        problems.append(ConfigProblem(line: node?.mark?.line, key: key, message: message))
    }

    /// The pairs of a mapping, reporting keys not in `known`.
    mutating func mapping(_ node: Node, _ key: String, known: Set<String>?) -> [(String, Node, Node)] {
        guard case .mapping(let mapping) = node else {
            problem(node, key, "expected a mapping")
            return []
        }
        var pairs: [(String, Node, Node)] = []
        for (k, v) in mapping {
            guard let name = k.string else { problem(k, key, "keys must be strings"); continue }
            let path = key.isEmpty ? name : "\(key).\(name)"
            if let known, !known.contains(name) {
                problem(k, path, "unknown key")
                continue
            }
            pairs.append((name, k, v))
        }
        return pairs
    }

    mutating func read(_ root: Node, into config: inout DaemonConfig) {
        if case .scalar(let s) = root, s.string.isEmpty { return }  // an empty file
        let known: Set<String> = ["workers", "durability", "shutdown_grace", "retention", "socket", "limits", "queues", "handlers", "schedules", "http",
                                   "database", "postgres", "node"]
        for (name, _, value) in mapping(root, "", known: known) {
            switch name {
            case "workers": if let n = int(value, name, min: 1) { config.workers = n }
            case "durability":
                if let text = scalar(value, name) {
                    if let d = DaemonConfig.Durability(rawValue: text) { config.durability = d } else { problem(value, name, "expected full or normal") }
                }
            case "shutdown_grace": if let ms = duration(value, name) { config.shutdownGraceMs = ms }
            case "retention":
                for (state, _, v) in mapping(value, name, known: ["succeeded", "failed", "cancelled"]) {
                    if let ms = duration(v, "retention.\(state)") { config.retentionMs[JobState(rawValue: state)!] = ms }
                }
            case "socket": readSocket(value, into: &config.socket)
            case "http": readHTTP(value, into: &config.http)
            case "database":
                if let text = scalar(value, name) {
                    if text.isEmpty { problem(value, name, "expected an SQLite file's path or a postgres:// URL") } else { config.cluster.database = text }
                }
            case "postgres": readPostgres(value, into: &config.cluster)
            case "node": readNode(value, into: &config.cluster)
            case "limits": readLimits(value, into: &config.limits)
            case "queues":
                for (queue, _, v) in mapping(value, name, known: nil) {
                    var entry = DaemonConfig.Queue()
                    for (k, _, c) in mapping(v, "queues.\(queue)", known: ["concurrency", "rate_limit"]) {
                        if k == "concurrency", let n = int(c, "queues.\(queue).concurrency", min: 1) { entry.concurrency = n }
                        if k == "rate_limit" { entry.rateLimit = rateLimit(c, "queues.\(queue).rate_limit") }
                    }
                    config.queues[queue] = entry
                }
            case "handlers":
                for (handler, _, v) in mapping(value, name, known: nil) {
                    if let h = readHandler(v, "handlers.\(handler)") { config.handlers[handler] = h }
                }
            case "schedules":
                for (schedule, keyNode, v) in mapping(value, name, known: nil) {
                    if let s = readSchedule(v, name: schedule, nameNode: keyNode) { config.schedules[schedule] = s }
                }
            default: break
            }
        }
        // After every handler is read: a schedule must name one that exists.
        for (name, schedule) in config.schedules where config.handler(named: schedule.handler) == nil {
            problem(root, "schedules.\(name).handler", "unknown handler \"\(schedule.handler)\"")
        }
    }

    mutating func readSocket(_ node: Node, into socket: inout DaemonConfig.Socket) {
        for (name, _, value) in mapping(node, "socket", known: ["mode", "group", "allow_uids", "allow_gids"]) {
            let key = "socket.\(name)"
            switch name {
            case "mode":
                if let text = scalar(value, key) {
                    if let mode = UInt16(text.hasPrefix("0o") ? String(text.dropFirst(2)) : text, radix: 8), mode <= 0o777 {
                        socket.mode = mode
                    } else {
                        problem(value, key, "expected an octal mode such as \"0660\"")
                    }
                }
            case "group": socket.group = scalar(value, key)
            case "allow_uids": socket.allowUIDs = ids(value, key)
            case "allow_gids": socket.allowGIDs = ids(value, key)
            default: break
            }
        }
    }

    mutating func readLimits(_ node: Node, into limits: inout DaemonConfig.Limits) {
        let known: Set<String> = ["max_message_bytes", "max_payload_bytes", "max_result_bytes", "max_queued_jobs", "max_connections", "idle_timeout"]
        for (name, _, value) in mapping(node, "limits", known: known) {
            let key = "limits.\(name)"
            switch name {
            case "max_message_bytes": if let n = size(value, key, min: 1024) { limits.maxMessageBytes = n }
            case "max_payload_bytes": if let n = size(value, key, min: 1) { limits.maxPayloadBytes = n }
            case "max_result_bytes": if let n = size(value, key, min: 1) { limits.maxResultBytes = n }
            case "max_queued_jobs": if let n = int(value, key, min: 1) { limits.maxQueuedJobs = n }
            case "max_connections": if let n = int(value, key, min: 1) { limits.maxConnections = n }
            case "idle_timeout": if let ms = duration(value, key), ms > 0 { limits.idleTimeoutMs = ms }
            default: break
            }
        }
    }

    mutating func readHandler(_ node: Node, _ key: String) -> HandlerConfig? {
        let known: Set<String> = ["command", "builtin", "external", "lease", "queue", "timeout", "max_attempts", "backoff", "env",
                                  "working_directory", "key_concurrency", "rate_limit"]
        let pairs = mapping(node, key, known: known)
        let names = Set(pairs.map(\.0))
        var handler: HandlerConfig
        if let external = pairs.first(where: { $0.0 == "external" })?.2 {
            return readExternalHandler(node, key, pairs, flag: external)
        }
        if let lease = pairs.first(where: { $0.0 == "lease" })?.2 {
            problem(lease, "\(key).lease", "applies to external handlers only (external: true)")
            return nil
        }
        switch (names.contains("command"), names.contains("builtin")) {
        case (true, true):
            problem(node, key, "give command or builtin, not both")
            return nil
        case (false, false):
            problem(node, key, "needs command or builtin")
            return nil
        case (true, false):
            let value = pairs.first { $0.0 == "command" }!.2
            guard case .sequence = value else {
                problem(value, "\(key).command", "expected a list of strings (argv, no shell), such as [\"/usr/bin/convert\", \"-resize\"]")
                return nil
            }
            let argv = strings(value, "\(key).command")
            guard let first = argv.first, !first.isEmpty else {
                problem(value, "\(key).command", "expected a non-empty list of strings (argv, no shell)")
                return nil
            }
            handler = HandlerConfig(kind: .command(argv))
        case (false, true):
            let value = pairs.first { $0.0 == "builtin" }!.2
            guard let name = scalar(value, "\(key).builtin") else { return nil }
            guard let builtin = Builtin(rawValue: name) else {
                problem(value, "\(key).builtin", "unknown builtin \"\(name)\"; builtins are \(Builtin.allCases.map(\.rawValue).joined(separator: ", "))")
                return nil
            }
            handler = HandlerConfig(kind: .builtin(builtin))
        }
        for (name, _, value) in pairs {
            let path = "\(key).\(name)"
            switch name {
            case "queue", "timeout", "max_attempts", "backoff", "key_concurrency", "rate_limit": readCommon(name, value, path, into: &handler)
            case "env":
                guard handler.runsCommands else { problem(value, path, "applies to command handlers and exec only"); continue }
                for (k, _, v) in mapping(value, path, known: nil) { if let s = scalar(v, "\(path).\(k)") { handler.env[k] = s } }
            case "working_directory":
                guard handler.runsCommands else { problem(value, path, "applies to command handlers and exec only"); continue }
                if let dir = scalar(value, path) {
                    if dir.hasPrefix("/") { handler.workingDirectory = dir } else { problem(value, path, "must be an absolute path") }
                }
            default: break
            }
        }
        return handler
    }

    /// The keys every kind of handler has.
    mutating func readCommon(_ name: String, _ value: Node, _ path: String, into handler: inout HandlerConfig) {
        switch name {
        case "queue":
            if let q = scalar(value, path) {
                if q.isEmpty || q.utf8.count > JobLimits.maxNameBytes { problem(value, path, "must be 1 to 255 bytes") } else { handler.queue = q }
            }
        case "timeout":
            if let ms = duration(value, path) {
                if JobLimits.timeoutMs.contains(ms) { handler.timeoutMs = ms } else { problem(value, path, "must be at least 1ms") }
            }
        case "max_attempts":
            if let n = int(value, path, min: 1) {
                if n <= JobLimits.maxAttempts.upperBound { handler.maxAttempts = n } else { problem(value, path, "must be at most 1000") }
            }
        case "backoff": handler.backoff = backoff(value, path)
        case "key_concurrency": if let n = int(value, path, min: 1) { handler.keyConcurrency = n }
        case "rate_limit": handler.rateLimit = rateLimit(value, path)
        default: break
        }
    }

    /// `{count: 100, per: 1m}`.
    mutating func rateLimit(_ node: Node, _ key: String) -> RateLimit? {
        var count: Int?, per: Int64?
        for (name, _, value) in mapping(node, key, known: ["count", "per"]) {
            if name == "count" { count = int(value, "\(key).count", min: 1) }
            if name == "per", let ms = duration(value, "\(key).per") {
                if ms >= 1 { per = ms } else { problem(value, "\(key).per", "must be at least 1ms") }
            }
        }
        guard let count, let per else {
            if case .mapping = node { problem(node, key, "needs count and per, such as {count: 100, per: 1m}") }
            return nil
        }
        return RateLimit(count: count, perMs: per)
    }

    /// `external: true`: served by workers; `command`, `builtin`, `env` and
    /// `working_directory` make no sense beside it.
    mutating func readExternalHandler(_ node: Node, _ key: String, _ pairs: [(String, Node, Node)], flag: Node) -> HandlerConfig? {
        guard let text = scalar(flag, "\(key).external") else { return nil }
        guard let value = Bool(text.lowercased()) else {
            problem(flag, "\(key).external", "expected true or false")
            return nil
        }
        guard value else {
            problem(flag, "\(key).external", "external: false is the same as leaving it out; give command or builtin instead")
            return nil
        }
        var handler = HandlerConfig(kind: .external)
        for (name, _, value) in pairs {
            let path = "\(key).\(name)"
            switch name {
            case "command", "builtin", "env", "working_directory":
                problem(value, path, "not allowed next to external: true (workers run the job)")
            case "lease":
                guard let ms = duration(value, path) else { continue }
                if HandlerConfig.leaseRangeMs.contains(ms) { handler.leaseMs = ms } else { problem(value, path, "must be from 1s to 1h") }
            case "queue", "timeout", "max_attempts", "backoff", "key_concurrency", "rate_limit": readCommon(name, value, path, into: &handler)
            default: break
            }
        }
        return handler
    }

    mutating func backoff(_ node: Node, _ key: String) -> RetryPolicy {
        var policy = RetryPolicy.default
        for (name, _, value) in mapping(node, key, known: ["initial", "factor", "max", "jitter"]) {
            let path = "\(key).\(name)"
            switch name {
            case "initial": if let ms = duration(value, path) { policy.initialMs = ms }
            case "max": if let ms = duration(value, path) { policy.maxMs = ms }
            case "factor":
                if let f = value.float, f >= 1, f <= 100 { policy.factor = f } else { problem(value, path, "expected a number from 1 to 100") }
            case "jitter":
                if let j = value.float, j >= 0, j <= 1 { policy.jitter = j } else { problem(value, path, "expected a number from 0 to 1") }
            default: break
            }
        }
        return policy
    }

    // MARK: scalars

    mutating func scalar(_ node: Node, _ key: String) -> String? {
        guard case .scalar(let s) = node else {
            problem(node, key, "expected a single value")
            return nil
        }
        return s.string
    }

    mutating func int(_ node: Node, _ key: String, min: Int) -> Int? {
        guard let text = scalar(node, key) else { return nil }
        guard let n = Int(text), n >= min else {
            problem(node, key, "expected an integer of at least \(min), got \"\(text)\"")
            return nil
        }
        return n
    }

    mutating func duration(_ node: Node, _ key: String) -> Int64? {
        guard let text = scalar(node, key) else { return nil }
        do {
            return try DurationText.milliseconds(from: text)
        } catch {
            problem(node, key, error.message)
            return nil
        }
    }

    mutating func size(_ node: Node, _ key: String, min: Int64) -> Int? {
        guard let text = scalar(node, key) else { return nil }
        do {
            let bytes = try ByteSize.bytes(from: text)
            guard bytes >= min, bytes <= Int64(Int32.max) else {
                problem(node, key, "must be from \(min) bytes to 2GiB")
                return nil
            }
            return Int(bytes)
        } catch {
            problem(node, key, error.message)
            return nil
        }
    }

    mutating func strings(_ node: Node, _ key: String) -> [String] {
        guard case .sequence(let sequence) = node else {
            problem(node, key, "expected a list")
            return []
        }
        return sequence.compactMap { scalar($0, key) }
    }

    mutating func ids(_ node: Node, _ key: String) -> [UInt32] {
        guard case .sequence(let sequence) = node else {
            problem(node, key, "expected a list of numeric ids")
            return []
        }
        return sequence.compactMap { item in
            guard let text = scalar(item, key), let id = UInt32(text) else {
                problem(item, key, "expected a numeric id")
                return nil
            }
            return id
        }
    }
}
