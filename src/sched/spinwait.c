#include "sched/spinwait.h"

#include <stdint.h>
#include <time.h>

#include "sched/util.h"

#define MAX_MISSES 5u /* the floor: 1/32 of the budget */
#define PROBE_EVERY 8u
/* A gap this long between two looks at the clock (64 relaxes apart, a few
 * microseconds) means the kernel ran something else on this CPU meanwhile. */
#define DESCHEDULED_NS 50000u

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void set_misses(wf_spinwait_t *s, unsigned n) {
    atomic_store_explicit(&s->misses, n, memory_order_relaxed);
}

int wf_spinwait(wf_spinwait_t *s, double max_seconds, int (*stop)(const void *arg), const void *arg) {
    unsigned misses = atomic_load_explicit(&s->misses, memory_order_relaxed);
    uint64_t budget = (uint64_t)(max_seconds * 1e9);
    if (misses && atomic_fetch_add_explicit(&s->spins, 1, memory_order_relaxed) % PROBE_EVERY)
        budget >>= misses;
    uint64_t start = now_ns(), last = start;
    for (unsigned i = 1;; i++) {
        int r = stop(arg);
        if (r) {
            if (misses) set_misses(s, 0);
            return r;
        }
        wf_cpu_relax();
        if (i % 64) continue;
        uint64_t now = now_ns();
        if (now - last > DESCHEDULED_NS) {
            set_misses(s, MAX_MISSES);
            return 0;
        }
        if (now - start >= budget) {
            if (misses < MAX_MISSES) set_misses(s, misses + 1);
            return 0;
        }
        last = now;
    }
}
