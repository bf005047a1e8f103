import Foundation
import Testing

/// Abusive clients over the real socket: the daemon keeps answering `ping`
/// through all of it. No wall-clock bound: a daemon held up by an abuser
/// would not answer at all while the abuser waits for the answer (the test
/// client gives up after 120 s), and a loaded machine can make any answer slow.
@Suite(.blocking) struct AbusiveClientTests {
    func answersPing(_ d: Daemon) throws -> Bool {
        try d.client().call("ping")["protocol"] as? Int == 1
    }

    @Test func everyParameterWithEveryWrongType() throws {
        let d = try Daemon()
        let c = try d.client()
        let wrong: [Any] = ["text", -1, 1.5, true, NSNull(), [1], ["k": 1], 1e300]
        let methods: [String: [String: Any]] = [
            "enqueue": ["handler": "noop", "payload": 1, "queue": "q", "priority": 1, "delay_ms": 1, "max_attempts": 1,
                        "timeout_ms": 1, "unique_key": "k", "tags": ["t"], "wait_ms": 1],
            "get": ["id": 1], "wait": ["id": 1, "timeout_ms": 1], "cancel": ["id": 1], "retry": ["id": 1],
            "list": ["queue": "q", "state": "queued", "handler": "h", "tag": "t", "limit": 1, "after_id": 0],
            "pause": ["queue": "q"], "resume": ["queue": "q"],
        ]
        let before = try c.call("list")["jobs"] as! [Any]
        var checked = 0
        for (method, valid) in methods {
            for (field, good) in valid where field != "payload" {
                for value in wrong where "\(value)" != "\(good)" && !(good is String && value is String) && !(field == "priority" && value as? Int == -1) {
                    var params = valid
                    params[field] = value
                    let code = try c.errorCode(method, params)
                    // A wrong type or range is -32602 naming the field; a few values are merely unknown (1001/1003).
                    #expect(code == -32602 || (code != nil && [1001, 1003].contains(code!)) || (field == "id" && value is Int),
                            "\(method).\(field) = \(value): \(String(describing: code))")
                    checked += 1
                }
            }
        }
        #expect(checked > 100)
        #expect((try c.call("list")["jobs"] as! [Any]).count == before.count)  // nothing was enqueued
        #expect(try answersPing(d))
    }

    @Test func randomBytesAndHugeInputs() throws {
        let d = try Daemon()
        var random = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            let c = try d.client()
            try? c.sendBytes((0..<Int.random(in: 1...5000, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) } + [10])
            _ = try? c.readLine()
        }
        let deep = try d.client()
        try deep.send(String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000))
        #expect(((try deep.readJSON())["error"] as? [String: Any])?["code"] as? Int == -32700)
        let numbers = try d.client()
        try numbers.send(#"{"jsonrpc":"2.0","id":1,"method":"get","params":{"id":1e400}}"#)
        #expect(((try numbers.readJSON())["error"] as? [String: Any])?["code"] as? Int == -32602)
        #expect(try answersPing(d))
    }

    @Test func aThousandIdleConnections() throws {
        let d = try Daemon(config: "limits:\n  max_connections: 1100\n")
        var idle: [Client] = []
        for _ in 0..<1000 { idle.append(try d.client()) }
        #expect(try answersPing(d))
        #expect(try idle[500].call("ping")["protocol"] as? Int == 1)
    }

    @Test func aSlowlorisClientHoldsNothingUp() throws {
        let d = try Daemon()
        let slow = try d.client()
        let line = Array(#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#.utf8)
        for byte in line.prefix(20) {  // one byte per 100 ms, for 2 s; others are answered in between
            try slow.sendBytes([byte])
            #expect(try answersPing(d))
            usleep(100_000)
        }
        try slow.sendBytes(Array(line.dropFirst(20)) + [10])
        #expect(((try slow.readJSON())["result"] as? [String: Any])?["protocol"] as? Int == 1)
    }

    @Test func theDaemonListensOnItsUnixSocketOnly() throws {
        let d = try Daemon()
        let pid = d.process!.processIdentifier
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
        let inodes = Set(fds.compactMap { fd -> String? in
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)"),
                  target.hasPrefix("socket:[") else { return nil }
            return String(target.dropFirst(8).dropLast())
        })
        #expect(!inodes.isEmpty)
        for table in ["/proc/net/tcp", "/proc/net/tcp6", "/proc/net/udp", "/proc/net/udp6"] {
            let rows = ((try? String(contentsOfFile: table, encoding: .utf8)) ?? "").split(separator: "\n").dropFirst()
            let ours = rows.filter { row in inodes.contains(String(row.split(separator: " ", omittingEmptySubsequences: true)[9])) }
            #expect(ours.isEmpty, "\(table): \(ours)")
        }
        // /proc/net/unix is read a page at a time: while other tests open and
        // close sockets, a read can miss a row. Read again until the row is there.
        var listening: [Substring] = []
        #expect(eventually {
            let unix = ((try? String(contentsOfFile: "/proc/net/unix", encoding: .utf8)) ?? "").split(separator: "\n").dropFirst()
            listening = unix.filter { row in
                let fields = row.split(separator: " ", omittingEmptySubsequences: true)
                return fields.count >= 8 && inodes.contains(String(fields[6])) && fields[3] == "00010000"  // __SO_ACCEPTCON
            }
            return !listening.isEmpty
        })
        #expect(listening.count == 1 && listening.first?.hasSuffix(d.socket) == true, "\(listening)")
    }

    @Test func tenThousandPipelinedRequestsAllAnswered() throws {
        let d = try Daemon()
        let c = try d.client()
        let count = 10_000
        let writer = Thread {
            for n in 0..<count { try? c.send(#"{"jsonrpc":"2.0","id":\#(n),"method":"ping"}"#) }
        }
        writer.start()
        var seen = Set<Int>()
        for _ in 0..<count {
            guard let answer = try? c.readJSON(), let id = answer["id"] as? Int else { break }
            seen.insert(id)
        }
        #expect(seen.count == count)
        #expect(try answersPing(d))
    }
}
