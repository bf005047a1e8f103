import Yams

/// The HTTP listener's settings (OBSERVABILITY.md, "The HTTP listener").
extension DaemonConfig {
    public struct HTTP: Sendable, Equatable {
        /// Where to listen; nil: no listener (the default).
        public var listen: HTTPAddress?
        /// The token's file; nil: `http.token` beside the database.
        public var tokenFile: String?
        /// Whether `/metrics` needs the token too (else it is open: read-only counts).
        public var metricsNeedToken = false

        public init(listen: HTTPAddress? = nil, tokenFile: String? = nil, metricsNeedToken: Bool = false) {
            self.listen = listen
            self.tokenFile = tokenFile
            self.metricsNeedToken = metricsNeedToken
        }
    }
}

/// `http.listen`: a TCP host and port, or a Unix socket (`unix:/path`).
public enum HTTPAddress: Sendable, Equatable, CustomStringConvertible {
    case tcp(host: String, port: Int)
    case unix(path: String)

    /// Parses `127.0.0.1:8440`, `[::1]:8440`, `localhost:8440`, `0.0.0.0:8440`
    /// or `unix:/run/jobqueue/http.sock`; nil with the reason otherwise.
    public static func parse(_ text: String) -> Result<HTTPAddress, HTTPAddressError> {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5))
            guard path.hasPrefix("/") else { return .failure(HTTPAddressError("a unix: address needs an absolute path")) }
            guard path.utf8.count < 108 else { return .failure(HTTPAddressError("a Unix socket path must be under 108 bytes")) }
            return .success(.unix(path: path))
        }
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                return .failure(HTTPAddressError("expected [IPv6]:port"))
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else {
                return .failure(HTTPAddressError("expected host:port, [IPv6]:port or unix:/path"))
            }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty else {
            return .failure(HTTPAddressError("the host must be written out (127.0.0.1 for this machine only, 0.0.0.0 for every address)"))
        }
        guard let port = Int(portText), (0...65535).contains(port) else { return .failure(HTTPAddressError("expected a port from 0 to 65535")) }
        return .success(.tcp(host: String(host), port: port))
    }

    /// Whether only this machine can connect (a loopback address or a Unix socket).
    public var isLoopback: Bool {
        switch self {
        case .unix: true
        case .tcp(let host, _): host == "localhost" || host == "::1" || host.hasPrefix("127.")
        }
    }

    public var description: String {
        switch self {
        case .unix(let path): "unix:\(path)"
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        }
    }
}

public struct HTTPAddressError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

extension Reader {
    mutating func readHTTP(_ node: Node, into http: inout DaemonConfig.HTTP) {
        for (name, _, value) in mapping(node, "http", known: ["listen", "token_file", "metrics_need_token"]) {
            let key = "http.\(name)"
            switch name {
            case "listen":
                guard let text = scalar(value, key) else { continue }
                switch HTTPAddress.parse(text) {
                case .success(let address): http.listen = address
                case .failure(let error): problem(value, key, "\(error.description), got \"\(text)\"")
                }
            case "token_file":
                guard let path = scalar(value, key) else { continue }
                if path.hasPrefix("/") { http.tokenFile = path } else { problem(value, key, "expected an absolute path, got \"\(path)\"") }
            case "metrics_need_token":
                if let flag = value.bool { http.metricsNeedToken = flag } else { problem(value, key, "expected true or false") }
            default: break
            }
        }
    }
}
