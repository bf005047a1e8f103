import JobCore
import Yams

extension Reader {
    /// One entry of `schedules:` (SCHEDULING.md). A bad expression or zone
    /// is a problem with its line, like any other bad value.
    mutating func readSchedule(_ node: Node, name: String, nameNode: Node) -> ScheduleConfig? {
        let key = "schedules.\(name)"
        guard ScheduleConfig.isValidName(name) else {
            problem(nameNode, key, "a schedule name is 1 to 128 letters, digits, '.', '_' or '-'")
            return nil
        }
        let known: Set<String> = ["cron", "every", "timezone", "handler", "payload", "queue", "priority", "max_attempts", "timeout",
                                  "tags", "catch_up", "overlap"]
        let pairs = mapping(node, key, known: known)
        func value(_ field: String) -> Node? { pairs.first { $0.0 == field }?.2 }

        var timing: ScheduleTiming?
        var timingText = ""
        switch (value("cron"), value("every")) {
        case (.some, .some):
            problem(node, key, "give cron or every, not both")
        case (nil, nil):
            problem(node, key, "needs cron or every")
        case (let cronNode?, nil):
            guard let text = scalar(cronNode, "\(key).cron") else { break }
            var zone = ZoneDatabase.localZone()
            if let zoneNode = value("timezone"), let zoneName = scalar(zoneNode, "\(key).timezone") {
                do {
                    zone = try ZoneDatabase.zone(named: zoneName)
                } catch {
                    problem(zoneNode, "\(key).timezone", error.message)
                    return nil
                }
            }
            do {
                let expression = try CronExpression(text)
                timing = .cron(expression, zone)
                timingText = text
                if expression.nextInstant(after: 0, in: zone) == nil && expression.nextInstant(after: 1_800_000_000, in: zone) == nil {
                    problem(cronNode, "\(key).cron", "\"\(text)\" never matches a date")
                    return nil
                }
            } catch {
                problem(cronNode, "\(key).cron", error.message)
            }
        case (nil, let everyNode?):
            if let zoneNode = value("timezone") { problem(zoneNode, "\(key).timezone", "applies to cron schedules only") }
            guard let ms = duration(everyNode, "\(key).every") else { break }
            guard ms >= ScheduleTiming.minimumPeriodMs else {
                problem(everyNode, "\(key).every", "must be at least 1s")
                break
            }
            timing = .every(milliseconds: ms)
            timingText = scalar(everyNode, "\(key).every") ?? ""
        }
        guard let handlerNode = value("handler") else {
            problem(node, key, "needs handler")
            return nil
        }
        guard let handler = scalar(handlerNode, "\(key).handler"), let timing else { return nil }
        var schedule = ScheduleConfig(timing: timing, timingText: timingText, handler: handler)
        for (field, _, v) in pairs {
            let path = "\(key).\(field)"
            switch field {
            case "payload": schedule.payload = RawJSON(validatedText: json(v))
            case "queue":
                if let q = scalar(v, path) {
                    if q.isEmpty || q.utf8.count > JobLimits.maxNameBytes { problem(v, path, "must be 1 to 255 bytes") } else { schedule.queue = q }
                }
            case "priority":
                if let text = scalar(v, path) {
                    if let p = Int(text), JobLimits.priority.contains(p) { schedule.priority = p } else { problem(v, path, "expected an integer from -1000 to 1000") }
                }
            case "max_attempts":
                if let n = int(v, path, min: 1) {
                    if n <= JobLimits.maxAttempts.upperBound { schedule.maxAttempts = n } else { problem(v, path, "must be at most 1000") }
                }
            case "timeout":
                if let ms = duration(v, path) {
                    if JobLimits.timeoutMs.contains(ms) { schedule.timeoutMs = ms } else { problem(v, path, "must be at least 1ms") }
                }
            case "tags":
                let tags = strings(v, path)
                if tags.count > JobLimits.maxTags || tags.contains(where: { $0.isEmpty || $0.utf8.count > JobLimits.maxTagBytes }) {
                    problem(v, path, "at most \(JobLimits.maxTags) tags of 1 to \(JobLimits.maxTagBytes) bytes")
                } else {
                    schedule.tags = tags
                }
            case "catch_up":
                if let text = scalar(v, path) {
                    if let c = ScheduleConfig.CatchUp(rawValue: text) { schedule.catchUp = c } else { problem(v, path, "expected latest, none or all") }
                }
            case "overlap":
                if let text = scalar(v, path) {
                    if let o = ScheduleConfig.Overlap(rawValue: text) { schedule.overlap = o } else { problem(v, path, "expected skip or allow") }
                }
            default: break
            }
        }
        return schedule
    }

    /// A YAML value as JSON text: `payload: {"kind": "daily"}` (YAML's flow
    /// style is JSON), or block style. Quoted scalars stay strings.
    func json(_ node: Node) -> String {
        var writer = JSONWriter()
        write(node, to: &writer)
        return writer.text
    }

    private func write(_ node: Node, to writer: inout JSONWriter) {
        switch node {
        case .mapping(let mapping):
            writer.object { object in
                for (k, v) in mapping { object.member(k.string ?? "") { write(v, to: &$0) } }
            }
        case .sequence(let sequence):
            writer.array(sequence) { write($1, to: &$0) }
        case .scalar(let scalar):
            if scalar.style == .plain {
                if node.null != nil { writer.null(); return }
                if let b = node.bool { writer.bool(b); return }
                if let i = node.int { writer.integer(i); return }
                if let f = node.float, f.isFinite, scalar.string.contains(where: { $0.isNumber }) {
                    writer.raw(String(f)); return
                }
            }
            _ = writer.string(scalar.string)
        case .alias:
            writer.null()
        }
    }
}

extension ScheduleConfig {
    /// Names go into unique keys (`schedule:NAME:TICK`), so no `:`.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 128
            && name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "._-".unicodeScalars.contains($0)) }
    }
}
