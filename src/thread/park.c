#include "thread/park.h"

#include <errno.h>
#include <math.h>
#include <time.h>

#include "sched/util.h"

/* How long a waiter spins at most before it sleeps (less after spins that
 * bought nothing: sched/spinwait.h).  A round trip through a worker (post, run,
 * wake) measures 2-6 us on 2 cores; spinning much longer only takes CPU from
 * the workers. */
#define SPIN_SECONDS 20e-6

double wf_park_clock(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

static void os_wait(atomic_uint *word, unsigned expected, double timeout) {
    struct timespec ts, *tsp = NULL;
    if (!isinf(timeout)) {
        if (timeout < 0) timeout = 0;
        ts.tv_sec = (time_t)timeout;
        ts.tv_nsec = (long)((timeout - (double)ts.tv_sec) * 1e9);
        tsp = &ts;
    }
    syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, tsp, NULL, 0);
}

static void os_wake(atomic_uint *word) { syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0); }
#else
#include <pthread.h>
#include <stdint.h>

/* No futex: a condition variable per hash bucket of addresses. */
#define BUCKETS 64
static struct bucket {
    pthread_mutex_t lock;
    pthread_cond_t cond;
} buckets[BUCKETS] = {[0 ... BUCKETS - 1] = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER}};

static struct bucket *bucket_of(const void *p) { return &buckets[((uintptr_t)p >> 4) % BUCKETS]; }

static void os_wait(atomic_uint *word, unsigned expected, double timeout) {
    struct bucket *b = bucket_of(word);
    pthread_mutex_lock(&b->lock);
    if (atomic_load(word) == expected) {
        if (isinf(timeout)) {
            pthread_cond_wait(&b->cond, &b->lock);
        } else {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            double at = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9 + (timeout > 0 ? timeout : 0);
            ts.tv_sec = (time_t)at;
            ts.tv_nsec = (long)((at - (double)ts.tv_sec) * 1e9);
            pthread_cond_timedwait(&b->cond, &b->lock, &ts);
        }
    }
    pthread_mutex_unlock(&b->lock);
}

static void os_wake(atomic_uint *word) {
    struct bucket *b = bucket_of(word);
    pthread_mutex_lock(&b->lock);
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->lock);
}
#endif

void wf_flag_set(wf_flag_t *f) {
    if (atomic_exchange(&f->state, WF_FLAG_SET) == WF_FLAG_SLEEPER) os_wake(&f->state);
}

int wf_park_spin(wf_spinwait_t *s, int (*ready)(const void *arg), const void *arg) {
    return wf_spinwait(s, SPIN_SECONDS, ready, arg) != 0;
}

static int flag_ready(const void *f) { return wf_flag_is_set(f); }

/* Every flag wait shares one record of what spinning bought. */
static wf_spinwait_t flag_spins = WF_SPINWAIT_INIT;

int wf_flag_spin(wf_flag_t *f) { return wf_park_spin(&flag_spins, flag_ready, f); }

int wf_flag_wait(wf_flag_t *f, double deadline, int spin) {
    if (spin && wf_flag_spin(f)) return 1;
    for (;;) {
        unsigned s = WF_FLAG_CLEAR;
        if (!atomic_compare_exchange_strong(&f->state, &s, WF_FLAG_SLEEPER) && s == WF_FLAG_SET)
            return 1;
        double now = wf_park_clock();
        if (now >= deadline) {
            /* Give up, unless the setter got there first. */
            s = WF_FLAG_SLEEPER;
            return !atomic_compare_exchange_strong(&f->state, &s, WF_FLAG_CLEAR);
        }
        os_wait(&f->state, WF_FLAG_SLEEPER, deadline - now);
    }
}
