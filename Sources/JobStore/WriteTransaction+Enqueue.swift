import JobCore

extension WriteTransaction {
    /// Inserts `job`, or answers with the unfinished job holding its `unique_key`.
    func enqueue(_ job: NewJob) throws(StoreError) -> EnqueueOutcome {
        Failpoint.afterBegin.hit()  // inside the transaction, before any statement of the enqueue
        if let key = job.uniqueKey, let holder = try activeJob(uniqueKey: key) {
            return EnqueueOutcome(id: holder.id, state: holder.state, duplicate: true)
        }
        try reserveActiveSlot()
        let state = job.initialState(createdAt: now)
        try connection.run("enqueue", Self.insertJob, [
            .text(job.queue), .text(job.handler), .text(job.payload.text), .text(state.rawValue),
            .int(Int64(job.priority)), .int(Int64(job.maxAttempts)), .int(job.timeoutMs),
            .optionalText(job.uniqueKey), .text(JobRow.encodeTags(job.tags)),
            .int(now.rawValue), .int(job.runAt(createdAt: now).rawValue), .int(job.external ? 1 : 0), .optionalText(job.schedule),
        ])
        let id = connection.lastInsertRowID
        enqueued += 1
        Failpoint.afterInsert.hit()
        counts.add(job.queue, state, +1)
        for tag in Set(job.tags) {
            try connection.run("enqueue", "INSERT INTO job_tags (job_id, tag) VALUES (?, ?)", [.int(id), .text(tag)])
        }
        return EnqueueOutcome(id: JobID(id), state: state, duplicate: false)
    }

    /// Inserts every job or none: the caller's savepoint is rolled back when one fails.
    func enqueueBatch(_ jobs: [NewJob]) throws(StoreError) -> BatchEnqueueOutcome {
        var outcome = BatchEnqueueOutcome(ids: [], duplicates: [])
        outcome.ids.reserveCapacity(jobs.count)
        outcome.duplicates.reserveCapacity(jobs.count)
        for job in jobs {
            let one = try enqueue(job)
            outcome.ids.append(one.id)
            outcome.duplicates.append(one.duplicate)
        }
        return outcome
    }

    private static let insertJob = """
        INSERT INTO jobs (queue, handler, payload, state, priority, max_attempts, timeout_ms,
                          unique_key, tags, created_at, run_at, external, schedule)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """
}
