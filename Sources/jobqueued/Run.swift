import ArgumentParser
import Foundation
import JobCore
import JobEngine
import JobHTTP
import JobRPC
import JobServer
import JobStore
import JobStorePostgres
import Logging
import NIOCore
import Synchronization
import SystemdSupport

/// Runs the daemon (the default command).
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the daemon (the default).")

    @OptionGroup var paths: PathOptions

    @Option(name: .long, help: "The socket to listen on (default: $JOBQUEUE_SOCKET, $RUNTIME_DIRECTORY/jobqueued.sock, /run/jobqueue/jobqueued.sock, or $XDG_RUNTIME_DIR/jobqueue/jobqueued.sock).")
    var socket: String?

    @Option(name: .long, help: "Total concurrent jobs (default: the config's workers, else the number of CPUs).")
    var workers: Int?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning or error.")
    var logLevel: Logger.Level = .info

    func validate() throws {
        if let workers, workers < 1 { throw ValidationError("--workers must be at least 1") }
    }

    func run() async throws {
        // First of all: a SIGTERM that comes while we start must wait in the
        // stream, not be lost (or kill us after the socket answers).
        let signals = SignalWatcher()
        let logger = makeLogger(level: logLevel)
        var config = try paths.loadConfig()
        if let workers { config.workers = workers }
        let socketPath = socket ?? paths.defaults.socket

        let database = paths.database(config)
        let store = try await openStorage(database, config: config, logger: logger)
        let engine = Engine(store: store, config: config, logger: logger)
        _ = try await engine.recoverInterruptedJobs()
        try await engine.loadSchedules()
        let service = RPCService(engine: engine, version: JobqueueVersion.current, logger: logger)
        let eventLoops = RPCServer.makeEventLoops()
        // The HTTP listener first, so that `ping` tells it as soon as the socket answers.
        let connections = ConnectionCount()
        let http: HTTPListener?
        do {
            http = try await startHTTP(config: config, engine: engine, service: service,
                                       eventLoop: RPCServer.spareEventLoop(of: eventLoops), connections: connections, logger: logger)
        } catch {
            FileHandle.standardError.write(Data("jobqueued: \(error)\n".utf8))
            try? await eventLoops.shutdownGracefully()
            store.close()
            throw exitConfig
        }
        let server: RPCServer
        var listenPath = socketPath
        do {
            let activated = try ListenFDs.take()  // systemd socket activation
            if let activated { listenPath = ListenFDs.path(of: activated) ?? socketPath }
            server = try RPCServer.start(path: listenPath, listeningSocket: activated, service: service, engine: engine,
                                         group: eventLoops, logger: logger)
            connections.server.withLock { $0 = server }
        } catch let error as ListenFDs.Problem {
            FileHandle.standardError.write(Data("jobqueued: \(error.description)\n".utf8))
            await http?.stop()
            store.close()
            throw exitConfig
        } catch {
            FileHandle.standardError.write(Data("jobqueued: \(error)\n".utf8))
            await http?.stop()
            store.close()
            throw exitConfig
        }
        engine.start()
        let systemd = SystemdNotifier()
        systemd.ready(status: await statusLine(engine))
        logger.notice("jobqueued started", metadata: [
            "version": "\(JobqueueVersion.current)", "database": "\(PostgresOptions.redacted(database))", "socket": "\(listenPath)",
            "workers": "\(config.workers)", "\(store.engineLabel.name)": "\(store.engineLabel.version)", "durability": "\(config.durability.rawValue)",
        ])
        let background = [
            Task { await reportStatus(engine, to: systemd) },
            Task { await feedWatchdog(store: store, engine: engine, systemd: systemd, logger: logger) },
        ]

        for await signal in signals.events {
            switch signal {
            case .reload:
                systemd.reloading()
                reload(engine: engine, logger: logger)
                systemd.ready(status: await statusLine(engine))
            case .stop:
                systemd.stopping()
                logger.notice("stopping: no new work, running jobs get shutdown_grace", metadata: ["grace_ms": "\(engine.config.shutdownGraceMs)"])
                background.forEach { $0.cancel() }
                server.stopAccepting()
                await engine.shutdown()
                await http?.stop()
                server.close()
                await store.drain()
                store.close()
                logger.notice("jobqueued stopped")
                return
            }
        }
    }

    /// `STATUS=` for systemctl status: jobs waiting and workers busy.
    private func statusLine(_ engine: Engine) async -> String {
        guard let stats = try? await engine.stats() else { return "running" }
        let queued = stats.queues.values.reduce(0) { $0 + ($1.counts[.queued] ?? 0) }
        let scheduled = stats.queues.values.reduce(0) { $0 + ($1.counts[.scheduled] ?? 0) + ($1.counts[.retrying] ?? 0) }
        return "\(queued) queued, \(scheduled) waiting, \(stats.busy) of \(stats.workers) workers busy"
    }

    private func reportStatus(_ engine: Engine, to systemd: SystemdNotifier) async {
        guard systemd.isActive else { return }
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(5))
            systemd.status(await statusLine(engine))
        }
    }

    /// `WATCHDOG=1` at half of `WATCHDOG_USEC`, only while a write round trip
    /// through the store's writer completes in time: a stuck writer (or a
    /// database that takes no writes) stops the pings, and systemd restarts us.
    private func feedWatchdog(store: any JobStorage, engine: Engine, systemd: SystemdNotifier, logger: Logger) async {
        guard systemd.isActive, let interval = WatchdogInterval.half() else { return }
        let clock = ContinuousClock()
        while !Task.isCancelled {
            let started = clock.now
            let written = (try? await store.checkWriter()) != nil  // never returns while the writer is stuck
            let took = clock.now - started
            if written && took < interval && !engine.isStopping {
                systemd.watchdog()
            } else {
                logger.warning("watchdog: the database writer did not answer in time; not pinging systemd",
                               metadata: ["took_ms": "\(took.components.seconds * 1000 + took.components.attoseconds / 1_000_000_000_000_000)"])
            }
            try? await Task.sleep(for: max(interval - took, .milliseconds(1)))
        }
    }

    /// SIGHUP: read the config again; a broken file keeps the running one.
    private func reload(engine: Engine, logger: Logger) {
        let file = paths.configFile
        do {
            var config = try ConfigLoader().load(path: file.path, mustExist: file.mustExist)
            if let workers { config.workers = workers }
            config.durability = engine.config.durability  // needs a restart
            config.http = engine.config.http  // so does the listener
            engine.update(config)
            logger.notice("configuration reloaded", metadata: ["config": "\(file.path)"])
        } catch {
            for problem in error.problems {
                logger.error("configuration not reloaded, keeping the running one", metadata: ["config": "\(file.path)", "problem": "\(problem)"])
            }
        }
    }
}

