/*
 * Capacity limiters (AnyIO's CapacityLimiter).  A count of borrowed tokens,
 * the set of named borrowers (to refuse a second token and a release of a
 * token not held) and a FIFO of waiters.  A token released, or added by
 * raising the total, goes straight to the first waiter whose claim succeeds,
 * so a newcomer never overtakes a waiter and a waiter cancelled at that
 * moment takes nothing.
 *
 * The borrower set is an open-addressing hash set that a waiter grows before
 * it queues, so that handing it a token later never allocates.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "thread/limiter.h"
#include "sched/runtime.h"
#include "sched/waitq.h"

#define TOMBSTONE ((const void *)(uintptr_t)1)

struct weft_limiter_t {
    wf_holders_t holders;         /* first (sched/task.h): its borrowers, for the dump */
    wf_spin_t lock;
    unsigned total, borrowed;     /* guarded by lock, as is everything below */
    unsigned abandoned;           /* of `borrowed`: held by calls whose task left */
    int runtime_owned;            /* a runtime's default limiter: it frees it */
    wf_waitq_t waiters;           /* node->handle: the borrower, NULL for a call */
    const void **set;             /* borrowers; NULL: empty slot */
    size_t cap, used;             /* used counts tombstones too */
    atomic_int refs;
};

/* ---------------------------------------------------------------- borrower set */

static size_t slot_of(const void *p, size_t cap) {
    uint64_t h = (uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 32) & (cap - 1);
}

static size_t find(const weft_limiter_t *l, const void *b) {
    if (!l->cap) return SIZE_MAX;
    for (size_t i = slot_of(b, l->cap);; i = (i + 1) & (l->cap - 1)) {
        if (l->set[i] == b) return i;
        if (!l->set[i]) return SIZE_MAX;
    }
}

static void insert(weft_limiter_t *l, const void *b) {
    size_t i = slot_of(b, l->cap);
    while (l->set[i] && l->set[i] != TOMBSTONE) i = (i + 1) & (l->cap - 1);
    if (!l->set[i]) l->used++;
    l->set[i] = b;
}

/* Room for `more` borrowers beyond the current ones at load <= 1/2. */
static int reserve(weft_limiter_t *l, size_t more) {
    size_t live = l->borrowed + l->waiters.len + more;
    if (l->cap && 2 * (l->used + l->waiters.len + more) <= l->cap) return 0;
    size_t cap = 16;
    while (cap < 4 * live) cap *= 2;
    const void **set = wf_calloc(cap, sizeof *set), **old = l->set;
    if (!set) return WEFT_ENOMEM;
    size_t old_cap = l->cap;
    l->set = set;
    l->cap = cap;
    l->used = 0;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i] && old[i] != TOMBSTONE) insert(l, old[i]);
    wf_free(old);
    return 0;
}

/* ---------------------------------------------------------------- tokens */

/* The one borrower in the set, or NULL (the only token is a call's). */
static const void *sole_borrower(const weft_limiter_t *l) {
    for (size_t i = 0; i < l->cap; i++)
        if (l->set[i] && l->set[i] != TOMBSTONE) return l->set[i];
    return NULL;
}

/* After every change of `borrowed` (lock held): who holds it, while one
 * token is lent (`added`: the borrower that just took one, if any). */
static void publish_holders(weft_limiter_t *l, const void *added) {
    const void *one = NULL;
    if (l->borrowed == 1) one = added ? added : sole_borrower(l);
    wf_holders_set(&l->holders, one, l->borrowed);
}

/* Lend free tokens to waiters, oldest first; lock held. */
static void lend_to_waiters(weft_limiter_t *l) {
    wf_waiter_t *w;
    const void *added = NULL;
    while (l->borrowed < l->total && (w = wf_waitq_pop(&l->waiters))) {
        const void *b = w->handle;
        if (!wf_wait_claim(w->task, 0)) continue; /* cancelled just now */
        l->borrowed++;
        if (b) insert(l, b);
        added = b;
    }
    publish_holders(l, added);
}

static int free_token(const weft_limiter_t *l) {
    return l->borrowed < l->total && wf_waitq_empty(&l->waiters);
}

/* Borrow for `b` (NULL: a call), waiting as task `t`; lock held, released. */
static int acquire_locked(weft_limiter_t *l, const void *b, wf_task_t *t) {
    if (b && find(l, b) != SIZE_MAX) {
        wf_spin_unlock(&l->lock);
        return WEFT_EPERM;
    }
    int rc = wf_sync_cancelled(t);
    if (rc == 0 && free_token(l)) {
        if (b && (rc = reserve(l, 1)) == 0) insert(l, b);
        if (rc == 0) l->borrowed++;
        publish_holders(l, b);
        wf_spin_unlock(&l->lock);
        if (rc == 0) wf_sync_after_fast(t);
        return rc;
    }
    if (rc == 0 && b) rc = reserve(l, 1);
    if (rc) {
        wf_spin_unlock(&l->lock);
        return rc;
    }
    wf_waiter_t w = {.handle = b};
    return wf_waitq_wait(&l->waiters, &l->lock, &w, t, 1, WF_WAIT_LIMITER, l); /* unlocks */
}

int wf_limiter_take(weft_limiter_t *l, wf_task_t *t) {
    wf_spin_lock(&l->lock);
    return acquire_locked(l, NULL, t);
}

void wf_limiter_give(weft_limiter_t *l) { wf_limiter_give_back(l, 0); }

