#include "sched/util.h"

#include "sched/fault.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How long a core that lost the fight for a lock steps away (the kernel adds
 * its timer slack, 50 us by default). */
#define SPIN_SLEEP_NS 10000

/* Test-and-test-and-set with exponential backoff.  Polling the lock word
 * every pause would pull its line away from the holder each time, and on
 * machines where a line takes 50-200 ns to cross cores the lock would then
 * change hands (and lines) on every operation; backing off lets the holder's
 * core run several operations while it has the line.
 *
 * After about 64 pauses (1-3 us) the lock is fought over by several cores,
 * or its holder was preempted.  Either way this core is best out of the way:
 * it sleeps, and the holder's core goes on with the line local for that
 * long, which is what Go's runtime lock gets from sleeping in a futex.  A
 * fixed sleep costs the holder nothing, where a futex would make every unlock
 * a system call while anyone slept.  A worker asleep here keeps its queued
 * tasks stealable.  (With sched_yield instead, a 4x4-task channel on 2
 * workers moved 13 M items/s; with the sleep, 31 M.) */
void wf_spin_lock_slow(wf_spin_t *l) {
    unsigned delay = 1, spent = 0;
    for (;;) {
        while (atomic_load_explicit(&l->locked, memory_order_relaxed)) {
            if (spent >= 64) {
                struct timespec ts = {0, SPIN_SLEEP_NS};
                nanosleep(&ts, NULL);
                continue;
            }
            for (unsigned i = 0; i < delay; i++) wf_cpu_relax();
            spent += delay;
            delay *= 2;
        }
        if (!atomic_exchange_explicit(&l->locked, 1, memory_order_acquire)) return;
    }
}

/* ---------------------------------------------------------------- fault injection (fault.h) */

atomic_long wf_fault_target[WF_FAULT_KINDS];
static atomic_long fault_count[WF_FAULT_KINDS], fault_injected[WF_FAULT_KINDS];

void wf_fault_fail_at(wf_fault_kind_t kind, long n) {
    if (n) {
        atomic_store(&fault_count[kind], 0);
        atomic_store(&fault_injected[kind], 0);
    }
    atomic_store(&wf_fault_target[kind], n);
}

long wf_fault_count(wf_fault_kind_t kind) { return atomic_load(&fault_count[kind]); }
long wf_fault_injected(wf_fault_kind_t kind) { return atomic_load(&fault_injected[kind]); }

int wf_fault_hit_slow(wf_fault_kind_t kind, long target) {
    long n = atomic_fetch_add_explicit(&fault_count[kind], 1, memory_order_relaxed) + 1;
    if (target != WF_FAULT_ALWAYS && n != target) return 0;
    atomic_fetch_add_explicit(&fault_injected[kind], 1, memory_order_relaxed);
    return 1;
}

/* ---------------------------------------------------------------- the allocator */

void *wf_alloc(size_t size) { return wf_fault_hit(WF_FAULT_ALLOC) ? NULL : malloc(size); }
void *wf_calloc(size_t n, size_t size) { return wf_fault_hit(WF_FAULT_ALLOC) ? NULL : calloc(n, size); }
void *wf_realloc(void *p, size_t size) { return wf_fault_hit(WF_FAULT_ALLOC) ? NULL : realloc(p, size); }
void wf_free(void *p) { free(p); }

void *wf_calloc_line(size_t size) {
    size_t rounded = (size + WF_CACHE_LINE - 1) / WF_CACHE_LINE * WF_CACHE_LINE;
    void *p = wf_fault_hit(WF_FAULT_ALLOC) ? NULL : aligned_alloc(WF_CACHE_LINE, rounded);
    if (p) memset(p, 0, rounded);
    return p;
}
