import JobCore
import JobRPC

/// Recurring jobs (SCHEDULING.md): the schedules are configured in the
/// daemon; clients list, pause, resume and trigger them by name.
extension JobClient {
    /// `schedules`, as the daemon sent it (`{"schedules": [...]}`).
    public func schedules() async throws(JobClientError) -> JSONValue {
        try await call("schedules")
    }

    /// Pauses a schedule, persistently; returns its entry. 1008 for an unknown name.
    public func pauseSchedule(_ name: String) async throws(JobClientError) -> JSONValue {
        try await call("pause_schedule", params: nameParams(name))
    }

    /// Resumes a schedule; ticks missed while paused follow its `catch_up`.
    public func resumeSchedule(_ name: String) async throws(JobClientError) -> JSONValue {
        try await call("resume_schedule", params: nameParams(name))
    }

    /// Enqueues the schedule's job now, outside its ticks; returns its id.
    public func triggerSchedule(_ name: String) async throws(JobClientError) -> JobID {
        let result = try await call("trigger_schedule", params: nameParams(name))
        guard let id = result.member("id")?.integer else { throw .invalidResponse("trigger_schedule: no id") }
        return JobID(id)
    }

    private func nameParams(_ name: String) -> JSONWriter {
        var w = JSONWriter()
        w.object { o in o.member("name") { $0.string(name) } }
        return w
    }
}
