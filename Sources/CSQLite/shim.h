#include <sqlite3.h>

// SQLITE_TRANSIENT is a macro Swift cannot import; this is its value.
static inline sqlite3_destructor_type csqlite_transient(void) {
    return (sqlite3_destructor_type)-1;
}

// sqlite3_config is variadic, which Swift cannot call. Before the first
// connection opens: no memory statistics (each malloc would take a global
// mutex) and multi-thread mode (every connection has one user at a time).
// Returns SQLITE_MISUSE, harmlessly, when SQLite was already initialized.
static inline int csqlite_configure_for_single_owner_connections(void) {
    int rc = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    if (rc != SQLITE_OK) return rc;
    return sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
}
