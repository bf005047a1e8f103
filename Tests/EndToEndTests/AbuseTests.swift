import Foundation
import Testing

/// Bad input and bad clients get an error or a closed connection, never a
/// crash, and never hold up other clients.
@Suite(.blocking) struct AbuseTests {
    @Test func malformedInputIsAnsweredAndTheDaemonServesOthers() throws {
        let d = try Daemon()
        let bystander = try d.client()
        let c = try d.client()
        try c.sendBytes([0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x7D, 0x0A])  // invalid UTF-8
        #expect(((try c.readJSON())["error"] as? [String: Any])?["code"] as? Int == -32700)
        try c.send(String(repeating: "[", count: 300) + String(repeating: "]", count: 300))
        #expect(((try c.readJSON())["error"] as? [String: Any])?["code"] as? Int == -32700)
        try c.send(#"{"jsonrpc":"2.0","id":1,"method":"enqueue","params":[1,2]}"#)
        #expect(((try c.readJSON())["error"] as? [String: Any])?["code"] as? Int == -32602)
        #expect(try c.call("ping")["protocol"] as? Int == 1)  // the same connection goes on
        #expect(try bystander.call("ping")["protocol"] as? Int == 1)
    }

    @Test func aTooLargeLineIsRefusedUnreadAndItsConnectionClosed() throws {
        let d = try Daemon()
        let c = try d.client()
        let big = #"{"jsonrpc":"2.0","id":1,"method":"enqueue","params":{"handler":"noop","payload":""# + String(repeating: "x", count: 2 << 20) + "\"}}"
        try? c.send(big)  // the daemon may close before reading it all
        let answer = try #require(try c.readLine())
        #expect(answer.contains("-32600") && answer.contains("message too large") && answer.contains(#""id":null"#))
        // Closed: an end of file, or a reset when the daemon closed with bytes
        // of the line still unread in its socket (the kernel then resets).
        do {
            #expect(try c.readLine() == nil)
        } catch ClientError.failed(let reason) {
            #expect(reason == "Connection reset by peer")
        }
        let other = try d.client()
        #expect((try other.call("list")["jobs"] as! [Any]).isEmpty)  // nothing of it was executed
    }

    @Test func aClientThatNeverReadsDoesNotHoldUpOthers() throws {
        let d = try Daemon()
        let greedy = try d.client()
        // Thousands of requests, never reading an answer: the daemon stops reading it.
        let line = Array((#"{"jsonrpc":"2.0","id":1,"method":"stats"}"# + "\n").utf8)
        var flags = fcntl(greedy.fd, F_GETFL)
        flags |= O_NONBLOCK
        _ = fcntl(greedy.fd, F_SETFL, flags)
        var sent = 0
        for _ in 0..<200_000 {
            let n = line.withUnsafeBytes { send(greedy.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }
            sent += 1
        }
        // Answered at all: a daemon held up by the greedy client never would
        // (it never reads), and the test client would give up after 120 s.
        let other = try d.client()
        #expect(try other.call("ping")["protocol"] as? Int == 1)
        #expect(sent < 200_000, "the socket never filled: the daemon kept reading a client that does not read")
        let status = try String(contentsOfFile: "/proc/\(d.process!.processIdentifier)/status", encoding: .utf8)
        let rssKiB = Int(status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }!.split(separator: " ")[1])!
        #expect(rssKiB < 64 * 1024, "RSS \(rssKiB) KiB with a client that never reads")
    }

    @Test func idleConnectionsAreClosedButAWaitIsNotIdle() throws {
        let d = try Daemon(config: "limits:\n  idle_timeout: 500ms\n")
        let idle = try d.client()
        // A job much longer than the idle timeout, waited for in the
        // connection's first request: it is silent while it waits.
        let id = try d.client().enqueue("sleep", ["payload": ["ms": 3000]])
        let waiting = try d.client()
        try waiting.send(#"{"jsonrpc":"2.0","id":9,"method":"wait","params":{"id":\#(id),"timeout_ms":60000}}"#)
        #expect(try idle.readLine() == nil)  // closed after 500 ms of silence
        let answer = try waiting.readJSON()
        #expect((answer["result"] as? [String: Any])?["state"] as? String == "succeeded")
    }

    @Test func atMaxConnectionsNewOnesAreClosedAndTheOthersWork() throws {
        let d = try Daemon(config: "limits:\n  max_connections: 3\n")
        // The readiness check's own connection may not be gone yet: until the
        // daemon has seen it close, the third client is refused. Try again.
        var clients: [Client] = []
        #expect(eventually {
            clients = []  // closed before the next try: they count until the daemon sees them go
            clients = (0..<3).compactMap { _ in try? d.client() }
            return clients.count == 3 && clients.allSatisfy { (try? $0.call("ping")) != nil }
        })
        let extra = try d.client()
        #expect(try extra.readLine() == nil)
        for c in clients { #expect(try c.call("ping")["protocol"] as? Int == 1) }
    }
}
