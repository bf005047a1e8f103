import CSpawn
import Foundation

/// A private PostgreSQL server for the tests: Debian's `postgresql` binaries
/// (`/usr/lib/postgresql/N/bin`), a cluster made with `initdb` in a temp
/// folder, started with `pg_ctl` on a free loopback port, as the `postgres`
/// user when the tests run as root (PostgreSQL refuses to run as root).
/// One server per test process; each test makes its own database. Stopped
/// (immediate mode) and removed when the process exits.
public final class PostgresTestServer: Sendable {
    public let folder: String
    public let port: Int
    public let user = "jobqueue"
    let tools: Tools

    /// The server of this process, started on first use.
    public static func shared() throws -> PostgresTestServer {
        if let server = started.withLock({ $0.shared }) { return server }
        let server = try dedicated()
        return started.withLock { state in
            if let first = state.shared { return first }  // another test started one meanwhile (this one stops at exit)
            state.shared = server
            return server
        }
    }

    /// A server of its own, for a test that stops or restarts it.
    /// `listen`: addresses besides 127.0.0.1 (they must exist already);
    /// `allow`: a network (CIDR) whose clients it lets in.
    public static func dedicated(listen: [String] = [], allow: String? = nil) throws -> PostgresTestServer {
        let server = try PostgresTestServer(listen: listen, allow: allow)
        started.withLock { state in
            if state.all.isEmpty { atexit { PostgresTestServer.stopAll() } }
            state.all.append(server)
        }
        return server
    }

    private static let started = Locked<(shared: PostgresTestServer?, all: [PostgresTestServer])>((nil, []))

    private static func stopAll() {
        for server in started.withLock({ $0.all }) {
            _ = try? server.tools.pgctl(["stop", "-m", "immediate", "-w"])
            try? FileManager.default.removeItem(atPath: server.folder)
        }
    }

    private init(listen: [String] = [], allow: String? = nil) throws {
        guard let bin = Self.findBinaries() else {
            throw Problem("PostgreSQL is not installed: apt-get install postgresql (the tests start their own server)")
        }
        let folder = "/tmp/jqpg-" + UUID().uuidString.prefix(8).lowercased()
        let tools = Tools(binaries: bin, runAs: getuid() == 0 ? "postgres" : nil, folder: folder,
                          listen: (["127.0.0.1"] + listen).joined(separator: ","))
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        if let runAs = tools.runAs { try Tools.run("/bin/chown", [runAs, folder]) }
        try tools.run(bin + "/initdb", ["-D", folder + "/data", "-U", user, "--auth=trust", "-E", "UTF8", "--no-sync"])
        if let allow {
            let hba = try FileHandle(forWritingTo: URL(fileURLWithPath: folder + "/data/pg_hba.conf"))
            hba.seekToEndOfFile()
            hba.write(Data("host all all \(allow) trust\n".utf8))
            try hba.close()
        }
        var lastError: (any Error)?
        for _ in 0..<5 {
            let port = try Self.freePort()
            do {
                try tools.start(port: port)
                self.port = port
                self.folder = folder
                self.tools = tools
                return
            } catch {
                lastError = error  // the port was taken meanwhile: another
            }
        }
        throw lastError ?? Problem("PostgreSQL did not start")
    }

    /// A new, empty database; its URL for `--db` / `database:`.
    public func makeDatabase() throws -> String {
        let name = "t_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: "")
        try psql("CREATE DATABASE \(name)")
        return url(database: name)
    }

    public func url(database: String) -> String {
        "postgres://\(user)@127.0.0.1:\(port)/\(database)"
    }

