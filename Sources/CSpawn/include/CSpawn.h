#ifndef CSPAWN_H
#define CSPAWN_H

#include <sys/types.h>

/// Starts `argv[0]` (searched on the daemon's PATH when it has no slash) with
/// environment `envp`, stdin/stdout/stderr from `in_fd`/`out_fd`/`err_fd`,
/// in `cwd` (NULL: the daemon's), as the leader of a new process group, with
/// default signal dispositions, an empty signal mask, and every other file
/// descriptor of the daemon closed. Returns 0 and sets `*pid`, or an errno.
int cspawn_start(char *const argv[], char *const envp[], const char *cwd,
                 int in_fd, int out_fd, int err_fd, pid_t *pid);

/// pipe2(O_CLOEXEC | O_NONBLOCK on the daemon's end): `fds[0]` reads, `fds[1]` writes.
/// `nonblocking_end` is 0 for the read end, 1 for the write end.
int cspawn_pipe(int fds[2], int nonblocking_end);

/// A pidfd for `pid` (Linux 5.3+): readable once the process has exited. -1 on error.
int cspawn_pidfd_open(pid_t pid);

#endif
