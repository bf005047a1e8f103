import JobCore
import JobEngine
import JobRPC
import Logging

/// Routes requests to their methods: envelope, then method, then access,
/// then params (PROTOCOL.md: only 1004 is decided before params).
public struct RPCService: Sendable {
    let engine: Engine
    let version: String
    let logger: Logger
    /// Requests answered, by method and code (`/metrics`).
    public let metrics: RPCMetrics
    private let listener = HTTPListenerInfo.Box()

    static let methods: [String: any RPCMethod.Type] = Dictionary(uniqueKeysWithValues: ([
        EnqueueMethod.self, EnqueueBatchMethod.self, GetMethod.self, WaitMethod.self, ListMethod.self, CancelMethod.self,
        RetryMethod.self, StatsMethod.self, PauseMethod.self, ResumeMethod.self, PingMethod.self,
        ReserveMethod.self, HeartbeatMethod.self, CompleteMethod.self, FailMethod.self, WorkersMethod.self,
        SchedulesMethod.self, PauseScheduleMethod.self, ResumeScheduleMethod.self, TriggerScheduleMethod.self,
    ] as [any RPCMethod.Type]).map { ($0.name, $0) })

    public init(engine: Engine, version: String, logger: Logger) {
        self.engine = engine
        self.version = version
        self.logger = logger
        self.metrics = RPCMetrics(methods: Array(Self.methods.keys))
    }

    /// Answers one line through `reply` (nil when nothing is to be sent:
    /// notifications only). A single request whose method can start without
    /// a task (`RPCMethod.start`) starts on this thread, and `reply` runs
    /// here (a read) or on the store's writer thread (a write); anything
    /// else runs in a task, and `reply` runs there.
    func respond(to line: [UInt8], caller: Caller?, reply: @escaping @Sendable (JSONWriter?) -> Void) {
        let decoded = RPCDecoder.decode(line: line)
        if case .single(.success(let request)) = decoded, startWithoutTask(request, caller: caller, reply: reply) { return }
        Task { reply(await respond(to: decoded, caller: caller)) }
    }

    private func startWithoutTask(_ request: RPCRequest, caller: Caller?, reply: @escaping @Sendable (JSONWriter?) -> Void) -> Bool {
        guard case .success(let (method, context)) = prepare(request, caller: caller), !(method.isNewWork && engine.isStopping) else {
            return false  // the task path answers with the error
        }
        let id = request.id
        return method.start(request.params, context) { outcome in
            guard let id else { return reply(nil) }  // a notification is never answered
            reply(encode(id: id, outcome, method: request.method))
        }
    }

    /// Answers one line: nil when nothing is to be sent (notifications only).
    func respond(to line: [UInt8], caller: Caller?) async -> JSONWriter? {
        await respond(to: RPCDecoder.decode(line: line), caller: caller)
    }

    private func respond(to decoded: RPCMessage, caller: Caller?) async -> JSONWriter? {
        switch decoded {
        case .single(let entry):
            return await respond(to: entry, caller: caller)
        case .batch(let entries):
            // The calls of a batch are independent: run them together.
            let answers = await withTaskGroup(of: (Int, JSONWriter?).self) { group in
                for (index, entry) in entries.enumerated() {
                    group.addTask { (index, await respond(to: entry, caller: caller)) }
                }
                var answers = [JSONWriter?](repeating: nil, count: entries.count)
                for await (index, answer) in group { answers[index] = answer }
                return answers
            }
            let responses = answers.compactMap { $0 }
            return responses.isEmpty ? nil : RPCEncoder.batch(responses)
        }
    }

    private func respond(to entry: Result<RPCRequest, RPCEnvelopeError>, caller: Caller?) async -> JSONWriter? {
        switch entry {
        case .failure(let envelope):
            return RPCEncoder.failure(id: envelope.id, envelope.error)
        case .success(let request):
            let outcome = await execute(request, caller: caller)
            guard let id = request.id else { return nil }  // a notification is never answered
            return encode(id: id, outcome, method: request.method)
        }
    }