    /// Runs SQL in `database` with psql; returns its unaligned output.
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres") throws -> String {
        try tools.run(tools.binaries + "/psql", ["-h", "127.0.0.1", "-p", "\(port)", "-U", user, "-d", database,
                                     "-v", "ON_ERROR_STOP=1", "-At", "-c", sql])
    }

    /// Appends `settings` to postgresql.conf, puts `hbaFirst` before the
    /// other lines of pg_hba.conf (the first match decides), and restarts.
    /// `owned`: files the server must read (a key), given to its user.
    public func reconfigure(settings: [String] = [], hbaFirst: [String] = [], owned: [String] = []) throws {
        let data = folder + "/data"
        let conf = try String(contentsOfFile: data + "/postgresql.conf", encoding: .utf8)
        try (conf + "\n" + settings.joined(separator: "\n") + "\n").write(toFile: data + "/postgresql.conf", atomically: false, encoding: .utf8)
        let hba = try String(contentsOfFile: data + "/pg_hba.conf", encoding: .utf8)
        try (hbaFirst.joined(separator: "\n") + "\n" + hba).write(toFile: data + "/pg_hba.conf", atomically: false, encoding: .utf8)
        if let user = tools.runAs { for path in owned { try Tools.run("/bin/chown", [user, path]) } }
        try restart()
    }

    /// Stops the server (fast mode) and starts it again on the same port.
    public func restart(downFor pause: Duration = .zero) throws {
        try tools.pgctl(["stop", "-m", "fast", "-w"])
        Thread.sleep(forTimeInterval: Double(pause.components.seconds) + Double(pause.components.attoseconds) / 1e18)
        try tools.start(port: port)
    }
}

/// The server's programs, run as the user that owns its folder.
struct Tools: Sendable {
    let binaries: String
    let runAs: String?
    let folder: String
    let listen: String

    func start(port: Int) throws {
        try pgctl(["start", "-w", "-t", "60", "-l", folder + "/server.log",
                   "-o", "-p \(port) -k \(folder) -c listen_addresses=\(listen) -c max_connections=1000 -c fsync=on"])
    }

    @discardableResult
    func pgctl(_ arguments: [String]) throws -> String {
        try run(binaries + "/pg_ctl", ["-D", folder + "/data"] + arguments)
    }

    @discardableResult
    func run(_ tool: String, _ arguments: [String]) throws -> String {
        if let runAs { return try Self.run("/usr/sbin/runuser", ["-u", runAs, "--", tool] + arguments) }
        return try Self.run(tool, arguments)
    }

    /// Runs `tool` and returns its output: CSpawn (every descriptor above 2
    /// closed in the child) and waitpid, not Foundation's Process, whose
    /// output pipe stays open while the server, a grandchild that outlives
    /// the call, holds it.
    @discardableResult
    static func run(_ tool: String, _ arguments: [String]) throws -> String {
        let output = "/tmp/jqpg-out-" + UUID().uuidString.prefix(8).lowercased()
        defer { unlink(output) }
        let input = open("/dev/null", O_RDONLY | O_CLOEXEC)
        let out = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        defer { close(input); close(out) }
        let argv = ([tool] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        // CSpawn closes every other descriptor in the child: the server
        // outlives the call, and a pipe end it inherited from another test's
        // child would never close (that test would wait for EOF forever).
        let spawned = cspawn_start(argv, environ, nil, input, out, out, &pid)
        guard spawned == 0 else { throw PostgresTestServer.Problem("cannot run \(tool): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let text = ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let exited = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        guard exited == 0 else {
            throw PostgresTestServer.Problem("\(tool) \(arguments.joined(separator: " ")) exited \(exited): \(text)")
        }
        return text
    }
}

extension PostgresTestServer {
    static func findBinaries() -> String? {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted()
        return versions.reversed().map { "\(root)/\($0)/bin" }.first { FileManager.default.isExecutableFile(atPath: $0 + "/initdb") }
    }

    /// A loopback port nobody listens on now.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw Problem("cannot find a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    public struct Problem: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }
}

/// A value behind a lock (the harness runs on whatever thread a test has).
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()

    init(_ value: Value) { self.value = value }

    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
