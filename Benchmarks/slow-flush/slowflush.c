/*
 * slowflush.c: an LD_PRELOAD shim that makes every fsync/fdatasync slower.
 *
 * Why: the benchmark machines flush fast (a VM disk, or a datacenter SSD
 * with power-loss protection: tens to a couple of hundred microseconds). A
 * consumer SSD without power-loss protection needs hundreds of microseconds
 * to milliseconds per flush. Throughput of a durable queue is bounded by
 * flushes per second, so to see how a design behaves on such a disk (does it
 * group commits, or pay one flush per job?) we add a fixed delay after each
 * real flush.
 *
 * Each call runs the real function (looked up with dlsym(RTLD_NEXT)), then
 * sleeps SLOW_FLUSH_US microseconds (environment variable, read once;
 * default 400; 0 turns the delay off). The real return value and errno are
 * kept. Only the calling thread waits, as it would for a slow disk; flushes
 * from several threads at once wait side by side (a real disk might queue
 * them), which does not matter for a single writer such as SQLite's.
 *
 * Build: cc -O2 -shared -fPIC -o slowflush.so slowflush.c -ldl
 * Use:   LD_PRELOAD=$PWD/slowflush.so SLOW_FLUSH_US=1000 some-server ...
 *
 * Only calls through the dynamic symbols are seen: a program that issues the
 * raw syscall (or is linked statically) is not slowed down.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

typedef int (*flush_fn)(int);

static flush_fn real_fsync;
static flush_fn real_fdatasync;
static long delay_us = 400;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void)
{
    real_fsync = (flush_fn)dlsym(RTLD_NEXT, "fsync");
    real_fdatasync = (flush_fn)dlsym(RTLD_NEXT, "fdatasync");
    const char *s = getenv("SLOW_FLUSH_US");
    if (s != NULL && *s != '\0') {
        char *end;
        long v = strtol(s, &end, 10);
        if (*end == '\0' && v >= 0)
            delay_us = v;
    }
}

/* Sleep delay_us on the monotonic clock; resume after a signal so that the
 * whole delay is always paid. The thread's timer slack (50 µs by default:
 * the kernel may wake a sleeper that much late) is cut to 1 ns for the
 * sleep and restored afterwards, so the delay is close to the one asked
 * for; what remains is the wake-up latency of the machine. */
static void delay(void)
{
    if (delay_us <= 0)
        return;
    int slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
    if (slack > 1)
        prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    struct timespec ts = {
        .tv_sec = delay_us / 1000000,
        .tv_nsec = (delay_us % 1000000) * 1000,
    };
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ts.tv_sec;
    until.tv_nsec += ts.tv_nsec;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec += 1;
        until.tv_nsec -= 1000000000;
    }
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
        ;
    if (slack > 1)
        prctl(PR_SET_TIMERSLACK, (unsigned long)slack, 0, 0, 0);
}

static int slow(flush_fn fn, int fd)
{
    if (fn == NULL) {
        errno = ENOSYS;
        return -1;
    }
    int rc = fn(fd);
    int saved = errno;
    delay();
    errno = saved;
    return rc;
}

int fsync(int fd)
{
    pthread_once(&once, init);
    return slow(real_fsync, fd);
}

int fdatasync(int fd)
{
    pthread_once(&once, init);
    return slow(real_fdatasync, fd);
}
