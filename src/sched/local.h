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

typedef struct wf_locals wf_locals_t;

/* Another reference to l (NULL: none, returns NULL). */
wf_locals_t *wf_locals_share(wf_locals_t *l);
/* Drop a reference (NULL: nothing); the last one destroys the values only
 * it held.  May run user destroy functions. */
void wf_locals_release(wf_locals_t *l);

/* Outside a task: the slot of the call whose function this thread runs, or
 * NULL.  enter returns the previous slot, for leave to put back. */
wf_locals_t **wf_locals_enter(wf_locals_t **slot);
void wf_locals_leave(wf_locals_t **prev);
/* The snapshot the calling thread's work sees: the running task's, else the
 * entered call's, else NULL. */
wf_locals_t *wf_locals_current(void);
/* The entered call's only (what a task spawned outside a task inherits). */
wf_locals_t *wf_locals_outside(void);

#endif
