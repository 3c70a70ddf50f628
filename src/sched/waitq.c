#include "sched/waitq.h"

int wf_waitq_wait(wf_waitq_t *q, wf_spin_t *lock, wf_waiter_t *w, wf_task_t *t,
                  int cancellable, enum wf_wait_kind kind, const void *obj) {
    int rc = wf_wait_arm(t, cancellable, kind, obj);
    if (rc) {
        wf_spin_unlock(lock);
        return rc;
    }
    w->task = t;
    wf_waitq_push(q, w);
    wf_spin_unlock(lock);
    rc = wf_wait_park(t);
    if (rc == WEFT_ECANCELED) {
        /* Cancellation claims without popping: unlink under the lock (a
         * waker may also have popped us, then failed its claim). */
        wf_spin_lock(lock);
        wf_waitq_remove(q, w);
        wf_spin_unlock(lock);
    }
    return rc;
}

wf_task_t *wf_waitq_claim_one(wf_waitq_t *q, int rc, void *item) {
    wf_waiter_t *w;
    while ((w = wf_waitq_pop(q))) {
        w->item = item;
        if (wf_wait_claim_nowake(w->task, rc)) return w->task;
    }
    return NULL;
}

wf_task_t *wf_waitq_claim_list(wf_waitq_t *q, int rc, size_t max) {
    wf_task_t *first = NULL, **tail = &first;
    for (wf_task_t *t; max > 0 && (t = wf_waitq_claim_one(q, rc, NULL)); max--) {
        *tail = t;
        tail = &t->queue_next;
    }
    *tail = NULL;
    return first;
}

size_t wf_waitq_wake_all(wf_waitq_t *q, int rc) {
    size_t n = 0;
    wf_waiter_t *w;
    while ((w = wf_waitq_pop(q))) n += (size_t)wf_wait_claim(w->task, rc);
    return n;
}

/* Fast completions since this thread last let others run.  Read and written
 * only here, in a function that never switches tasks, so the thread-local
 * address is never used across a migration. */
static __thread unsigned fast_streak;

__attribute__((noinline)) static int budget_spent(void) {
    if (++fast_streak < WF_SYNC_BUDGET) return 0;
    fast_streak = 0;
    return 1;
}

void wf_sync_after_fast(wf_task_t *t) {
    if (budget_spent()) wf_task_switch_out(t, WF_SWITCH_YIELD);
}
