import JobCore

/// The job object of PROTOCOL.md, written field by field; payload and result
/// are copied in as raw JSON.
public enum JobJSON {
    /// `brief`: for `list` entries, payload, result and errors are left out (null / []).
    /// `duplicate`: added for the answer to `enqueue` with `wait_ms`.
    /// `token`: the lease's token is written too (only in the answer to `reserve`).
    public static func write(_ job: Job, to w: inout JSONWriter, brief: Bool = false, duplicate: Bool? = nil, token: Bool = false) {
        w.object { o in
            o.member("id") { $0.integer(job.id.rawValue) }
            o.member("queue") { $0.string(job.queue) }
            o.member("handler") { $0.string(job.handler) }
            o.member("payload") { w in if brief { w.null() } else { w.raw(job.payload) } }
            o.member("state") { $0.string(job.state.rawValue) }
            o.member("priority") { $0.integer(job.priority) }
            o.member("attempts") { $0.integer(job.attempts) }
            o.member("max_attempts") { $0.integer(job.maxAttempts) }
            o.member("unique_key") { $0.optionalString(job.uniqueKey) }
            o.member("tags") { $0.array(job.tags) { w, tag in w.string(tag) } }
            o.member("created_at") { $0.timestamp(job.createdAt) }
            o.member("run_at") { $0.timestamp(job.runAt) }
            o.member("started_at") { $0.timestamp(job.startedAt) }
            o.member("finished_at") { $0.timestamp(job.finishedAt) }
            o.member("timeout_ms") { $0.integer(job.timeoutMs) }
            o.member("result") { w in
                if brief { w.null() } else if let result = job.result { w.raw(result) } else { w.null() }
            }
            o.member("result_truncated") { $0.bool(job.resultTruncated) }
            o.member("error") { w in
                if let error = job.error { writeFailure(error, to: &w) } else { w.null() }
            }
            o.member("errors") { w in
                w.array(brief ? [] : job.errors) { w, failure in writeFailure(failure, to: &w) }
            }
            // External jobs only (WORKERS.md): the lease while running, the progress once reported.
            if let lease = job.lease, job.state == .running {
                o.member("lease") { w in
                    w.object { l in
                        if token { l.member("token") { $0.string(lease.token) } }
                        l.member("expires_at") { $0.timestamp(lease.expiresAt) }
                        l.member("worker") { $0.optionalString(lease.worker) }
                    }
                }
            }
            if let progress = job.progress { o.member("progress") { w in if brief { w.null() } else { w.raw(progress) } } }
            if let schedule = job.schedule { o.member("schedule") { $0.string(schedule) } }
            if !job.after.isEmpty { o.member("after") { $0.array(job.after) { w, id in w.integer(id.rawValue) } } }
            if let key = job.concurrencyKey { o.member("concurrency_key") { $0.string(key) } }
            if let duplicate { o.member("duplicate") { $0.bool(duplicate) } }
        }
    }

    static func writeFailure(_ failure: JobFailure, to w: inout JSONWriter) {
        w.object { o in
            o.member("message") { $0.string(failure.message) }
            o.member("exit_code") { w in if let c = failure.exitCode { w.integer(c) } else { w.null() } }
            o.member("signal") { w in if let s = failure.signal { w.integer(s) } else { w.null() } }
            o.member("stderr") { $0.optionalString(failure.stderr) }
            o.member("at") { $0.timestamp(failure.at) }
            if let details = failure.details { o.member("details") { $0.raw(details) } }
        }
    }
}
