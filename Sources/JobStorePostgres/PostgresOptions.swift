import Foundation
import JobStore
import NIOSSL
import PostgresNIO

/// How to reach the database and who this node is (CLUSTER.md, "Configuration").
public struct PostgresOptions: Sendable {
    /// `postgres://user[:password]@host[:port]/database`.
    public var url: String
    /// Connections per daemon for requests (the LISTEN one comes on top).
    public var pool = 8
    /// A file whose first line is the password (else the URL's, or $PGPASSWORD).
    public var passwordFile: String?
    /// false: poll every second instead of LISTEN/NOTIFY (PgBouncer in transaction mode).
    public var notify = true
    /// This node's name: unique in the cluster, the `lease_owner` of its jobs.
    public var nodeName: String
    /// How long a node's claims stay valid without a renewal (renewed every lease / 3).
    public var leaseMs: Int64 = 30_000
    /// How long a request waits for the database before it fails with
    /// "database unavailable" (CLUSTER.md: at most 5 s, the default).
    public var requestTimeoutMs: Int64 = 5000
    /// The most requests one transaction holds (group commit).
    public var maxWritesPerTransaction = 512
    public var maxActiveJobs = StoreOptions.defaultMaxActiveJobs
    public var migrations: [Migration] = PostgresMigrations.all

    public init(url: String, nodeName: String) {
        self.url = url
        self.nodeName = nodeName
    }

    /// Whether `database` names PostgreSQL rather than an SQLite file.
    public static func isPostgresURL(_ database: String) -> Bool {
        database.hasPrefix("postgres://") || database.hasPrefix("postgresql://")
    }

    /// The client configuration the URL gives; a clear error for a bad one.
    func clientConfiguration() throws(StoreError) -> PostgresClient.Configuration {
        guard let parts = URLComponents(string: url), let host = parts.host, !host.isEmpty else {
            throw .cannotOpen(path: redactedURL, message: "not a postgres://user@host:port/database URL")
        }
        let database = String(parts.path.drop { $0 == "/" })
        guard !database.isEmpty else { throw .cannotOpen(path: redactedURL, message: "the URL names no database") }
        let user = parts.user ?? ProcessInfo.processInfo.environment["PGUSER"] ?? "jobqueue"
        var password = parts.password ?? ProcessInfo.processInfo.environment["PGPASSWORD"]
        if let passwordFile {
            guard let text = try? String(contentsOfFile: passwordFile, encoding: .utf8) else {
                throw .cannotOpen(path: redactedURL, message: "cannot read password_file \(passwordFile)")
            }
            password = String(text.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
        }
        var tls = PostgresClient.Configuration.TLS.disable
        if let (settings, required) = try tlsSettings(parts) { tls = required ? .require(settings) : .prefer(settings) }
        var configuration = PostgresClient.Configuration(host: host, port: parts.port ?? 5432, username: user, password: password,
                                                         database: database, tls: tls)
        configuration.options.maximumConnections = pool
        configuration.options.minimumConnections = 1
        configuration.options.connectTimeout = .seconds(5)
        // A node cut off in the middle of a transaction leaves its session
        // open on the server, holding its rows' locks, until TCP gives up
        // (hours): SKIP LOCKED would skip those jobs, and nobody could rescue
        // them. The server ends such a session well within the lease.
        configuration.options.additionalStartupParameters = [
            ("idle_in_transaction_session_timeout", String(idleInTransactionTimeoutMs)),
        ]
        return configuration
    }

    /// The URL's `sslmode` (libpq's modes and meaning; the default is
    /// `prefer`) and `sslrootcert` (the CA file to verify the server by;
    /// default: the system's). Nil for `disable`; else the TLS settings and
    /// whether the connection must use them (not for `prefer`).
    func tlsSettings(_ parts: URLComponents) throws(StoreError) -> (settings: TLSConfiguration, required: Bool)? {
        let query = parts.queryItems ?? []
        let mode = query.first { $0.name == "sslmode" }?.value ?? "prefer"
        var settings = TLSConfiguration.makeClientConfiguration()
        if let root = query.first(where: { $0.name == "sslrootcert" })?.value {
            guard FileManager.default.isReadableFile(atPath: root) else {
                throw .cannotOpen(path: redactedURL, message: "cannot read sslrootcert \(root)")
            }
            settings.trustRoots = .file(root)
        }
        switch mode {
        case "disable": return nil
        case "allow", "prefer":
            settings.certificateVerification = .none  // as libpq: encrypted if the server can, not verified
            return (settings, false)
        case "require":
            settings.certificateVerification = .none
            return (settings, true)
        case "verify-ca":
            settings.certificateVerification = .noHostnameVerification
            return (settings, true)
        case "verify-full":
            settings.certificateVerification = .fullVerification
            return (settings, true)
        default:
            throw .cannotOpen(path: redactedURL, message: "sslmode=\(mode): expected disable, allow, prefer, require, verify-ca or verify-full")
        }
    }

    /// Shorter than the lease, so that a dead node's locks are gone by the
    /// time its jobs are due for rescue; long enough for a busy client
    /// between two statements of one transaction.
    var idleInTransactionTimeoutMs: Int64 { min(max(leaseMs - 1000, 2000), 10_000) }

    /// The URL without its password, for logs and errors.
    public var redactedURL: String {
        guard var parts = URLComponents(string: url), parts.password != nil else { return url }
        parts.password = "***"
        return parts.string ?? url
    }
}

extension PostgresOptions {
    /// `database` for logs: a URL without its password, a path as it is.
    public static func redacted(_ database: String) -> String {
        isPostgresURL(database) ? PostgresOptions(url: database, nodeName: "").redactedURL : database
    }
}
