/*
 * Conditions (AnyIO's Condition) on a weft lock.  wait queues the task on the
 * condition (under the condition's spinlock) before it releases the lock, so
 * a notify issued after the release — from any task or thread, holding the
 * lock or not — finds it: no lost wake-up.  Whatever ends the wait
 * (notification or cancellation), the task takes the lock again, not
 * cancellably (AnyIO's shielded re-acquire), before it returns.
 */
#include <stdint.h>
#include <string.h>

#include "sched/waitq.h"

struct weft_cond_t {
    wf_spin_t lock;
    weft_lock_t *mutex;
    wf_waitq_t waiters;
};

int weft_cond_new(weft_cond_t **out, weft_lock_t *lock) {
    if (!out || !lock) return WEFT_EINVAL;
    weft_cond_t *c = wf_alloc(sizeof *c);
    if (!c) return WEFT_ENOMEM;
    wf_spin_init(&c->lock);
    c->mutex = lock;
    wf_waitq_init(&c->waiters);
    *out = c;
    return 0;
}

void weft_cond_free(weft_cond_t *c) { wf_free(c); }

int weft_cond_wait(weft_cond_t *c) {
    wf_task_t *t = wf_current_task();
    if (!t) return WEFT_EPERM;
    if (!c) return WEFT_EINVAL;
    weft_lock_t *l = c->mutex;
    wf_spin_lock(&l->lock);
    int mine = l->owner == t;
    wf_spin_unlock(&l->lock);
    if (!mine) return WEFT_EPERM;

    wf_waiter_t w = {0};
    wf_spin_lock(&c->lock);
    int rc = wf_wait_arm(t, 1, WF_WAIT_COND, c);
    if (rc) { /* already cancelled: keep the lock, wait for nothing */
        wf_spin_unlock(&c->lock);
        return rc;
    }
    w.task = t;
    wf_waitq_push(&c->waiters, &w);
    wf_spin_unlock(&c->lock);
    /* A notification or cancellation may claim the wait from here on; the
     * park below then returns at once. */
    wf_lock_release(l, t);
    rc = wf_wait_park(t);
    if (rc == WEFT_ECANCELED) { /* see wf_waitq_wait: only then may w be queued */
        wf_spin_lock(&c->lock);
        wf_waitq_remove(&c->waiters, &w);
        wf_spin_unlock(&c->lock);
    }
    wf_lock_acquire(l, t, 0);
    return rc;
}

void weft_cond_notify(weft_cond_t *c, unsigned n) {
    if (!c) return;
    wf_spin_lock(&c->lock);
    wf_task_t *claimed = wf_waitq_claim_list(&c->waiters, 0, n);
    wf_spin_unlock(&c->lock); /* last touch of c: a woken waiter may free it */
    wf_wake_claimed(claimed);
}

void weft_cond_notify_all(weft_cond_t *c) {
    if (!c) return;
    wf_spin_lock(&c->lock);
    wf_task_t *claimed = wf_waitq_claim_list(&c->waiters, 0, SIZE_MAX);
    wf_spin_unlock(&c->lock);
    wf_wake_claimed(claimed);
}

void weft_cond_stats(const weft_cond_t *cc, weft_cond_stats_t *out) {
    if (!out) return;
    memset(out, 0, sizeof *out);
    if (!cc) return;
    weft_cond_t *c = (weft_cond_t *)cc;
    wf_spin_lock(&c->lock);
    out->tasks_waiting = c->waiters.len;
    wf_spin_unlock(&c->lock);
    weft_lock_stats(c->mutex, &out->lock);
}
