/*
 * Semaphores (AnyIO's Semaphore): a count of permits with an optional
 * maximum, FIFO.  release hands its permit directly to the first waiter whose
 * claim succeeds, so the value stays 0 while tasks wait and a newcomer cannot
 * overtake them.  A cancelled waiter is skipped and the permit goes to the
 * next one (or back to the count).
 */
#include <limits.h>
#include <string.h>

#include "sched/waitq.h"

struct weft_sem_t {
    wf_spin_t lock;
    unsigned value, max_value;   /* guarded by lock */
    wf_waitq_t waiters;
};

int weft_sem_new(weft_sem_t **out, unsigned initial, unsigned max_value) {
    if (!out || (max_value && initial > max_value)) return WEFT_EINVAL;
    weft_sem_t *s = wf_alloc(sizeof *s);
    if (!s) return WEFT_ENOMEM;
    wf_spin_init(&s->lock);
    s->value = initial;
    s->max_value = max_value;
    wf_waitq_init(&s->waiters);
    *out = s;
    return 0;
}

void weft_sem_free(weft_sem_t *s) { wf_free(s); }

int weft_sem_acquire(weft_sem_t *s) {
    wf_task_t *t = wf_current_task();
    if (!t) return WEFT_EPERM;
    if (!s) return WEFT_EINVAL;
    wf_spin_lock(&s->lock);
    if (s->value > 0) {
        if (wf_sync_cancelled(t)) {
            wf_spin_unlock(&s->lock);
            return WEFT_ECANCELED;
        }
        s->value--;
        wf_spin_unlock(&s->lock);
        wf_sync_after_fast(t);
        return 0;
    }
    /* Arming reports a cancellation; rc 0: release handed us its permit
     * before it claimed our wait. */
    wf_waiter_t w = {0};
    return wf_waitq_wait(&s->waiters, &s->lock, &w, t, 1, WF_WAIT_SEM, s); /* unlocks */
}

int weft_sem_try_acquire(weft_sem_t *s) {
    if (!s) return WEFT_EINVAL;
    wf_spin_lock(&s->lock);
    int rc = WEFT_EAGAIN;
    if (s->value > 0) {
        s->value--;
        rc = 0;
    }
    wf_spin_unlock(&s->lock);
    return rc;
}

/* The most permits the value may hold: max_value, or for an unbounded
 * semaphore UINT_MAX, past which the count would wrap to 0 and lose them. */
static unsigned sem_limit(const weft_sem_t *s) { return s->max_value ? s->max_value : UINT_MAX; }

int weft_sem_release(weft_sem_t *s) {
    if (!s) return WEFT_EINVAL;
    int rc = 0;
    wf_spin_lock(&s->lock);
    wf_task_t *woken = wf_waitq_claim_one(&s->waiters, 0, NULL);
    if (!woken) {
        if (s->value >= sem_limit(s)) rc = WEFT_EINVAL;
        else s->value++;
    }
    wf_unlock_wake(&s->lock, woken);
    return rc;
}

unsigned weft_sem_value(const weft_sem_t *cs) {
    if (!cs) return 0;
    weft_sem_t *s = (weft_sem_t *)cs;
    wf_spin_lock(&s->lock);
    unsigned v = s->value;
    wf_spin_unlock(&s->lock);
    return v;
}

void weft_sem_stats(const weft_sem_t *cs, weft_sem_stats_t *out) {
    if (!out) return;
    memset(out, 0, sizeof *out);
    if (!cs) return;
    weft_sem_t *s = (weft_sem_t *)cs;
    wf_spin_lock(&s->lock);
    out->value = s->value;
    out->max_value = s->max_value;
    out->tasks_waiting = s->waiters.len;
    wf_spin_unlock(&s->lock);
}
