import Foundation

/// Debian's `pgbouncer` in front of a test server, in transaction pooling
/// mode (docs/cluster.md, "PgBouncer"), run as the server's user from a
/// folder of its own. Stopped when the value goes.
public final class PgBouncer: Sendable {
    public let port: Int
    private let folder: String
    private let server: PostgresTestServer

    public static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: "/usr/sbin/pgbouncer") }

    /// `ignoredStartupParameters`: what PgBouncer lets clients send that it
    /// does not know (it refuses the connection otherwise).
    public init(inFrontOf of: PostgresTestServer, ignoredStartupParameters: [String] = []) throws {
        server = of
        folder = of.folder + "/bouncer-" + UUID().uuidString.prefix(6).lowercased()
        port = try PostgresTestServer.freePort()
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try "\"\(of.user)\" \"\"\n".write(toFile: folder + "/users.txt", atomically: true, encoding: .utf8)
        try """
            [databases]
            * = host=127.0.0.1 port=\(of.port)
            [pgbouncer]
            listen_addr = 127.0.0.1
            listen_port = \(port)
            unix_socket_dir =
            auth_type = trust
            auth_file = \(folder)/users.txt
            pool_mode = transaction
            max_client_conn = 500
            default_pool_size = 20
            ignore_startup_parameters = \(ignoredStartupParameters.joined(separator: ","))
            logfile = \(folder)/pgbouncer.log
            pidfile = \(folder)/pgbouncer.pid

            """.write(toFile: folder + "/pgbouncer.ini", atomically: true, encoding: .utf8)
        if let user = of.tools.runAs { try Tools.run("/bin/chown", ["-R", user, folder]) }
        try of.tools.run("/usr/sbin/pgbouncer", ["-d", folder + "/pgbouncer.ini"])
        // Daemonized: wait until it listens.
        for _ in 0..<100 {
            if (try? of.tools.run(of.tools.binaries + "/pg_isready", ["-h", "127.0.0.1", "-p", "\(port)", "-q"])) != nil { return }
            usleep(50_000)
        }
        throw PostgresTestServer.Problem("pgbouncer did not start: \(log)")
    }

    deinit {
        if let pid = (try? String(contentsOfFile: folder + "/pgbouncer.pid", encoding: .utf8)).flatMap({ Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }) {
            kill(pid, SIGTERM)
        }
    }

    public var log: String { (try? String(contentsOfFile: folder + "/pgbouncer.log", encoding: .utf8)) ?? "" }

    /// `database`'s URL through the bouncer.
    public func url(database: String) -> String {
        "postgres://\(server.user)@127.0.0.1:\(port)/\(database)"
    }
}
