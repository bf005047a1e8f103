import JobCore
import JobEngine
import JobRPC
import JobStore

/// `schedules`: every configured schedule (SCHEDULING.md).
enum SchedulesMethod: ImmediateRPCMethod {
    static let name = "schedules"

    static func answer(_ params: JSONValue?, _ context: MethodContext) throws(RPCError) -> JSONWriter {
        _ = try NoParams(params)
        var w = JSONWriter()
        w.object { o in
            o.member("schedules") { $0.array(context.engine.scheduleEntries()) { w, entry in writeSchedule(entry, to: &w) } }
        }
        return w
    }
}

/// `pause_schedule`: persisted, survives restarts.
enum PauseScheduleMethod: RPCMethod {
    static let name = "pause_schedule"

    static func run(_ params: JSONValue?, _ context: MethodContext) async throws(RPCError) -> JSONWriter {
        let request = try ScheduleNameParams(params)
        return try await entryResult { try await context.engine.pauseSchedule(request.name) }
    }
}

/// `resume_schedule`: ticks missed while paused follow `catch_up`.
enum ResumeScheduleMethod: RPCMethod {
    static let name = "resume_schedule"

    static func run(_ params: JSONValue?, _ context: MethodContext) async throws(RPCError) -> JSONWriter {
        let request = try ScheduleNameParams(params)
        return try await entryResult { try await context.engine.resumeSchedule(request.name) }
    }
}

/// `trigger_schedule`: the schedule's job now, outside its ticks.
enum TriggerScheduleMethod: RPCMethod {
    static let name = "trigger_schedule"
    static let isNewWork = true

    static func run(_ params: JSONValue?, _ context: MethodContext) async throws(RPCError) -> JSONWriter {
        let request = try ScheduleNameParams(params)
        let id = try await scheduleCall { try await context.engine.triggerSchedule(request.name) }
        var w = JSONWriter()
        w.object { o in o.member("id") { $0.integer(id.rawValue) } }
        return w
    }
}

/// Engine errors of the schedule calls as wire errors: 1008 for an unknown name.
private func scheduleCall<T>(_ body: () async throws -> T) async throws(RPCError) -> T {
    do {
        return try await body()
    } catch let error as Engine.UnknownSchedule {
        throw RPCError(.unknownSchedule, "unknown schedule \"\(error.name)\"")
    } catch let error as StoreError {
        throw RPCError(error)
    } catch {
        throw RPCError(.internalError, "internal error: \(error)")
    }
}

/// The schedule entry a call returns, as the method's result.
private func entryResult(_ body: () async throws -> Engine.ScheduleEntry) async throws(RPCError) -> JSONWriter {
    let entry = try await scheduleCall(body)
    var w = JSONWriter()
    writeSchedule(entry, to: &w)
    return w
}

/// One entry of `schedules`, also the result of pause and resume.
func writeSchedule(_ entry: Engine.ScheduleEntry, to w: inout JSONWriter) {
    w.object { o in
        o.member("name") { $0.string(entry.name) }
        o.member(entry.config.isCron ? "cron" : "every") { $0.string(entry.config.timingText) }
        o.member("timezone") { $0.optionalString(entry.config.timeZoneName) }
        o.member("handler") { $0.string(entry.config.handler) }
        o.member("queue") { $0.string(entry.queue) }
        o.member("catch_up") { $0.string(entry.config.catchUp.rawValue) }
        o.member("overlap") { $0.string(entry.config.overlap.rawValue) }
        o.member("paused") { $0.bool(entry.paused) }
        o.member("next_run_at") { $0.timestamp(entry.nextRunAt) }
        o.member("last_run_at") { $0.timestamp(entry.lastRunAt) }
        o.member("last_job_id") { w in if let id = entry.lastJobID { w.integer(id.rawValue) } else { w.null() } }
        o.member("skipped") { $0.integer(entry.skipped) }
    }
}
