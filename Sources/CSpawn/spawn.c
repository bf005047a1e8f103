#define _GNU_SOURCE
#include "CSpawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <unistd.h>

int cspawn_start(char *const argv[], char *const envp[], const char *cwd,
                 int in_fd, int out_fd, int err_fd, pid_t *pid) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    int rc = posix_spawn_file_actions_init(&actions);
    if (rc != 0) return rc;
    rc = posix_spawnattr_init(&attr);
    if (rc != 0) {
        posix_spawn_file_actions_destroy(&actions);
        return rc;
    }

    // The pipes' child ends become 0, 1, 2; everything above is closed, so no
    // descriptor of the daemon (database, sockets) leaks into a handler.
    if (!rc) rc = posix_spawn_file_actions_adddup2(&actions, in_fd, 0);
    if (!rc) rc = posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
    if (!rc) rc = posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
    if (!rc) rc = posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    if (!rc && cwd) rc = posix_spawn_file_actions_addchdir_np(&actions, cwd);

    // Its own process group (pgid = pid) so that a timeout or cancel can stop
    // every process the handler started; signals as for a fresh process.
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    if (!rc) rc = posix_spawnattr_setpgroup(&attr, 0);
    if (!rc) rc = posix_spawnattr_setsigmask(&attr, &none);
    if (!rc) rc = posix_spawnattr_setsigdefault(&attr, &all);
    if (!rc) rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    if (!rc) rc = posix_spawnp(pid, argv[0], &actions, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    return rc;
}

int cspawn_pipe(int fds[2], int nonblocking_end) {
    if (pipe2(fds, O_CLOEXEC) != 0) return errno;
    int fd = fds[nonblocking_end ? 1 : 0];
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) return errno;
    return 0;
}

int cspawn_pidfd_open(pid_t pid) {
    return (int)syscall(SYS_pidfd_open, pid, 0);
}
