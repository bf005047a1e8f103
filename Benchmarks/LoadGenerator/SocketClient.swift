import Foundation
import JobCore

/// A blocking JSON-RPC client on the Unix socket, as any client would write it.
final class SocketClient {
    private let fd: Int32
    private var buffer: [UInt8] = []
    private var nextID = 0

    init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8)
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        // No close(fd) here: deinit closes it (it runs once every property is set).
        guard rc == 0 else { throw LoadError.failed("cannot connect to \(path)") }
    }

    deinit { close(fd) }

    /// One call; returns the `result` value, or throws the error message.
    func call(_ method: String, _ params: String = "{}") throws -> JSONValue {
        nextID += 1
        let line = #"{"jsonrpc":"2.0","id":\#(nextID),"method":"\#(method)","params":\#(params)}"# + "\n"
        var bytes = Array(line.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw LoadError.failed("send failed") }
            offset += n
        }
        let response = try JSONReader.parse(try readLine())
        if let error = response.member("error") { throw LoadError.failed(error.rawText) }
        guard let result = response.member("result") else { throw LoadError.failed("no result") }
        return result
    }

    private func readLine() throws -> [UInt8] {
        while true {
            if let newline = buffer.firstIndex(of: 10) {
                let line = Array(buffer[..<newline])
                buffer.removeFirst(newline + 1)
                return line
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = read(fd, &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw LoadError.failed("connection closed") }
            buffer += chunk[..<n]
        }
    }
}

enum LoadError: Error, CustomStringConvertible {
    case failed(String)
    var description: String {
        switch self { case .failed(let m): m }
    }
}
