/*
 * Task-local values (weft/local.h): the snapshots tasks and calls hold.
 *
 * A snapshot is an immutable array of (key, value) entries with an atomic
 * reference count, as Python's contextvars Context: inheriting one is taking
 * a reference, so a spawn with no values copies a NULL pointer and one with
 * values an atomic increment.  weft_local_set never changes a snapshot
 * someone else holds: it makes a new one with that entry changed (or, when
 * the setter holds the only reference, changes its own in place).  Each
 * value is in a box with its own count, shared by every snapshot that has
 * it, so its destroy runs once, when the last of them goes.
 *
 * Who holds one: every task (its record's `locals`, released when it ends),
 * and a call running outside a task (a to_thread call on its blocking
 * thread, a from_thread call on a worker: thread/ keeps the reference in the
 * call and points this thread's slot at it while the call's function runs).
 * Only the holder's own thread ever takes a new reference to a snapshot it
 * holds, so "the only reference" cannot change under the setter.
 */
#ifndef WEFT_SCHED_LOCAL_H
#define WEFT_SCHED_LOCAL_H

#include <stdatomic.h>

struct wf_local_box;

typedef struct wf_locals {
    atomic_uint refs;
    unsigned n; /* >= 1: no values is a NULL snapshot */
    struct wf_local_entry {
        unsigned long long key;   /* the key's number (local.c) */
        struct wf_local_box *box; /* the value, shared with other snapshots */
    } e[];
} wf_locals_t;

/* The last reference went: destroy the values only it held, free it. */
void wf_locals_free(wf_locals_t *l);

/* Another reference to l (NULL: none, returns NULL).  Inline, as the drop
 * below: every spawn and every task's end of a task with values takes one. */
static inline wf_locals_t *wf_locals_share(wf_locals_t *l) {
    if (l) atomic_fetch_add_explicit(&l->refs, 1, memory_order_relaxed);
    return l;
}

/* Drop a reference (NULL: nothing).  May run user destroy functions.
 * acq_rel rather than release plus an acquire fence on the last drop: the
 * same on x86, and what TSan understands. */
static inline void wf_locals_release(wf_locals_t *l) {
    if (l && atomic_fetch_sub_explicit(&l->refs, 1, memory_order_acq_rel) == 1) wf_locals_free(l);
}

/* Outside a task: run fn(arg) with *slot as the values of the call whose
 * function this thread runs (what fn and the tasks it starts see), then put
 * the previous slot back and drop *slot (NULL after): before the caller
 * hears of the result, so a value fn set is destroyed by then. */
int wf_locals_run(wf_locals_t **slot, int (*fn)(void *arg), void *arg);
/* The snapshot the calling thread's work sees: the running task's, else the
 * entered call's, else NULL. */
wf_locals_t *wf_locals_current(void);
/* The entered call's only (what a task spawned outside a task inherits). */
wf_locals_t *wf_locals_outside(void);

#endif
