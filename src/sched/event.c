/*
 * Events (AnyIO's Event): set once, from any task or thread; every waiter is
 * woken together.  `set` is an atomic flag so that is_set and a wait on a set
 * event take no lock; waiters queue under the event's spinlock, and set takes
 * that lock after raising the flag, so a waiter either sees the flag while
 * arming (under the lock) or is on the queue that set empties.
 */
#include <stdint.h>
#include <string.h>

#include "sched/waitq.h"

struct weft_event_t {
    wf_spin_t lock;
    atomic_int set;
    wf_waitq_t waiters;
};

int weft_event_new(weft_event_t **out) {
    if (!out) return WEFT_EINVAL;
    weft_event_t *e = wf_alloc(sizeof *e);
    if (!e) return WEFT_ENOMEM;
    wf_spin_init(&e->lock);
    atomic_init(&e->set, 0);
    wf_waitq_init(&e->waiters);
    *out = e;
    return 0;
}

void weft_event_free(weft_event_t *e) { wf_free(e); }

void weft_event_set(weft_event_t *e) {
    if (!e || atomic_load_explicit(&e->set, memory_order_acquire)) return;
    wf_spin_lock(&e->lock);
    atomic_store_explicit(&e->set, 1, memory_order_release);
    wf_task_t *claimed = wf_waitq_claim_list(&e->waiters, 0, SIZE_MAX);
    wf_spin_unlock(&e->lock); /* last touch of e */
    wf_wake_claimed(claimed);
}

/* Whoever saw `set` may free e at once: wait until the setter, which stored
 * it under the lock, has let go of it. */
static void settle(const weft_event_t *e) {
    while (atomic_load_explicit(&e->lock.locked, memory_order_acquire)) wf_cpu_relax();
}

int weft_event_is_set(const weft_event_t *e) {
    if (!e || !atomic_load_explicit(&e->set, memory_order_acquire)) return 0;
    settle(e);
    return 1;
}

int weft_event_wait(weft_event_t *e) {
    wf_task_t *t = wf_current_task();
    if (!t) return WEFT_EPERM;
    if (!e) return WEFT_EINVAL;
    int rc = wf_sync_cancelled(t);
    if (rc) return rc;
    if (atomic_load_explicit(&e->set, memory_order_acquire)) {
        settle(e);
        wf_sync_after_fast(t);
        return 0;
    }
    wf_waiter_t w = {0};
    wf_spin_lock(&e->lock);
    if (atomic_load_explicit(&e->set, memory_order_relaxed)) {
        wf_spin_unlock(&e->lock);
        return 0;
    }
    return wf_waitq_wait(&e->waiters, &e->lock, &w, t, 1, WF_WAIT_EVENT, e); /* unlocks */
}

void weft_event_stats(const weft_event_t *ce, weft_event_stats_t *out) {
    if (!out) return;
    memset(out, 0, sizeof *out);
    if (!ce) return;
    weft_event_t *e = (weft_event_t *)ce;
    wf_spin_lock(&e->lock);
    out->tasks_waiting = e->waiters.len;
    wf_spin_unlock(&e->lock);
}
