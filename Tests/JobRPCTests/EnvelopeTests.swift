import JobCore
import Testing
@testable import JobRPC

@Suite struct EnvelopeTests {
    func decode(_ text: String) -> RPCMessage { RPCDecoder.decode(line: Array(text.utf8)) }

    func single(_ text: String) -> Result<RPCRequest, RPCEnvelopeError>? {
        if case .single(let r) = decode(text) { return r }
        return nil
    }

    @Test func readsARequest() throws {
        let r = try #require(try single(#"{"jsonrpc":"2.0","id":7,"method":"get","params":{"id":3}}"#)?.get())
        #expect(r.id == .number(7) && r.method == "get" && r.params?.members?.first?.key == "id")
        let s = try #require(try single(#"{"jsonrpc":"2.0","id":"abc","method":"ping"}"#)?.get())
        #expect(s.id == .string("abc") && s.params == nil)
    }

    @Test func aRequestWithoutIdIsANotification() throws {
        let r = try #require(try single(#"{"jsonrpc":"2.0","method":"ping"}"#)?.get())
        #expect(r.id == nil)
    }

    @Test(arguments: [
        (#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#, RPCID?.none),
        (#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#, nil),
        (#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#, .number(1)),
        (#"{"id":1,"method":"ping"}"#, .number(1)),
        (#"{"jsonrpc":"2.0","id":1,"method":5}"#, .number(1)),
        (#"{"jsonrpc":"2.0","id":1,"method":"ping","extra":1}"#, .number(1)),
        (#"{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}"#, nil),
        ("42", nil),
    ] as [(String, RPCID?)])
    func invalidRequests(text: String, id: RPCID?) throws {
        guard case .failure(let e) = single(text) else { Issue.record("accepted \(text)"); return }
        #expect(e.error.code == .invalidRequest && e.id == id)
    }

    @Test func parseErrors() {
        guard case .failure(let e) = single("{not json") else { Issue.record("accepted"); return }
        #expect(e.error.code == .parseError && e.id == nil)
    }

    @Test func batches() throws {
        guard case .batch(let entries) = decode(#"[{"jsonrpc":"2.0","id":1,"method":"ping"}, 5, {"jsonrpc":"2.0","method":"x"}]"#) else {
            Issue.record("not a batch"); return
        }
        #expect(entries.count == 3)
        #expect((try? entries[0].get())?.id == .number(1))
        if case .failure(let e) = entries[1] { #expect(e.error.code == .invalidRequest) } else { Issue.record("5 accepted") }
        guard case .single(.failure(let empty)) = decode("[]") else { Issue.record("empty batch accepted"); return }
        #expect(empty.error.code == .invalidRequest)
    }

    @Test func responsesAreOneLineOfJSON() throws {
        let ok = RPCEncoder.success(id: .number(7)) { $0.raw(#"{"id":1}"#) }
        #expect(ok.text == #"{"jsonrpc":"2.0","id":7,"result":{"id":1}}"#)
        let err = RPCEncoder.failure(id: nil, .invalidParam("priority", "expected an integer"))
        #expect(err.text == #"{"jsonrpc":"2.0","id":null,"error":{"code":-32602,"message":"params.priority: expected an integer","data":{"field":"priority"}}}"#)
    }
}

@Suite struct ParamsTests {
    func params(_ text: String) throws -> JSONValue { try JSONReader.parse(Array(text.utf8)) }

    func expectError(_ field: String, _ body: () throws(RPCError) -> Void) {
        do {
            try body()
            Issue.record("no error, expected one for \(field)")
        } catch {
            #expect(error.code == .invalidParams && error.field == field && error.message.contains("params."), "\(error)")
        }
    }

    @Test func enqueueReadsEveryField() throws {
        let p = try EnqueueParams(params(#"{"handler":"h","payload":{"a": [1, 2]},"queue":"q","priority":-3,"delay_ms":500,"max_attempts":2,"timeout_ms":9,"unique_key":"k","tags":["x"],"wait_ms":10}"#))
        #expect(p.handler == "h" && p.payload.text == #"{"a": [1, 2]}"# && p.queue == "q" && p.priority == -3)
        #expect(p.start == .after(milliseconds: 500) && p.maxAttempts == 2 && p.timeoutMs == 9)
        #expect(p.uniqueKey == "k" && p.tags == ["x"] && p.waitMs == 10)
        let at = try EnqueueParams(params(#"{"handler":"h","run_at":"2026-11-29T10:15:30.1234Z"}"#))
        #expect(at.start == .at(Timestamp(rfc3339: "2026-11-29T10:15:30.124Z")!) && at.payload == .null && at.priority == 0)
    }

    @Test(arguments: [
        (#"{}"#, "handler"), (#"{"handler":5}"#, "handler"), (#"{"handler":"h","bogus":1}"#, "bogus"),
        (#"{"handler":"h","priority":"high"}"#, "priority"), (#"{"handler":"h","priority":1001}"#, "priority"),
        (#"{"handler":"h","priority":1.5}"#, "priority"), (#"{"handler":"h","delay_ms":-1}"#, "delay_ms"),
        (#"{"handler":"h","delay_ms":1,"run_at":"2026-11-29T10:15:30Z"}"#, "run_at"),
        (#"{"handler":"h","run_at":"tomorrow"}"#, "run_at"), (#"{"handler":"h","max_attempts":0}"#, "max_attempts"),
        (#"{"handler":"h","timeout_ms":0}"#, "timeout_ms"), (#"{"handler":"h","tags":"x"}"#, "tags"),
        (#"{"handler":"h","tags":[1]}"#, "tags"), (#"{"handler":"h","wait_ms":3600001}"#, "wait_ms"),
        (#"{"handler":"h","unique_key":""}"#, "unique_key"), (#"{"handler":"h","queue":""}"#, "queue"),
        (#"{"handler":"h","handler":"g"}"#, "handler"),
    ])
    func enqueueRefuses(text: String, field: String) {
        expectError(field) { () throws(RPCError) in _ = try EnqueueParams(try! params(text)) }
    }

    @Test func batchErrorsCarryTheIndex() throws {
        let text = try params(#"{"jobs":[{"handler":"a"},{"handler":"b","priority":"x"}]}"#)
        do {
            _ = try EnqueueBatchParams(text)
            Issue.record("accepted")
        } catch {
            #expect(error.index == 1 && error.field == "priority" && error.message.hasPrefix("params.jobs[1].priority"))
        }
        expectError("wait_ms") { () throws(RPCError) in _ = try EnqueueBatchParams(try! params(#"{"jobs":[{"handler":"a","wait_ms":5}]}"#)) }
        expectError("jobs") { () throws(RPCError) in _ = try EnqueueBatchParams(try! params(#"{"jobs":[]}"#)) }
    }

    @Test func otherMethods() throws {
        #expect(try WaitParams(params(#"{"id":3}"#)).timeoutMs == 30_000)
        expectError("id") { () throws(RPCError) in _ = try JobIDParams(try! params(#"{"id":"3"}"#)) }
        expectError("id") { () throws(RPCError) in _ = try JobIDParams(try! params(#"{"id":0}"#)) }
        expectError("state") { () throws(RPCError) in _ = try ListParams(try! params(#"{"state":"done"}"#)) }
        expectError("limit") { () throws(RPCError) in _ = try ListParams(try! params(#"{"limit":1001}"#)) }
        expectError("verbose") { () throws(RPCError) in _ = try NoParams(try! params(#"{"verbose":true}"#)) }
        _ = try NoParams(nil)
        #expect(try ListParams(nil).limit == 100)
    }
}

@Suite struct JobJSONTests {
    @Test func aJobRoundTripsThroughItsWireForm() throws {
        let at = Timestamp(millisecondsSinceEpoch: 1_795_948_530_123)
        let job = Job(id: JobID(7), queue: "q", handler: "h", payload: RawJSON(validatedText: #"{"a":[1,"x"]}"#), state: .failed,
                      priority: -3, attempts: 2, maxAttempts: 2, uniqueKey: "k", tags: ["t"], createdAt: at, runAt: at,
                      startedAt: at, finishedAt: at.adding(milliseconds: 5), timeoutMs: 1000, result: RawJSON(validatedText: "\"out\""),
                      resultTruncated: true, errors: [JobFailure(message: "m\n", exitCode: 1, signal: nil, stderr: "e", at: at)],
                      leaseOwner: nil)
        var w = JSONWriter()
        JobJSON.write(job, to: &w)
        #expect(JobJSON.read(try JSONReader.parse(w.bytes)) == job)
    }
}
