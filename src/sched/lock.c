/*
 * Locks (AnyIO's Lock): owned by a task, FIFO.  release hands the lock
 * directly to the first waiter that can still take it (its claim succeeds),
 * so the lock is never free while a task waits: no barging, and a task that
 * releases and at once acquires again queues behind the waiters.  Everything
 * happens under the lock's own spinlock; the uncontended acquire and release
 * are one spinlock round trip each, with no system call.
 */
#include <string.h>

#include "sched/waitq.h"

int weft_lock_new(weft_lock_t **out) {
    if (!out) return WEFT_EINVAL;
    weft_lock_t *l = wf_alloc(sizeof *l);
    if (!l) return WEFT_ENOMEM;
    wf_spin_init(&l->lock);
    atomic_init(&l->holders.one, NULL);
    atomic_init(&l->holders.count, 0);
    l->owner = NULL;
    wf_waitq_init(&l->waiters);
    *out = l;
    return 0;
}

void weft_lock_free(weft_lock_t *l) { wf_free(l); }

int wf_lock_acquire(weft_lock_t *l, wf_task_t *t, int cancellable) {
    wf_spin_lock(&l->lock);
    if (l->owner == NULL) {
        if (cancellable && wf_sync_cancelled(t)) {
            wf_spin_unlock(&l->lock);
            return WEFT_ECANCELED;
        }
        wf_lock_set_owner(l, t);
        wf_spin_unlock(&l->lock);
        wf_sync_after_fast(t);
        return 0;
    }
    if (l->owner == t) {
        wf_spin_unlock(&l->lock);
        return cancellable && wf_sync_cancelled(t) ? WEFT_ECANCELED : WEFT_EPERM;
    }
    /* Arming reports a cancellation; rc 0: release made us the owner before
     * it claimed our wait. */
    wf_waiter_t w = {0};
    return wf_waitq_wait(&l->waiters, &l->lock, &w, t, cancellable, WF_WAIT_LOCK, l); /* unlocks */
}

int weft_lock_acquire(weft_lock_t *l) {
    wf_task_t *t = wf_current_task();
    if (!t) return WEFT_EPERM;
    if (!l) return WEFT_EINVAL;
    return wf_lock_acquire(l, t, 1);
}

int weft_lock_try_acquire(weft_lock_t *l) {
    wf_task_t *t = wf_current_task();
    if (!t) return WEFT_EPERM;
    if (!l) return WEFT_EINVAL;
    wf_spin_lock(&l->lock);
    int rc = 0;
    if (l->owner == NULL) wf_lock_set_owner(l, t);
    else rc = l->owner == t ? WEFT_EPERM : WEFT_EAGAIN;
    wf_spin_unlock(&l->lock);
    return rc;
}

int wf_lock_release(weft_lock_t *l, wf_task_t *t) {
    wf_spin_lock(&l->lock);
    if (l->owner != t || t == NULL) {
        wf_spin_unlock(&l->lock);
        return WEFT_EPERM;
    }
    wf_task_t *next = wf_waitq_claim_one(&l->waiters, 0, NULL);
    wf_lock_set_owner(l, next);
    wf_unlock_wake(&l->lock, next);
    return 0;
}

int weft_lock_release(weft_lock_t *l) {
    wf_task_t *t = wf_current_task();
    if (!t) return WEFT_EPERM;
    if (!l) return WEFT_EINVAL;
    return wf_lock_release(l, t);
}

int weft_lock_locked(const weft_lock_t *cl) {
    if (!cl) return 0;
    weft_lock_t *l = (weft_lock_t *)cl;
    wf_spin_lock(&l->lock);
    int locked = l->owner != NULL;
    wf_spin_unlock(&l->lock);
    return locked;
}

void wf_lock_stats_locked(const weft_lock_t *l, weft_lock_stats_t *out) {
    out->locked = l->owner != NULL;
    out->owner = l->owner ? l->owner->name : NULL;
    out->tasks_waiting = l->waiters.len;
}

void weft_lock_stats(const weft_lock_t *cl, weft_lock_stats_t *out) {
    if (!out) return;
    memset(out, 0, sizeof *out);
    if (!cl) return;
    weft_lock_t *l = (weft_lock_t *)cl;
    wf_spin_lock(&l->lock);
    wf_lock_stats_locked(l, out);
    wf_spin_unlock(&l->lock);
}
