import ArgumentParser
import Foundation
import JobEngine
import JobRPC
import JobStore
import JobStorePostgres
import Logging
import SystemdSupport

/// `jobqueued`: the command line of DAEMON.md.
@main
struct JobqueuedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobqueued",
        abstract: "The jobqueue daemon: keeps jobs in SQLite, runs them, answers on a Unix socket.",
        version: JobqueueVersion.current,
        subcommands: [Run.self, Migrate.self, CheckConfig.self],
        defaultSubcommand: Run.self
    )
}

/// EX_CONFIG of sysexits.h: the exit status of every start-up error that
/// the operator must fix (config, socket in use, database too new).
let exitConfig = ExitCode(78)

/// Options every form of the command shares.
struct PathOptions: ParsableArguments {
    @Option(name: .long, help: "The config file (default: /etc/jobqueue/jobqueued.yaml, or ~/.config/jobqueue/jobqueued.yaml per user).")
    var config: String?

    @Option(name: .long, help: "The SQLite database, or a postgres:// URL (default: the config's database, else $STATE_DIRECTORY/jobs.db, /var/lib/jobqueue/jobs.db, or ~/.local/state/jobqueue/jobs.db).")
    var db: String?

    var defaults: DefaultPaths {
        DefaultPaths(environment: ProcessInfo.processInfo.environment, uid: getuid())
    }

    /// The config file, and whether it must exist (it must when named).
    var configFile: (path: String, mustExist: Bool) {
        config.map { ($0, true) } ?? (defaults.config, false)
    }

    /// `--db`, else the config's `database:`, else the default SQLite file.
    func database(_ config: DaemonConfig) -> String { db ?? config.cluster.database ?? defaults.database }

    /// Loads the config or prints every problem on stderr.
    func loadConfig() throws(ExitCode) -> DaemonConfig {
        let file = configFile
        do {
            return try ConfigLoader().load(path: file.path, mustExist: file.mustExist)
        } catch {
            FileHandle.standardError.write(Data("jobqueued: invalid configuration\n\(error.description)\n".utf8))
            throw exitConfig
        }
    }
}

func makeLogger(level: Logger.Level) -> Logger {
    let journal = JournalStream.stderrIsJournal()
    var logger = Logger(label: "jobqueued") { _ in StderrLogHandler(logLevel: level, journalPrefixes: journal) }
    logger.logLevel = level
    return logger
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending migrations to the database and exit.")

    @Option(name: .long, help: "The SQLite database, or a postgres:// URL.")
    var db: String?

    @Option(name: .long, help: "The config file (for its database:, postgres: and node: settings).")
    var config: String?

    func run() async throws {
        var paths = PathOptions()
        paths.db = db
        paths.config = config
        let logger = makeLogger(level: .info)
        let daemonConfig = try paths.loadConfig()
        let database = paths.database(daemonConfig)
        if PostgresOptions.isPostgresURL(database) {
            do throws(StoreError) {
                try await PostgresStore.migrate(postgresOptions(database, daemonConfig), logger: logger)
            } catch {
                FileHandle.standardError.write(Data("jobqueued: \(error.description)\n".utf8))
                if case .schemaTooNew = error { throw exitConfig }
                throw ExitCode.failure
            }
        } else {
            try openStore(path: database, durability: .full, logger: logger).close()
        }
        logger.info("database is up to date", metadata: ["database": "\(PostgresOptions.redacted(database))"])
    }
}

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config", abstract: "Validate the config file: exit 0, or print every problem and exit 78.")

    @Option(name: .long, help: "The config file.")
    var config: String?

    func run() async throws {
        var paths = PathOptions()
        paths.config = config
        _ = try paths.loadConfig()
        print("\(paths.configFile.path): ok")
    }
}