void wf_limiter_give_back(weft_limiter_t *l, int abandoned) {
    wf_spin_lock(&l->lock);
    l->borrowed--;
    l->abandoned -= abandoned != 0;
    lend_to_waiters(l);
    wf_spin_unlock(&l->lock);
}

void wf_limiter_abandon(weft_limiter_t *l) {
    wf_spin_lock(&l->lock);
    l->abandoned++;
    wf_spin_unlock(&l->lock);
}

void wf_limiter_set_runtime_owned(weft_limiter_t *l) { l->runtime_owned = 1; }

void wf_limiter_ref(weft_limiter_t *l) { atomic_fetch_add_explicit(&l->refs, 1, memory_order_relaxed); }

void wf_limiter_unref(weft_limiter_t *l) {
    if (atomic_fetch_sub_explicit(&l->refs, 1, memory_order_acq_rel) != 1) return;
    wf_free(l->set);
    wf_free(l);
}

/* ---------------------------------------------------------------- public API */

/* The borrower of the plain forms: the running task, or outside a task the
 * calling thread (the address of a thread-local). */
static __thread char thread_borrower;
static const void *default_borrower(void) {
    wf_task_t *t = wf_current_task();
    return t ? (const void *)t : (const void *)&thread_borrower;
}

int weft_limiter_new(weft_limiter_t **out, unsigned total_tokens) {
    if (!out || total_tokens == 0) return WEFT_EINVAL;
    weft_limiter_t *l = wf_calloc(1, sizeof *l);
    if (!l) return WEFT_ENOMEM;
    wf_spin_init(&l->lock);
    l->total = total_tokens;
    wf_waitq_init(&l->waiters);
    atomic_init(&l->refs, 1);
    *out = l;
    return 0;
}

/* Freeing a limiter that still lends tokens would leave its borrowers
 * releasing into freed memory and its waiters asleep for ever: a programming
 * error, reported where it happens.  Tokens of abandoned calls do not count:
 * those calls keep the limiter alive until their functions return. */
_Noreturn static void free_misuse(const weft_limiter_t *l, const char *why) {
    const char *task = weft_current_task_name();
    fprintf(stderr, "weft: task '%s' freed capacity limiter %p %s\n", task ? task : "(no task)",
            (const void *)l, why);
    abort();
}

void weft_limiter_free(weft_limiter_t *l) {
    if (!l) return;
    if (l->runtime_owned) free_misuse(l, "that belongs to its runtime (weft_default_thread_limiter)");
    wf_spin_lock(&l->lock);
    unsigned lent = l->borrowed - l->abandoned;
    size_t waiting = l->waiters.len;
    wf_spin_unlock(&l->lock);
    if (lent || waiting) {
        char why[160];
        snprintf(why, sizeof why, "while it still lends %u token(s) and %zu task(s) wait for one",
                 lent, waiting);
        free_misuse(l, why);
    }
    wf_limiter_unref(l);
}

int weft_limiter_acquire_on_behalf_of(weft_limiter_t *l, const void *borrower) {
    wf_task_t *t = wf_current_task();
    if (!t) return WEFT_EPERM;
    if (!l || !borrower) return WEFT_EINVAL;
    wf_spin_lock(&l->lock);
    return acquire_locked(l, borrower, t);
}

int weft_limiter_acquire(weft_limiter_t *l) {
    wf_task_t *t = wf_current_task();
    if (!t) return WEFT_EPERM;
    return weft_limiter_acquire_on_behalf_of(l, t);
}

int weft_limiter_try_acquire_on_behalf_of(weft_limiter_t *l, const void *borrower) {
    if (!l || !borrower) return WEFT_EINVAL;
    wf_spin_lock(&l->lock);
    int rc = WEFT_EAGAIN;
    if (find(l, borrower) != SIZE_MAX) rc = WEFT_EPERM;
    else if (free_token(l) && (rc = reserve(l, 1)) == 0) {
        insert(l, borrower);
        l->borrowed++;
        publish_holders(l, borrower);
    }
    wf_spin_unlock(&l->lock);
    return rc;
}

int weft_limiter_try_acquire(weft_limiter_t *l) {
    return weft_limiter_try_acquire_on_behalf_of(l, default_borrower());
}

int weft_limiter_release_on_behalf_of(weft_limiter_t *l, const void *borrower) {
    if (!l || !borrower) return WEFT_EINVAL;
    wf_spin_lock(&l->lock);
    size_t i = find(l, borrower);
    if (i == SIZE_MAX) {
        wf_spin_unlock(&l->lock);
        return WEFT_EPERM;
    }
    l->set[i] = TOMBSTONE;
    l->borrowed--;
    lend_to_waiters(l);
    wf_spin_unlock(&l->lock);
    return 0;
}

int weft_limiter_release(weft_limiter_t *l) {
    return weft_limiter_release_on_behalf_of(l, default_borrower());
}

int weft_limiter_set_total_tokens(weft_limiter_t *l, unsigned total_tokens) {
    if (!l || total_tokens == 0) return WEFT_EINVAL;
    wf_spin_lock(&l->lock);
    l->total = total_tokens;
    lend_to_waiters(l);
    wf_spin_unlock(&l->lock);
    return 0;
}

void weft_limiter_stats(const weft_limiter_t *cl, weft_limiter_stats_t *out) {
    if (!out) return;
    memset(out, 0, sizeof *out);
    if (!cl) return;
    weft_limiter_t *l = (weft_limiter_t *)cl;
    wf_spin_lock(&l->lock);
    out->total_tokens = l->total;
    out->borrowed_tokens = l->borrowed;
    out->tasks_waiting = (unsigned)l->waiters.len;
    wf_spin_unlock(&l->lock);
}
