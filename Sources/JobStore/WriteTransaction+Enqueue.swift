import JobCore

extension WriteTransaction {
    /// Inserts `job`, or answers with the unfinished job holding its `unique_key`.
    /// A job `after` others is `blocked` while one of them has not
    /// succeeded, and `cancelled` at once when one already failed or was
    /// cancelled. A keyed job whose key is full is `queued` but held.
    func enqueue(_ job: NewJob, batchIndex: Int? = nil) throws(StoreError) -> EnqueueOutcome {
        Failpoint.afterBegin.hit()  // inside the transaction, before any statement of the enqueue
        if let key = job.uniqueKey, let holder = try activeJob(uniqueKey: key) {
            return EnqueueOutcome(id: holder.id, state: holder.state, duplicate: true)
        }
        var state = job.initialState(createdAt: now)
        var pending: [JobID] = []
        var errors = "[]"
        if !job.after.isEmpty {
            let check = try checkDependencies(job.after, batchIndex: batchIndex)
            if let failed = check.failed {
                state = .cancelled
                errors = JobRow.encodeErrors([JobFailure(message: Self.dependencyMessage(failed.id, failed.state), at: now)])
            } else if !check.pending.isEmpty {
                state = .blocked
                pending = check.pending
            }
        }
        if !state.isTerminal { try reserveActiveSlot() }
        var held = false
        if state == .queued, let key = job.concurrencyKey { held = try !keyHasRoom(handler: job.handler, key: key) }
        try connection.run("enqueue", Self.insertJob, [
            .text(job.queue), .text(job.handler), .text(job.payload.text), .text(state.rawValue),
            .int(Int64(job.priority)), .int(Int64(job.maxAttempts)), .int(job.timeoutMs),
            .optionalText(job.uniqueKey), .text(JobRow.encodeTags(job.tags)),
            .int(now.rawValue), .int(job.runAt(createdAt: now).rawValue), .int(job.external ? 1 : 0), .optionalText(job.schedule),
            .optionalText(job.after.isEmpty ? nil : JobRow.encodeIDs(job.after)), .int(Int64(pending.count)),
            .optionalText(job.concurrencyKey), .int(held ? 1 : 0), .text(errors), .optionalInt(state.isTerminal ? now.rawValue : nil),
        ])
        let id = connection.lastInsertRowID
        enqueued += 1
        Failpoint.afterInsert.hit()
        counts.add(job.queue, state, +1)
        metricEvents.note(.enqueued, queue: job.queue, handler: job.handler)
        if state.isTerminal { metricEvents.note(.finished(state), queue: job.queue, handler: job.handler) }
        for tag in Set(job.tags) {
            try connection.run("enqueue", "INSERT INTO job_tags (job_id, tag) VALUES (?, ?)", [.int(id), .text(tag)])
        }
        if !pending.isEmpty { try recordDependencies(of: id, on: pending) }
        return EnqueueOutcome(id: JobID(id), state: state, duplicate: false)
    }

    /// Inserts every job or none: the caller's savepoint is rolled back when
    /// one fails. `after_index` names earlier entries of the same batch.
    func enqueueBatch(_ jobs: [NewJob]) throws(StoreError) -> BatchEnqueueOutcome {
        var outcome = BatchEnqueueOutcome(ids: [], duplicates: [])
        outcome.ids.reserveCapacity(jobs.count)
        outcome.duplicates.reserveCapacity(jobs.count)
        for (index, var job) in jobs.enumerated() {
            for earlier in job.afterIndex {
                // The params allow only earlier entries; checked again here.
                guard earlier >= 0, earlier < index else {
                    throw .internalError(operation: "enqueue_batch", message: "after_index \(earlier) of entry \(index) is not an earlier entry")
                }
                job.after.append(outcome.ids[earlier])
            }
            let one = try enqueue(job, batchIndex: index)
            outcome.ids.append(one.id)
            outcome.duplicates.append(one.duplicate)
        }
        return outcome
    }

    private static let insertJob = """
        INSERT INTO jobs (queue, handler, payload, state, priority, max_attempts, timeout_ms,
                          unique_key, tags, created_at, run_at, external, schedule,
                          after_ids, blocked_on, concurrency_key, key_held, errors, finished_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """
}
