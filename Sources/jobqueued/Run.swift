import ArgumentParser
import Foundation
import JobCore
import JobEngine
import JobRPC
import JobServer
import JobStore
import Logging

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
        let logger = makeLogger(level: logLevel)
        var config = try paths.loadConfig()
        if let workers { config.workers = workers }
        let socketPath = socket ?? paths.defaults.socket

        let store = try openStore(path: paths.databasePath, durability: config.durability == .full ? .full : .normal, logger: logger)
        let engine = Engine(store: store, config: config, logger: logger)
        _ = try await engine.recoverInterruptedJobs()
        let service = RPCService(engine: engine, version: JobqueueVersion.current, logger: logger)
        let server: RPCServer
        do {
            server = try RPCServer.start(path: socketPath, service: service, engine: engine, logger: logger)
        } catch {
            FileHandle.standardError.write(Data("jobqueued: \(error.description)\n".utf8))
            store.close()
            throw exitConfig
        }
        engine.start()
        logger.notice("jobqueued started", metadata: [
            "version": "\(JobqueueVersion.current)", "database": "\(paths.databasePath)", "socket": "\(socketPath)",
            "workers": "\(config.workers)", "sqlite": "\(JobStore.sqliteVersion)", "durability": "\(config.durability.rawValue)",
        ])

        let signals = SignalWatcher()
        for await signal in signals.events {
            switch signal {
            case .reload:
                reload(engine: engine, logger: logger)
            case .stop:
                logger.notice("stopping: no new work, running jobs get shutdown_grace", metadata: ["grace_ms": "\(engine.config.shutdownGraceMs)"])
                server.stopAccepting()
                await engine.shutdown()
                server.close()
                store.close()
                logger.notice("jobqueued stopped")
                return
            }
        }
    }

    /// SIGHUP: read the config again; a broken file keeps the running one.
    private func reload(engine: Engine, logger: Logger) {
        let file = paths.configFile
        do {
            var config = try ConfigLoader().load(path: file.path, mustExist: file.mustExist)
            if let workers { config.workers = workers }
            config.durability = engine.config.durability  // needs a restart
            engine.update(config)
            logger.notice("configuration reloaded", metadata: ["config": "\(file.path)"])
        } catch {
            for problem in error.problems {
                logger.error("configuration not reloaded, keeping the running one", metadata: ["config": "\(file.path)", "problem": "\(problem)"])
            }
        }
    }
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
