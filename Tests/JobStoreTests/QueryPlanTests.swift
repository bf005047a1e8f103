import JobCore
import Testing
@testable import JobStore

/// The hot queries stay O(log n): SQLite's plan searches an index and never
/// scans or sorts the jobs table. (The benchmark measures it at 1M rows.)
/// The waiting-jobs queries name their index (`INDEXED BY`): without
/// statistics the planner would pick `jobs_state` and sort.
@Suite struct QueryPlanTests {
    func plan(_ t: TestStore, _ sql: String) throws -> String {
        try outsideQuery(t.path, "EXPLAIN QUERY PLAN " + sql).map { $0.last! }.joined(separator: " | ")
    }

    @Test(arguments: [
        ("SELECT id, priority, run_at FROM jobs WHERE state = 'queued' AND external = 0 AND key_held = 0 AND queue = 'q' ORDER BY priority DESC, run_at, id LIMIT 5", "jobs_ready"),
        ("SELECT id, priority, run_at FROM jobs INDEXED BY jobs_ready_external WHERE state = 'queued' AND external = 1 AND key_held = 0 AND handler = 'h' AND queue = 'q' ORDER BY priority DESC, run_at, id LIMIT 5", "jobs_ready_external"),
        ("SELECT 1 FROM jobs INDEXED BY jobs_ready WHERE state = 'queued' AND external = 0 AND key_held = 0 AND queue = 'q' LIMIT 1", "jobs_ready"),
        // Concurrency keys: the admitted jobs of a key (at most key_concurrency), the best held one, the held keys.
        ("SELECT count(*) FROM (SELECT 1 FROM jobs INDEXED BY jobs_key_admitted WHERE handler = 'h' AND concurrency_key = 'k' AND concurrency_key IS NOT NULL AND key_held = 0 AND state IN ('queued', 'running') AND id <> 0 LIMIT 1)", "jobs_key_admitted"),
        ("SELECT id FROM jobs INDEXED BY jobs_key_held WHERE key_held = 1 AND handler = 'h' AND concurrency_key = 'k' ORDER BY priority DESC, run_at, id LIMIT 1", "jobs_key_held"),
        ("SELECT DISTINCT handler, concurrency_key FROM jobs INDEXED BY jobs_key_held WHERE key_held = 1", "jobs_key_held"),
        ("SELECT id FROM jobs WHERE state = 'running' AND lease_token IS NOT NULL", "jobs_state"),
        ("SELECT id FROM jobs INDEXED BY jobs_waiting WHERE state IN ('scheduled', 'retrying') AND run_at <= 5 ORDER BY run_at LIMIT 10", "jobs_waiting"),
        ("SELECT run_at FROM jobs INDEXED BY jobs_waiting WHERE state IN ('scheduled', 'retrying') ORDER BY run_at LIMIT 1", "jobs_waiting"),
        ("SELECT id, state FROM jobs WHERE unique_key = 'k' AND state IN ('blocked', 'scheduled', 'queued', 'running', 'retrying')", "jobs_unique_key"),
        ("SELECT id FROM jobs WHERE state = 'succeeded' AND finished_at IS NOT NULL AND finished_at < 5 ORDER BY finished_at LIMIT 500", "jobs_finished"),
        ("SELECT id FROM jobs WHERE id > 0 AND state = 'failed' ORDER BY id LIMIT 101", "jobs_state"),
        ("SELECT id FROM jobs WHERE state = 'running' AND lease_owner IS NOT 'x' AND lease_token IS NULL ORDER BY id", "jobs_state"),
    ])
    func usesItsIndex(sql: String, index: String) throws {
        let t = try TestStore()
        let plan = try plan(t, sql)
        #expect(plan.contains("USING INDEX \(index)") || plan.contains("USING COVERING INDEX \(index)"), "\(plan)")
        // A scan of the table is O(n); an ordered walk of a partial index that
        // stops at LIMIT 1 ("SCAN jobs USING INDEX") reads one entry.
        let tableScan = plan.contains("SCAN jobs") && !plan.contains("SCAN jobs USING INDEX \(index)")
        #expect(!tableScan && !plan.contains("TEMP B-TREE"), "\(plan)")
    }

    @Test func theStoresOwnStatementsMatchThePlannedShapes() async throws {
        // The SQL the store builds from JobState must match the partial indexes' WHERE clauses.
        #expect(SQLStates.list(JobState.waiting) == "('scheduled', 'retrying')")
        #expect(SQLStates.list(JobState.active) == "('blocked', 'scheduled', 'queued', 'running', 'retrying')")
    }

    /// A dependency's end reads and deletes its dependents by the primary
    /// key of `job_dependencies`: one range, whatever the jobs table holds.
    @Test(arguments: [
        "SELECT job_id FROM job_dependencies WHERE depends_on = 5",
        "DELETE FROM job_dependencies WHERE depends_on = 5",
    ])
    func dependentsAreFoundByTheirKey(sql: String) throws {
        let t = try TestStore()
        let plan = try plan(t, sql)
        #expect(plan.contains("SEARCH job_dependencies USING PRIMARY KEY (depends_on=?)"), "\(plan)")
    }
}
