/*
 * The runtime's inbox: how other threads get work done on it.
 *
 * A thread that is not a worker (a blocking thread, a foreign thread holding
 * a token, a portal's caller) first enters the runtime's gate, which fails
 * with WEFT_EBADF once main has returned, and then posts a call.  A worker
 * takes every call posted so far at once, between two tasks, and runs them
 * on its own stack in the order they were posted (oldest first); a call may
 * schedule tasks, set events, cancel scopes or start a detached task, but
 * never waits.
 *
 * The gate counts main plus every call and detached task in flight: the
 * runtime ends when main has returned and that count drops to zero, so
 * nothing posted before the gate closed is ever lost.
 */
#ifndef WEFT_SCHED_INBOX_H
#define WEFT_SCHED_INBOX_H

#include "sched/runtime.h"

typedef struct wf_call {
    struct wf_call *next;
    wf_runtime_t *rt;
    void (*run)(struct wf_call *c);            /* on a worker, between tasks */
    void (*done)(struct wf_call *c, int rc);   /* a detached task of this call ended */
} wf_call_t;

/* 0, or WEFT_EBADF once main has returned. */
int wf_runtime_enter(wf_runtime_t *rt);
/* Undo one enter; the last one after main returned ends the runtime. */
void wf_runtime_leave(wf_runtime_t *rt);
/* Main returned: close the gate, cancel the detached tasks, drop main's unit. */
void wf_runtime_close(wf_runtime_t *rt);

/* Queue c (its `rt` and `run` set) for a worker; the caller has entered. */
void wf_runtime_post(wf_call_t *c);
/* Worker side: run every call posted so far. */
void wf_inbox_drain(wf_worker_t *w);
static inline int wf_inbox_pending(const wf_runtime_t *rt) {
    return atomic_load_explicit(&rt->calls, memory_order_relaxed) != NULL;
}

/* From a call on a worker: start fn(arg) as a task in no group, under
 * `parent` (NULL: the runtime's own scope, cancelled when main returns).
 * c->done(c, rc) runs once the task has left the scope tree. */
int wf_task_spawn_detached(wf_call_t *c, weft_fn_t fn, void *arg, const char *name,
                           wf_scope_t *parent);

#endif
