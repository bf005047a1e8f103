/// The default paths of DAEMON.md and PROTOCOL.md, for the system service
/// (run by systemd, or as root) and for a per-user daemon. Pure: the
/// environment and uid come in as parameters.
public struct DefaultPaths: Sendable, Equatable {
    public var config: String
    public var database: String
    public var socket: String
    public var isSystem: Bool

    /// System mode: root, or a system unit of systemd (its `StateDirectory=`
    /// under /var/lib or `RuntimeDirectory=` under /run), which may run as
    /// a dedicated user. A user unit's `RuntimeDirectory=` is under
    /// /run/user/UID: that is a per-user daemon (taken for a system one, it
    /// read /etc's config and opened the system database, read-only).
    public init(environment: [String: String], uid: UInt32) {
        let home = environment["HOME"] ?? "/root"
        let runtime = environment["RUNTIME_DIRECTORY"]
        isSystem = uid == 0 || environment["STATE_DIRECTORY"]?.hasPrefix("/var/lib/") == true
            || (runtime?.hasPrefix("/run/") == true && runtime?.hasPrefix("/run/user/") == false)
        if isSystem {
            config = "/etc/jobqueue/jobqueued.yaml"
            database = environment["STATE_DIRECTORY"].map { Self.first($0) + "/jobs.db" } ?? "/var/lib/jobqueue/jobs.db"
            socket = environment["RUNTIME_DIRECTORY"].map { Self.first($0) + "/jobqueued.sock" } ?? "/run/jobqueue/jobqueued.sock"
        } else {
            let configHome = environment["XDG_CONFIG_HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil } ?? home + "/.config"
            let stateHome = environment["XDG_STATE_HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil } ?? home + "/.local/state"
            config = configHome + "/jobqueue/jobqueued.yaml"
            database = environment["STATE_DIRECTORY"].map { Self.first($0) + "/jobs.db" } ?? stateHome + "/jobqueue/jobs.db"
            if let runtime = environment["RUNTIME_DIRECTORY"] {
                socket = Self.first(runtime) + "/jobqueued.sock"
            } else if let xdg = environment["XDG_RUNTIME_DIR"], xdg.hasPrefix("/") {
                socket = xdg + "/jobqueue/jobqueued.sock"
            } else {
                socket = "/tmp/jobqueue-\(uid)/jobqueued.sock"
            }
        }
        if let override = environment["JOBQUEUE_SOCKET"], !override.isEmpty { socket = override }
    }

    /// systemd passes several directories separated by colons; ours is the first.
    private static func first(_ list: String) -> String {
        String(list.split(separator: ":").first ?? Substring(list))
    }
}
