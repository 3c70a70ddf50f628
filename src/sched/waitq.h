/*
 * A FIFO queue of waiting tasks, the building block of events, locks,
 * semaphores, conditions and channels.  It is built on the wait/wake
 * protocol of task.h and protected by the owning object's spinlock (the
 * queue has no lock of its own).
 *
 * Waiting (wf_waitq_wait, object lock held): arm the task, link a node that
 * lives on the waiter's stack, unlock, park, lock again and unlink the node if
 * it is still queued.  Only then may the waiter return, so nobody touches the
 * node after its wait is over.
 *
 * Waking (object lock held): pop the first node, store what is handed over
 * (an item, the lock, a permit) in it, then wf_wait_claim().  A failed claim
 * means the waiter was cancelled at that moment: the hand-off did not happen,
 * the waker keeps what it offered and tries the next node.  A successful
 * claim is final: that waiter returns the claim's result even if it is
 * cancelled right after.  So a cancelled wait consumes nothing and a granted
 * wait is never lost.
 */
#ifndef WEFT_SCHED_WAITQ_H
#define WEFT_SCHED_WAITQ_H

#include "sched/task.h"

typedef struct wf_waiter {
    wf_list_t link;
    wf_task_t *task;
    void *item;          /* payload: the item a sender offers / a receiver got */
    const void *handle;  /* channel handle the task waits through */
    int queued;
} wf_waiter_t;

typedef struct wf_waitq {
    wf_list_t head;
    size_t len;          /* nodes queued (cancelled ones until they unlink) */
} wf_waitq_t;

static inline void wf_waitq_init(wf_waitq_t *q) {
    wf_list_init(&q->head);
    q->len = 0;
}

static inline int wf_waitq_empty(const wf_waitq_t *q) { return q->len == 0; }

static inline void wf_waitq_push(wf_waitq_t *q, wf_waiter_t *w) {
    wf_list_push_back(&q->head, &w->link);
    w->queued = 1;
    q->len++;
}

static inline void wf_waitq_remove(wf_waitq_t *q, wf_waiter_t *w) {
    if (!w->queued) return;
    wf_list_remove(&w->link);
    w->queued = 0;
    q->len--;
}

static inline wf_waiter_t *wf_waitq_first(const wf_waitq_t *q) {
    return q->len ? WF_CONTAINER_OF(q->head.next, wf_waiter_t, link) : NULL;
}

static inline wf_waiter_t *wf_waitq_pop(wf_waitq_t *q) {
    wf_waiter_t *w = wf_waitq_first(q);
    if (w) wf_waitq_remove(q, w);
    return w;
}

/* Block the running task `t` on `q`.  Called with *lock held; returns with
 * *lock released.  `w->item` and `w->handle` are the caller's to fill
 * before.  Returns wf_wait_arm's error (nothing was queued), or the result
 * of the claim that ended the wait.
 *
 * Only a cancellation claims a node that is still queued: every waker pops
 * the node before it claims and does not touch it after a successful claim.
 * So when the wait ended with anything but WEFT_ECANCELED the node is
 * already off the queue and nobody will touch it again, and the waiter
 * skips taking the lock (one lock round trip less per hand-off). */
int wf_waitq_wait(wf_waitq_t *q, wf_spin_t *lock, wf_waiter_t *w, wf_task_t *t,
                  int cancellable, enum wf_wait_kind kind, const void *obj);

/* Pop waiters until a claim with `rc` succeeds, storing `item` in each
 * candidate first; returns the task that got it, claimed but not yet woken,
 * or NULL when the queue ran out.  The caller wakes it (wf_task_wake) after
 * dropping the object lock: other workers then spin on that lock for the
 * hand-off alone, not for the scheduler's queues or a sleeping worker's
 * wake-up system call. */
wf_task_t *wf_waitq_claim_one(wf_waitq_t *q, int rc, void *item);

/* Drop the object lock, then wake the task claimed under it, if any. */
static inline void wf_unlock_wake(wf_spin_t *lock, wf_task_t *claimed) {
    wf_spin_unlock(lock);
    if (claimed) wf_task_wake(claimed);
}

/* Claim up to `max` queued waiters with `rc` without waking them; returns
 * the claimed tasks linked through queue_next (unused until they are woken),
 * for wf_wake_claimed once the object lock is dropped.  For objects whose
 * woken waiters do not take the lock again (events, conditions): a waiter
 * woken under it could return and free the object before the unlock. */
wf_task_t *wf_waitq_claim_list(wf_waitq_t *q, int rc, size_t max);
static inline void wf_wake_claimed(wf_task_t *t) {
    while (t) {
        wf_task_t *next = t->queue_next;
        wf_task_wake(t);
        t = next;
    }
}

/* Claim every queued waiter with `rc`; returns how many claims succeeded. */
size_t wf_waitq_wake_all(wf_waitq_t *q, int rc);

/* The checkpoint of an operation that completes at once, in two halves:
 * wf_sync_cancelled before it (report cancellation, take nothing) and
 * wf_sync_after_fast after it (let other tasks run once every
 * WF_SYNC_BUDGET fast completions on this thread; never reports anything:
 * the operation already succeeded).
 *
 * Why not yield every time, as Trio and AnyIO do: a yield costs about 40-50
 * ns here (bench/yield_many), as much as a whole uncontended operation, and
 * would land in every send of ping_pong and nearly every operation of
 * channel_throughput.  Never yielding would let a loop of operations that
 * never block (a producer into a roomy buffer, a task re-taking a free lock)
 * starve its worker's other tasks.  A budget, as in Tokio (also 128), bounds
 * that starvation for well under 1 ns per operation.  Measured on 2 pinned
 * cores: budget 32 vs none, within noise for lock_contention, ~10% for
 * ping_pong and channel_throughput. */
#define WF_SYNC_BUDGET 128
static inline int wf_sync_cancelled(const wf_task_t *t) {
    return wf_scope_cancelled(t->scope) ? WEFT_ECANCELED : 0;
}
void wf_sync_after_fast(wf_task_t *t);

/* ---------------------------------------------------------------- locks
 * The lock's insides (lock.c), shared with conditions (cond.c), which release
 * and re-acquire it on behalf of a waiting task. */
struct weft_lock_t {
    wf_holders_t holders; /* first (task.h): the owner, for the dump */
    wf_spin_t lock;
    wf_task_t *owner;     /* guarded by lock */
    wf_waitq_t waiters;
};

/* Make `t` (or nobody) the lock's owner; l->lock held. */
static inline void wf_lock_set_owner(weft_lock_t *l, wf_task_t *t) {
    l->owner = t;
    wf_holders_set(&l->holders, t, t != NULL);
}

/* Acquire for `t` (cancellably or not); no cancellation check before. */
int wf_lock_acquire(weft_lock_t *l, wf_task_t *t, int cancellable);
/* Release by `t`: WEFT_EPERM unless t owns it. */
int wf_lock_release(weft_lock_t *l, wf_task_t *t);
/* Fill *out; the caller holds l->lock. */
void wf_lock_stats_locked(const weft_lock_t *l, weft_lock_stats_t *out);

#endif
