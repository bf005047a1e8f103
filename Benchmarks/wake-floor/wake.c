// What one thread hand-off costs on this machine: two threads pass a turn
// back and forth through a condition variable, so each round trip is two
// wake-ups of a sleeping thread (a futex wake and a context switch each).
// Build and run: cc -O2 -pthread wake.c -o wake && ./wake
#include <pthread.h>
#include <stdio.h>
#include <time.h>

enum { rounds = 20000 };
static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static int turn = 0;

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void play(int mine, int next) {
    pthread_mutex_lock(&mutex);
    while (turn != mine) pthread_cond_wait(&changed, &mutex);
    turn = next;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&mutex);
}

static void *partner(void *unused) {
    (void)unused;
    for (int i = 0; i < rounds; i++) play(1, 0);
    return NULL;
}

int main(void) {
    pthread_t thread;
    pthread_create(&thread, NULL, partner, NULL);
    double start = seconds();
    for (int i = 0; i < rounds; i++) play(0, 1);
    double elapsed = seconds() - start;
    pthread_join(thread, NULL);
    printf("wake_up_us %.1f\n", elapsed / rounds / 2 * 1e6);
    return 0;
}
