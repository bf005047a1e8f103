import Testing
@testable import JobCore

@Suite struct NewJobTests {
    @Test func defaultsAreValid() throws {
        try NewJob(handler: "noop").validate()
    }

    @Test(arguments: [
        (NewJob(handler: ""), "handler"),
        (NewJob(handler: "noop", queue: ""), "queue"),
        (NewJob(handler: "noop", queue: String(repeating: "q", count: 256)), "queue"),
        (NewJob(handler: "noop", priority: 1001), "priority"),
        (NewJob(handler: "noop", priority: -1001), "priority"),
        (NewJob(handler: "noop", start: .after(milliseconds: -1)), "delay_ms"),
        (NewJob(handler: "noop", start: .after(milliseconds: 315_360_000_001)), "delay_ms"),
        (NewJob(handler: "noop", maxAttempts: 0), "max_attempts"),
        (NewJob(handler: "noop", maxAttempts: 1001), "max_attempts"),
        (NewJob(handler: "noop", timeoutMs: 0), "timeout_ms"),
        (NewJob(handler: "noop", uniqueKey: ""), "unique_key"),
        (NewJob(handler: "noop", tags: Array(repeating: "t", count: 17)), "tags"),
        (NewJob(handler: "noop", tags: [String(repeating: "t", count: 65)]), "tags"),
        (NewJob(handler: "noop", tags: [""]), "tags"),
    ])
    func refusesOutOfRange(job: NewJob, field: String) {
        #expect(throws: JobValidationError.self) { try job.validate() }
        do { try job.validate() } catch { #expect(error.field == field) }
    }

    @Test func edgesOfRangesAreValid() throws {
        try NewJob(handler: "noop", priority: 1000, start: .after(milliseconds: 315_360_000_000), maxAttempts: 1000,
                   timeoutMs: 315_360_000_000, tags: Array(repeating: String(repeating: "t", count: 64), count: 16)).validate()
        try NewJob(handler: "noop", priority: -1000, maxAttempts: 1, timeoutMs: 1).validate()
    }

    @Test func payloadLimit() throws {
        let big = RawJSON(validatedText: "\"" + String(repeating: "x", count: 100) + "\"")
        try NewJob(handler: "noop", payload: big).validate(maxPayloadBytes: 102)
        #expect(throws: JobValidationError(field: "payload", message: "larger than 101 bytes")) {
            try NewJob(handler: "noop", payload: big).validate(maxPayloadBytes: 101)
        }
    }

    @Test func startDecidesRunAtAndState() {
        let now = Timestamp(millisecondsSinceEpoch: 1_000_000)
        #expect(NewJob(handler: "x").runAt(createdAt: now) == now)
        #expect(NewJob(handler: "x").initialState(createdAt: now) == .queued)
        let delayed = NewJob(handler: "x", start: .after(milliseconds: 1500))
        #expect(delayed.runAt(createdAt: now).millisecondsSinceEpoch == 1_001_500)
        #expect(delayed.initialState(createdAt: now) == .scheduled)
        #expect(NewJob(handler: "x", start: .after(milliseconds: 0)).initialState(createdAt: now) == .queued)
        let past = NewJob(handler: "x", start: .at(Timestamp(millisecondsSinceEpoch: 5)))
        #expect(past.initialState(createdAt: now) == .queued)
        #expect(past.runAt(createdAt: now).millisecondsSinceEpoch == 5)
    }

    @Test func failureHistoryKeepsTheLastTwenty() {
        var history: [JobFailure] = []
        for n in 1...25 {
            history = history.appending(failure: JobFailure(message: "\(n)", at: Timestamp(millisecondsSinceEpoch: Int64(n))))
        }
        #expect(history.count == 20)
        #expect(history.first?.message == "6")
        #expect(history.last?.message == "25")
    }
}
