import Foundation
import Yams

/// `database:`, `postgres:` and `node:` (CLUSTER.md, "Configuration").
extension DaemonConfig {
    public struct Cluster: Sendable, Equatable {
        /// `database:` from the file: an SQLite path, or a postgres:// URL (`--db` wins).
        public var database: String?
        /// Connections per daemon for requests (the LISTEN one comes on top).
        public var pool = 8
        public var passwordFile: String?
        /// false: poll every second instead of LISTEN/NOTIFY (PgBouncer in transaction mode).
        public var notify = true
        /// How long a request waits for the database (`postgres.request_timeout`).
        public var requestTimeoutMs: Int64 = 5000
        /// Unique in the cluster; nil: the host name.
        public var nodeName: String?
        public var leaseMs: Int64 = 30_000

        public init() {}

        /// The node's name: the configured one, else the host name.
        public var resolvedNodeName: String {
            nodeName ?? ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "node"
        }
    }
}

extension Reader {
    mutating func readPostgres(_ node: Node, into cluster: inout DaemonConfig.Cluster) {
        for (name, _, value) in mapping(node, "postgres", known: ["pool", "password_file", "notify", "request_timeout"]) {
            let key = "postgres.\(name)"
            switch name {
            case "pool": if let n = int(value, key, min: 1) { cluster.pool = n }
            case "password_file":
                guard let path = scalar(value, key) else { continue }
                if path.hasPrefix("/") { cluster.passwordFile = path } else { problem(value, key, "expected an absolute path, got \"\(path)\"") }
            case "notify":
                if let flag = value.bool { cluster.notify = flag } else { problem(value, key, "expected true or false") }
            case "request_timeout":
                guard let ms = duration(value, key) else { continue }
                if ms < 1000 { problem(value, key, "expected at least 1s") } else { cluster.requestTimeoutMs = ms }
            default: break
            }
        }
    }

    mutating func readNode(_ node: Node, into cluster: inout DaemonConfig.Cluster) {
        for (name, _, value) in mapping(node, "node", known: ["name", "lease"]) {
            let key = "node.\(name)"
            switch name {
            case "name":
                guard let text = scalar(value, key) else { continue }
                let allowed = text.allSatisfy { $0.isLetter || $0.isNumber || "-_.".contains($0) }
                if text.isEmpty || text.utf8.count > 128 || !allowed {
                    problem(value, key, "expected 1 to 128 letters, digits, '-', '_' or '.', got \"\(text)\"")
                } else {
                    cluster.nodeName = text
                }
            case "lease":
                guard let ms = duration(value, key) else { continue }
                if ms < 3000 { problem(value, key, "expected at least 3s") } else { cluster.leaseMs = ms }
            default: break
            }
        }
    }
}
