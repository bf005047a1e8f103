// The raw SQLite floor on this machine: what the system libsqlite3 does with
// no jobqueue code around it, under the same pragmas (WAL, synchronous=FULL).
// Built and run by Benchmarks/run-store-benchmark next to the store benchmark.
//
//   floor DIR [--quick]

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void check(int rc, sqlite3 *db, const char *what) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fprintf(stderr, "%s: %s\n", what, sqlite3_errmsg(db));
        exit(1);
    }
}

static sqlite3 *open_db(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.db", dir, name);
    unlink(path);
    sqlite3 *db;
    check(sqlite3_open(path, &db), db, "open");
    check(sqlite3_exec(db,
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
        "CREATE TABLE jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, queue TEXT NOT NULL, payload TEXT NOT NULL,"
        " state TEXT NOT NULL, priority INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,"
        " run_at INTEGER NOT NULL, finished_at INTEGER);"
        "CREATE INDEX jobs_ready ON jobs (queue, priority DESC, run_at, id) WHERE state = 'queued';",
        0, 0, 0), db, "schema");
    return db;
}

static const char *payload = "{\"path\":\"/srv/images/2026/11/29/a-photo-of-a-cat.png\",\"size\":256,\"format\":\"webp\",\"q\":80}";

static void insert(sqlite3_stmt *ins, sqlite3 *db) {
    sqlite3_bind_text(ins, 1, payload, -1, SQLITE_STATIC);
    check(sqlite3_step(ins), db, "insert");
    sqlite3_reset(ins);
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: floor DIR [--quick]\n"); return 64; }
    const char *dir = argv[1];
    int quick = argc > 2 && strcmp(argv[2], "--quick") == 0;
    const char *insert_sql = "INSERT INTO jobs (queue, payload, state, run_at) VALUES ('default', ?, 'queued', 0)";

    // 1. One durable commit per row.
    sqlite3 *db = open_db(dir, "single");
    sqlite3_stmt *ins;
    check(sqlite3_prepare_v2(db, insert_sql, -1, &ins, 0), db, "prepare");
    int n = quick ? 300 : 5000;
    double t0 = now();
    for (int i = 0; i < n; i++) insert(ins, db);
    printf("floor_single_commits_per_s %.0f\n", n / (now() - t0));
    sqlite3_finalize(ins);
    sqlite3_close(db);

    // 2. 100 rows per transaction.
    db = open_db(dir, "batch");
    check(sqlite3_prepare_v2(db, insert_sql, -1, &ins, 0), db, "prepare");
    int txns = quick ? 30 : 1000;
    t0 = now();
    for (int t = 0; t < txns; t++) {
        sqlite3_exec(db, "BEGIN IMMEDIATE", 0, 0, 0);
        for (int i = 0; i < 100; i++) insert(ins, db);
        check(sqlite3_exec(db, "COMMIT", 0, 0, 0), db, "commit");
    }
    printf("floor_rows_per_s_at_100 %.0f\n", txns * 100 / (now() - t0));

    // 3. Claim 100 (one transaction), complete them (one transaction).
    sqlite3_stmt *pick, *claim, *done;
    check(sqlite3_prepare_v2(db, "SELECT id FROM jobs WHERE state = 'queued' AND queue = 'default'"
        " ORDER BY priority DESC, run_at, id LIMIT 100", -1, &pick, 0), db, "prepare");
    check(sqlite3_prepare_v2(db, "UPDATE jobs SET state = 'running', attempts = attempts + 1 WHERE id = ? AND state = 'queued'",
        -1, &claim, 0), db, "prepare");
    check(sqlite3_prepare_v2(db, "UPDATE jobs SET state = 'succeeded', finished_at = 1 WHERE id = ? AND state = 'running'",
        -1, &done, 0), db, "prepare");
    sqlite3_int64 ids[100];
    int cycles = 0;
    t0 = now();
    for (;;) {
        sqlite3_exec(db, "BEGIN IMMEDIATE", 0, 0, 0);
        int k = 0;
        while (sqlite3_step(pick) == SQLITE_ROW) ids[k++] = sqlite3_column_int64(pick, 0);
        sqlite3_reset(pick);
        for (int i = 0; i < k; i++) {
            sqlite3_bind_int64(claim, 1, ids[i]);
            check(sqlite3_step(claim), db, "claim");
            sqlite3_reset(claim);
        }
        check(sqlite3_exec(db, "COMMIT", 0, 0, 0), db, "commit");
        if (k == 0) break;
        sqlite3_exec(db, "BEGIN IMMEDIATE", 0, 0, 0);
        for (int i = 0; i < k; i++) {
            sqlite3_bind_int64(done, 1, ids[i]);
            check(sqlite3_step(done), db, "complete");
            sqlite3_reset(done);
        }
        check(sqlite3_exec(db, "COMMIT", 0, 0, 0), db, "commit");
        cycles += k;
    }
    printf("floor_claim_complete_per_s_at_100 %.0f\n", cycles / (now() - t0));
    sqlite3_close(db);
    return 0;
}
