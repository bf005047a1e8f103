import Foundation

/// A minimal blocking client for the tests: its own socket code and
/// Foundation's JSON, independent of the daemon's.
final class Client: @unchecked Sendable {  // a test may write on one thread and read on another
    let fd: Int32
    private var buffer: [UInt8] = []
    private var nextID = 0

    init(_ path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        let rc = withUnixAddress(path) { connect(fd, $0, $1) }
        // No close(fd) here: deinit runs for a class whose init throws once
        // every property is set, and a second close could hit another test's fd.
        if rc != 0 { throw ClientError.cannotConnect(String(cString: strerror(errno))) }
        // Longer than any wait a test sends: a read that times out is a failure.
        var timeout = timeval(tv_sec: 120, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func send(_ line: String) throws {
        try sendBytes(Array((line + "\n").utf8))
    }

    func sendBytes(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { throw ClientError.closed }
            offset += n
        }
    }

    /// The next line from the daemon, nil when it closed the connection.
    func readLine() throws -> String? {
        while true {
            if let newline = buffer.firstIndex(of: 10) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeFirst(newline + 1)
                return line
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = read(fd, &chunk, chunk.count)
            if n == 0 { return nil }
            if n < 0 {
                if errno == EINTR { continue }
                throw errno == EAGAIN ? ClientError.timedOut : ClientError.failed(String(cString: strerror(errno)))
            }
            buffer += chunk[..<n]
        }
    }

    func readJSON() throws -> [String: Any] {
        guard let line = try readLine() else { throw ClientError.closed }
        return try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
    }

    /// Sends a request and returns the whole response object.
    func request(_ method: String, _ params: [String: Any]? = nil) throws -> [String: Any] {
        nextID += 1
        var message: [String: Any] = ["jsonrpc": "2.0", "id": nextID, "method": method]
        if let params { message["params"] = params }
        try send(String(decoding: try JSONSerialization.data(withJSONObject: message), as: UTF8.self))
        return try readJSON()
    }

    /// The `result` of a call, or throws the RPC error.
    @discardableResult
    func call(_ method: String, _ params: [String: Any]? = nil) throws -> [String: Any] {
        let response = try request(method, params)
        if let error = response["error"] as? [String: Any] {
            throw RPCFailure(code: error["code"] as! Int, message: error["message"] as! String)
        }
        return response["result"] as! [String: Any]
    }

    /// The error code a call ends with (nil if it succeeded).
    func errorCode(_ method: String, _ params: [String: Any]? = nil) throws -> Int? {
        let response = try request(method, params)
        return (response["error"] as? [String: Any])?["code"] as? Int
    }

    func enqueue(_ handler: String, _ extra: [String: Any] = [:]) throws -> Int {
        try call("enqueue", extra.merging(["handler": handler]) { $1 })["id"] as! Int
    }

    func get(_ id: Int) throws -> [String: Any] { try call("get", ["id": id]) }

    func wait(_ id: Int, timeoutMs: Int = 60_000) throws -> [String: Any] { try call("wait", ["id": id, "timeout_ms": timeoutMs]) }
}

struct RPCFailure: Error, CustomStringConvertible {
    var code: Int
    var message: String
    var description: String { "\(code): \(message)" }
}

/// Calls `body` (connect, bind) with `path` as a `sockaddr_un`.
func withUnixAddress(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        let bytes = Array(path.utf8)
        raw.copyBytes(from: bytes)
        raw[bytes.count] = 0
    }
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
}

enum ClientError: Error {
    case cannotConnect(String)
    case closed
    case timedOut
    case failed(String)
}
