import Foundation

// --http: the daemon runs its HTTP listener, and a scraper reads /metrics
// every second during the run (as Prometheus would, 15 times as often).
// --http-abuse (implies --http): also 200 idle HTTP connections and a
// slowloris sending one header byte every 100 ms for the whole run.
let httpOn = arguments.contains("--http") || arguments.contains("--http-abuse")
let httpAbuse = arguments.contains("--http-abuse")

/// The HTTP clients around one run of the workloads; stops with `stop()`.
final class HTTPLoad: @unchecked Sendable {
    private let port: Int
    private let lock = NSLock()
    private var running = true
    private var sockets: [Int32] = []
    private(set) var scrapes = 0

    init(socket: String) throws {
        let ping = try SocketClient(path: socket).call("ping")
        let url = ping.member("http")?.member("url")?.string ?? ""
        port = Int(url.split(separator: ":").last?.filter(\.isNumber) ?? "") ?? 0
        check(port > 0, "the daemon's HTTP listener is off (ping has no http.url)")
        if httpAbuse {
            sockets = (0..<200).compactMap { _ in Self.connect(port) }
            check(sockets.count == 200, "200 idle HTTP connections")
            if let loris = Self.connect(port) {
                sockets.append(loris)
                Thread { [self] in slowloris(loris) }.start()
            }
        }
        Thread { [self] in scrapeEverySecond() }.start()
    }

    private var isRunning: Bool { lock.withLock { running } }

    func stop() {
        lock.withLock { running = false }
        for fd in sockets { close(fd) }
    }

    private func scrapeEverySecond() {
        while isRunning {
            if let fd = Self.connect(port) {
                let request = Array("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8)
                _ = send(fd, request, request.count, Int32(MSG_NOSIGNAL))
                var buffer = [UInt8](repeating: 0, count: 65536)
                var total = 0
                while true {
                    let n = read(fd, &buffer, buffer.count)
                    if n <= 0 { break }
                    total += n
                }
                close(fd)
                if total > 0 { lock.withLock { scrapes += 1 } }
            }
            usleep(1_000_000)
        }
    }

    private func slowloris(_ fd: Int32) {
        let head = Array("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ".utf8)
        var index = 0
        while isRunning {
            let byte = index < head.count ? head[index] : UInt8(ascii: "a")
            _ = send(fd, [byte], 1, Int32(MSG_NOSIGNAL))
            index += 1
            usleep(100_000)
        }
    }

    static func connect(_ port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 {
            close(fd)
            return nil
        }
        return fd
    }
}
