import HTTPTypes
import Hummingbird
import HummingbirdCore
import JobEngine
import JobServer
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// The HTTP listener (OBSERVABILITY.md): `/metrics`, the dashboard and
/// `/api/v1/`, served by Hummingbird on an event loop of the daemon's own
/// group that the RPC socket does not use, so a slow or abusive HTTP
/// client never delays the socket (and never the writer: HTTP requests
/// only submit to it, like any caller).
public final class HTTPListener: Sendable {
    /// What a browser or Prometheus is given: `http://127.0.0.1:8440/` (the
    /// port bound when the config said 0), or `unix:/path`.
    public let url: String
    private let services: ServiceGroup
    private let task: Task<Void, any Error>

    /// Most connections at once: past it, new ones wait in the backlog
    /// (the RPC socket is not affected either way).
    static let maxConnections = 512

    public struct StartError: Error, CustomStringConvertible {
        public var description: String
    }

    private init(url: String, services: ServiceGroup, task: Task<Void, any Error>) {
        self.url = url
        self.services = services
        self.task = task
    }

    /// Binds and starts serving; returns once the address is bound.
    public static func start(
        _ settings: DaemonConfig.HTTP, address: HTTPAddress, token: AccessToken, engine: Engine, service: RPCService,
        eventLoop: any EventLoopGroup, connections: @escaping @Sendable () -> Int, version: String, logger: Logger
    ) async throws(StartError) -> HTTPListener {
        let overUnix: Bool
        let bind: BindAddress
        switch address {
        case .tcp(let host, let port):
            overUnix = false
            bind = .hostname(host, port: port)
        case .unix(let path):
            overUnix = true
            bind = .unixDomainSocket(path: path)
            do {
                try SocketPath.prepare(path)
            } catch {
                throw StartError(description: "http.listen: \(error.description)")
            }
        }
        let access = HTTPAccess(token: token, overUnixSocket: overUnix, metricsNeedToken: settings.metricsNeedToken, service: service)
        let exporter = MetricsExporter(.init(engine: engine, rpc: service.metrics, connections: connections, version: version))
        let router = Router(context: HTTPContext.self)
        router.get("metrics") { request, context in
            if let refusal = await access.refusal(request, context, needs: .metrics) { return refusal.response }
            return HTTPAnswer.bytesResponse(await exporter.render(), contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
        DashboardRoutes(access: access).register(on: router)
        APIRoutes(service: service, engine: engine, access: access).register(on: router)

        let bound = BoundOnce()
        let app = Application(
            router: router,
            server: .http1(configuration: .init(idleTimeout: .seconds(60))),
            configuration: .init(address: bind, serverName: nil, backlog: 256,
                                 availableConnectionsDelegate: MaximumAvailableConnections(maxConnections)),
            onServerRunning: { channel in bound.resume(.success(channel.localAddress)) },
            eventLoopGroupProvider: .shared(eventLoop),
            logger: logger
        )
        // The daemon's own signal handling decides when to stop: no signals here.
        let services = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
        let task = Task {
            do {
                try await services.run()
            } catch {
                bound.resume(.failure(error))
                throw error
            }
        }
        let local: SocketAddress?
        do {
            local = try await bound.wait()
        } catch {
            task.cancel()
            throw StartError(description: "cannot listen on \(address) (http.listen): \(error)")
        }
        let url: String
        switch address {
        case .unix(let path):
            url = "unix:\(path)"
            let socket = engine.config.socket
            try? SocketPath.applyOwnership(path, mode: socket.mode, group: socket.group)
        case .tcp(let host, let port):
            let shown = host.contains(":") ? "[\(host)]" : host
            url = "http://\(shown):\(local?.port ?? port)/"
        }
        return HTTPListener(url: url, services: services, task: task)
    }

    /// Stops serving: requests under way are answered, then connections close.
    public func stop() async {
        await services.triggerGracefulShutdown()
        _ = await task.result
    }
}

/// The bound address, handed over once from `onServerRunning` (or the
/// error that kept the server from starting).
private final class BoundOnce: Sendable {
    private let state = Mutex<(result: Result<SocketAddress?, any Error>?, waiter: CheckedContinuation<SocketAddress?, any Error>?)>((nil, nil))

    func resume(_ result: Result<SocketAddress?, any Error>) {
        let waiter: CheckedContinuation<SocketAddress?, any Error>? = state.withLock { state in
            guard state.result == nil else { return nil }
            state.result = result
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(with: result)
    }

    func wait() async throws -> SocketAddress? {
        try await withCheckedThrowingContinuation { continuation in
            let ready: Result<SocketAddress?, any Error>? = state.withLock { state in
                if let result = state.result { return result }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(with: ready) }
        }
    }
}
