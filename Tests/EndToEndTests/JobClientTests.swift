import Foundation
import JobClient
import JobCore
import Testing

/// The Swift client library against a real daemon.
@Suite(.blocking) struct JobClientTests {
    @Test func typedCallsForEveryMethod() async throws {
        let d = try Daemon()
        let client = try await JobClient.connect(socketPath: d.socket)
        defer { client.close() }
        #expect(try await client.ping().protocol == 1)
        let queued = try await client.enqueue(EnqueueRequest(handler: "echo", payload: RawJSON(validatedText: #"{"k":1}"#), tags: ["a"]))
        #expect(queued.state == .queued && !queued.duplicate)
        let done = try await client.wait(queued.id, timeoutMs: 60_000)
        #expect(done.state == .succeeded && done.result?.text == #"{"k":1}"# && done.tags == ["a"])
        #expect(try await client.get(queued.id) == done)
        let (job, duplicate) = try await client.enqueueAndWait(EnqueueRequest(handler: "noop"), waitMs: 60_000)
        #expect(job.state == .succeeded && !duplicate)
        let batch = try await client.enqueueBatch([EnqueueRequest(handler: "noop", delayMs: 60_000), EnqueueRequest(handler: "noop")])
        #expect(batch.ids.count == 2 && batch.duplicates == [false, false])
        #expect(try await client.cancel(batch.ids[0]).state == .cancelled)
        #expect(try await client.retry(batch.ids[0]).state == .queued)
        #expect(try await client.pause(queue: "q") == true)
        #expect(try await client.resume(queue: "q") == false)
        #expect(try await client.stats().member("workers")?.member("total")?.integer != nil)
        let page = try await client.list(ListQuery(limit: 2))
        #expect(page.jobs.count == 2 && page.nextAfterID == 2)
        var all: [JobID] = []
        for try await job in client.listAll(ListQuery(limit: 1)) { all.append(job.id) }
        #expect(all == (1...4).map { JobID($0) })
    }

    @Test func errorsCarryTheProtocolsCodeAndData() async throws {
        let d = try Daemon()
        let client = try await JobClient.connect(socketPath: d.socket)
        defer { client.close() }
        do {
            _ = try await client.get(JobID(99))
            Issue.record("no error")
        } catch {
            #expect(error.code == .notFound)
        }
        do {
            _ = try await client.enqueue(EnqueueRequest(handler: "noop", priority: 5000))
            Issue.record("no error")
        } catch {
            guard case .rpc(let rpc) = error else { Issue.record("\(error)"); return }
            #expect(rpc.code == .invalidParams && rpc.field == "priority")
        }
        do {
            _ = try await JobClient.connect(socketPath: d.folder + "/none.sock")
            Issue.record("connected")
        } catch {
            guard case .noDaemon(let path, _) = error else { Issue.record("\(error)"); return }
            #expect(path == d.folder + "/none.sock")
        }
    }

    @Test func callsPipelineOnOneConnection() async throws {
        let d = try Daemon()
        let client = try await JobClient.connect(socketPath: d.socket)
        defer { client.close() }
        // A job of a minute, waited for: the wait blocks until it ends.
        let slow = try await client.enqueue(EnqueueRequest(handler: "sleep", payload: RawJSON(validatedText: #"{"ms":60000}"#)))
        async let waited = client.wait(slow.id, timeoutMs: 120_000)
        try await Task.sleep(for: .milliseconds(200))  // the wait is sent first
        // While it blocks, other calls on the same connection are answered:
        // they come back with the job still running.
        for _ in 0..<20 { _ = try await client.ping() }
        #expect(try await client.get(slow.id).state == .running)
        _ = try await client.cancel(slow.id)
        #expect(try await waited.state == .cancelled)
    }
}