    private func encode(id: RPCID, _ outcome: Result<JSONWriter, RPCError>, method: String) -> JSONWriter {
        metrics.count(method: method, code: outcome.failureCode)
        switch outcome {
        case .success(let result):
            return RPCEncoder.success(id: id) { $0.raw(result) }
        case .failure(let error):
            if error.code == .internalError {
                logger.error("request failed", metadata: ["method": "\(method)", "error": "\(error.message)"])
            }
            return RPCEncoder.failure(id: id, error)
        }
    }

    /// The HTTP listener is on and bound there (`ping` tells).
    public func listenerStarted(_ info: HTTPListenerInfo) {
        listener.value.withLock { $0 = info }
    }

    /// Whether `allow_uids` / `allow_gids` let this caller call `method`.
    public func allows(_ caller: Caller?, method: String) -> Bool {
        let config = engine.config
        return AccessPolicy(allowUIDs: Set(config.socket.allowUIDs), allowGIDs: Set(config.socket.allowGIDs)).allows(caller, method: method)
    }

    /// The method and what it runs with, once the caller may call it.
    private func prepare(_ request: RPCRequest, caller: Caller?) -> Result<(any RPCMethod.Type, MethodContext), RPCError> {
        guard let method = Self.methods[request.method] else {
            return .failure(RPCError(.methodNotFound, "method not found: \(request.method)"))
        }
        let config = engine.config
        let policy = AccessPolicy(allowUIDs: Set(config.socket.allowUIDs), allowGIDs: Set(config.socket.allowGIDs))
        guard policy.allows(caller, method: request.method) else {
            return .failure(RPCError(.permissionDenied, "permission denied: uid \(caller.map { String($0.uid) } ?? "unknown") may not call \(request.method)"))
        }
        return .success((method, MethodContext(engine: engine, config: config, version: version, caller: caller, listener: listener)))
    }

    private func execute(_ request: RPCRequest, caller: Caller?) async -> Result<JSONWriter, RPCError> {
        let (method, context): (any RPCMethod.Type, MethodContext)
        switch prepare(request, caller: caller) {
        case .success(let prepared): (method, context) = prepared
        case .failure(let error): return .failure(error)
        }
        do throws(RPCError) {
            if method.isNewWork && engine.isStopping {
                // Params first: an invalid request is -32602 even now.
                try Self.checkParams(of: method, request.params)
                throw RPCError.shuttingDown
            }
            return .success(try await method.run(request.params, context))
        } catch {
            return .failure(error)
        }
    }

    /// Runs one method for the HTTP API (`/api/v1/`): the same params,
    /// access rules and errors as on the socket, and counted the same way.
    public func call(_ method: String, params: JSONValue?, caller: Caller?) async -> Result<JSONWriter, RPCError> {
        let outcome = await execute(RPCRequest(id: .number(0), method: method, params: params), caller: caller)
        metrics.count(method: method, code: outcome.failureCode)
        return outcome
    }

    /// Parses a new-work method's params without doing the work.
    private static func checkParams(of method: any RPCMethod.Type, _ params: JSONValue?) throws(RPCError) {
        switch method.name {
        case EnqueueMethod.name: _ = try EnqueueParams(params)
        case EnqueueBatchMethod.name: _ = try EnqueueBatchParams(params)
        case ReserveMethod.name: _ = try ReserveParams(params)
        default: _ = try JobIDParams(params)
        }
    }

    /// A connection closed: its waiting `reserve` calls go, its worker is no longer listed.
    func connectionClosed(_ connection: UInt64) {
        engine.connectionClosed(connection)
    }

    /// The answer to a line over `max_message_bytes`.
    static func tooLarge(limit: Int) -> JSONWriter {
        RPCEncoder.failure(id: nil, RPCError(.invalidRequest, "message too large (limit \(limit) bytes)"))
    }
}

extension Result where Failure == RPCError {
    /// The error's code, nil for a success.
    var failureCode: RPCErrorCode? {
        if case .failure(let error) = self { return error.code }
        return nil
    }
}
