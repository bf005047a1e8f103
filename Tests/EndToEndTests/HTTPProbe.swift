import Foundation
import Testing

/// A minimal HTTP/1.1 client for the tests (its own socket code, one
/// request per connection), over TCP or a Unix socket.
struct HTTPReply {
    var status: Int
    /// Lower-cased names.
    var headers: [String: String]
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }

    func json() throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] ?? [:]
    }

    /// `error.code` of an error answer.
    var errorCode: Int? { ((try? json())?["error"] as? [String: Any])?["code"] as? Int }
    /// A member of a JSON object answer.
    func member(_ key: String) -> Any? { (try? json())?[key] }
}

enum HTTPProbe {
    enum Target {
        case tcp(port: Int)
        case unix(String)
    }

    static func request(_ target: Target, _ method: String, _ path: String, headers: [String: String] = [:],
                        body: String? = nil) throws -> HTTPReply {
        let fd: Int32
        switch target {
        case .tcp(let port): fd = try connectTCP(port: port)
        case .unix(let path):
            fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            guard withUnixAddress(path, { connect(fd, $0, $1) }) == 0 else {
                close(fd)
                throw ClientError.cannotConnect(String(cString: strerror(errno)))
            }
        }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let payload = Array((body ?? "").utf8)
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if body != nil || method == "POST" { head += "Content-Length: \(payload.count)\r\n" }
        let bytes = Array((head + "\r\n").utf8) + payload
        guard send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else { throw ClientError.closed }
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw ClientError.timedOut }
            if n == 0 { break }
            received += chunk[..<n]
        }
        return try parse(received)
    }

    static func connectTCP(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            close(fd)
            throw ClientError.cannotConnect(String(cString: strerror(errno)))
        }
        return fd
    }

    private static func parse(_ bytes: [UInt8]) throws -> HTTPReply {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = (0..<max(bytes.count - 3, 0)).first(where: { Array(bytes[$0..<$0 + 4]) == separator }) else {
            throw ClientError.failed("no HTTP head in \(bytes.count) bytes")
        }
        let lines = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let status = Int(lines[0].split(separator: " ")[1]) ?? 0
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Array(bytes[(end + 4)...])
        if headers["transfer-encoding"] == "chunked" { body = unchunk(body) }
        return HTTPReply(status: status, headers: headers, body: body)
    }

    private static func unchunk(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var index = 0
        while index < bytes.count {
            guard let lineEnd = (index..<bytes.count - 1).first(where: { bytes[$0] == 13 && bytes[$0 + 1] == 10 }),
                  let size = Int(String(decoding: bytes[index..<lineEnd], as: UTF8.self), radix: 16), size > 0 else { break }
            out += bytes[(lineEnd + 2)..<min(lineEnd + 2 + size, bytes.count)]
            index = lineEnd + 2 + size + 2
        }
        return out
    }
}

/// `/metrics` as a map from a series (`name{labels}` as written) to its value.
func parseMetrics(_ text: String) -> [String: Double] {
    var series: [String: Double] = [:]
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
        guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
        series[String(line[..<space])] = value
    }
    return series
}

extension Daemon {
    /// The HTTP listener's port, from `ping` (the config says port 0).
    func httpPort() throws -> Int {
        let ping = try client().call("ping")
        let url = try #require((ping["http"] as? [String: Any])?["url"] as? String)
        return try #require(Int(url.split(separator: ":").last?.trimmingCharacters(in: CharacterSet(charactersIn: "/")) ?? ""))
    }

    var httpToken: String {
        ((try? String(contentsOfFile: folder + "/http.token", encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