/// The store `database` names: PostgreSQL for a postgres:// URL, else the SQLite file.
func openStorage(_ database: String, config: DaemonConfig, logger: Logger) async throws -> any JobStorage {
    guard PostgresOptions.isPostgresURL(database) else {
        return try openStore(path: database, durability: config.durability == .full ? .full : .normal, logger: logger)
    }
    do throws(StoreError) {
        return try await PostgresStore.open(postgresOptions(database, config), logger: logger)
    } catch {
        FileHandle.standardError.write(Data("jobqueued: \(error.description)\n".utf8))
        if case .schemaTooNew = error { throw exitConfig }
        throw ExitCode.failure
    }
}

func postgresOptions(_ url: String, _ config: DaemonConfig) -> PostgresOptions {
    var options = PostgresOptions(url: url, nodeName: config.cluster.resolvedNodeName)
    options.pool = config.cluster.pool
    options.passwordFile = config.cluster.passwordFile
    options.notify = config.cluster.notify
    options.requestTimeoutMs = config.cluster.requestTimeoutMs
    options.leaseMs = config.cluster.leaseMs
    options.maxActiveJobs = config.limits.maxQueuedJobs
    return options
}

/// Opens and migrates the database, creating its folder (0750) if missing.
func openStore(path: String, durability: StoreOptions.Durability, logger: Logger) throws -> JobStore {
    let folder = (path as NSString).deletingLastPathComponent
    if !folder.isEmpty && !FileManager.default.fileExists(atPath: folder) {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
    }
    var options = StoreOptions(path: path)
    options.durability = durability
    do {
        return try JobStore.open(options)
    } catch {
        FileHandle.standardError.write(Data("jobqueued: \(error.description)\n".utf8))
        if case .schemaTooNew = error { throw exitConfig }
        throw ExitCode.failure
    }
}

extension Run {
    /// The HTTP listener, when `http.listen` is set (OBSERVABILITY.md): the
    /// token file made if missing, the dashboard's URL logged.
    func startHTTP(config: DaemonConfig, engine: Engine, service: RPCService, eventLoop: any EventLoop,
                   connections: ConnectionCount, logger: Logger) async throws -> HTTPListener? {
        guard let address = config.http.listen else { return nil }
        let database = paths.database(config)
        let tokenFile = config.http.tokenFile ?? AccessToken.defaultPath(database: PostgresOptions.isPostgresURL(database) ? paths.defaults.database : database)
        let token = try AccessToken.loadOrCreate(path: tokenFile)
        if !address.isLoopback {
            logger.warning("the HTTP listener is open to other machines: the token is all that guards it", metadata: ["listen": "\(address)"])
        }
        let listener = try await HTTPListener.start(
            config.http, address: address, token: token, engine: engine, service: service, eventLoop: eventLoop,
            connections: { connections.server.withLock { $0?.openConnections ?? 0 } }, version: JobqueueVersion.current, logger: logger)
        service.listenerStarted(HTTPListenerInfo(url: listener.url, tokenFile: tokenFile))
        if case .tcp = address {
            logger.notice("dashboard", metadata: ["url": "\(listener.url)?token=\(token.value)"])
        } else {
            logger.notice("dashboard", metadata: ["url": "\(listener.url)"])
        }
        return listener
    }
}

/// The RPC server once it exists (the HTTP listener starts before it and
/// counts its connections for `/metrics`).
final class ConnectionCount: Sendable {
    let server = Mutex<RPCServer?>(nil)
}
