/*
 * Tasks and the wait/wake protocol every blocking operation is built on.
 *
 * A wait has three steps, always in this order:
 *   1. wf_wait_arm()   — under the lock of the thing waited on (a queue, a
 *      group, nothing for a sleep), mark the task as waiting; fails with
 *      WEFT_ECANCELED when the wait is cancellable and the task already is.
 *   2. register with the source(s) (queue node, timer), then wf_wait_park().
 *   3. after waking, deregister from every source under its lock.
 * Anyone may end the wait with wf_wait_claim(): exactly one claim wins and
 * delivers the result; cancellation claims with WEFT_ECANCELED.  Because a
 * source claims only under its own lock and the task deregisters under that
 * same lock before its wait returns, no source can touch a task or its
 * wait record after the wait is over.
 *
 * `park` closes the race between a claim and the task still being on its
 * stack: the worker marks the task PARKED only after switching away from it,
 * and a claimer that finds it still RUNNING leaves a WOKEN mark instead of
 * scheduling it, so a task is never run by two workers at once.
 */
#ifndef WEFT_SCHED_TASK_H
#define WEFT_SCHED_TASK_H

#include <stdatomic.h>

#include "sched/fiber.h"
#include "sched/scope.h"
#include "sched/timer.h"
#include "sched/util.h"
#include "weft.h"

struct wf_runtime;
struct wf_group;
struct wf_start;
struct wf_call;
struct wf_locals;

enum wf_park_state { WF_RUNNING, WF_PARKED, WF_WOKEN };

/* What a task is blocked on: kept for the task-tree dump and debugging. */
enum wf_wait_kind {
    WF_WAIT_NONE,
    WF_WAIT_SLEEP,
    WF_WAIT_GROUP_CLOSE,
    WF_WAIT_GROUP_START,
    WF_WAIT_THREAD,   /* weft_to_thread_run_sync: wait_obj is the call */
    WF_WAIT_EVENT,
    WF_WAIT_LOCK,     /* wait_obj starts with a wf_holders_t (below) */
    WF_WAIT_SEM,
    WF_WAIT_COND,
    WF_WAIT_SEND,     /* a channel: wait_obj is the channel */
    WF_WAIT_RECV,
    WF_WAIT_LIMITER,  /* a capacity limiter's token; wait_obj starts with a wf_holders_t */
    WF_WAIT_IO,       /* src/io: sockets, DNS, files, signals, processes */
};
/* Who holds what a task waits for, for the dump to name (and to follow
 * round a deadlock's cycle): a lock has one holder, a limiter as many as it
 * lends tokens.  The object keeps it up to date under its own lock; the dump
 * reads it without that lock, under the waiter's wlock, while the armed wait
 * keeps the object alive. */
typedef struct wf_holders {
    _Atomic(const void *) one; /* the holder, while count is 1 (a task, or any borrower) */
    atomic_uint count;
} wf_holders_t;

static inline void wf_holders_set(wf_holders_t *h, const void *one, unsigned count) {
    atomic_store_explicit(&h->one, count == 1 ? one : NULL, memory_order_relaxed);
    atomic_store_explicit(&h->count, count, memory_order_relaxed);
}

/* "sleep", "lock", "I/O", ...: for the task-tree dump. */
const char *wf_wait_kind_name(enum wf_wait_kind kind);

/* Why the task switched back to its worker. */
enum wf_switch_reason { WF_SWITCH_YIELD, WF_SWITCH_PARK, WF_SWITCH_MOVE, WF_SWITCH_EXIT };

typedef struct wf_task {
    wf_fiber_t fiber;
    struct wf_runtime *rt;
    weft_fn_t fn;
    void *arg;
    const char *name;
    enum wf_switch_reason reason;

    /* Cancellation: the task's innermost scope, and its own root scope that
     * links it into the tree under the scope it was spawned into. */
    wf_scope_t *scope;
    wf_scope_t root;
    int root_linked;            /* root is in its parent's list of children */
    int started;                /* weft_started() already called (beside root_linked: no hole) */
    struct wf_group *group;     /* group it belongs to; NULL for the root task */
    struct wf_start *start;     /* launched by weft_group_start, not started yet */
    struct wf_call *call;       /* a detached task: told when it ends (inbox.h) */
    unsigned long long det_id;  /* spawn number in a deterministic runtime (det.h) */
    struct wf_locals *locals;   /* its task-local values (local.h); NULL: none */

    /* Wait state (see the protocol above). */
    atomic_int park;
    wf_spin_t wlock;            /* guards the three fields below */
    int armed, cancellable, wake_rc;
    enum wf_wait_kind wait_kind;
    const void *wait_obj;
    double wait_since;

    wf_timer_t sleep_timer;
    struct wf_task *queue_next;  /* injection queue / wait queue link */
    struct wf_worker *move_to;   /* WF_SWITCH_MOVE: the worker to continue on */
    struct wf_worker *io_home;   /* where its first connection was placed (src/io/place.h) */
    char *io_error;              /* its last TLS failure's text (src/io/tls_error.c), on `cleanup` */
    struct wf_cleanup *_Atomic cleanup; /* freed when the task ends (group failures): pushed by any group's finishers */
    wf_stack_t stack;            /* mapped when the task first runs */
} wf_task_t;

/* The task running on this thread, or NULL (not inside a runtime's task). */
wf_task_t *wf_current_task(void);

/* Create a task of `rt` running fn(arg) under `parent_scope`; not yet
 * scheduled.  Only the record is allocated: the stack comes when the task
 * first runs, so a million spawned-but-not-started tasks cost a million small
 * records, not a million stacks. */
int wf_task_new(struct wf_runtime *rt, weft_fn_t fn, void *arg, const char *name,
                wf_scope_t *parent_scope, wf_task_t **out);
/* Give a task about to run for the first time its stack; WEFT_ENOMEM if none
 * can be mapped, after which the worker ends the task with wf_task_complete. */
int wf_task_prepare(wf_task_t *t);
/* Give a task its stack ahead of time (wf_group_spawn_mapped). */
void wf_task_use_stack(wf_task_t *t, const wf_stack_t *s);
/* The task's function returned rc (or it could not start): leave the scope
 * tree and tell its group or the runtime. */
void wf_task_complete(wf_task_t *t, int rc);
/* Free a finished task's resources; called by the worker after the final switch. */
void wf_task_free(wf_task_t *t);
/* Free a task that will never run again (given up after a deadlock), once
 * the workers stopped: its record, its stack, its deferred memory. */
void wf_task_discard(wf_task_t *t);
/* Return a worker's cached task records to the runtime / free them all. */
struct wf_worker;
void wf_task_records_flush(struct wf_worker *w);
void wf_task_records_free(struct wf_runtime *rt);
/* Link the task's root scope into the tree, by the task itself, before it
 * can be found only through the cancellation walk: before a cancellable wait
 * and before anything is attached below it.  A task that never does either
 * (most short tasks) never touches its group's list. */
void wf_task_link_root(wf_task_t *t);
/* Memory freed when `t` ends; `mem` starts with a struct wf_cleanup. */
struct wf_cleanup { struct wf_cleanup *next; };
void wf_task_defer_free(wf_task_t *t, struct wf_cleanup *mem);

int wf_wait_arm(wf_task_t *t, int cancellable, enum wf_wait_kind kind, const void *obj);
int wf_wait_park(wf_task_t *t);
/* The task ends its own armed wait without parking (registration failed):
 * 1 when it did; 0 when a claim won the race, and the task must then park
 * (returning at once) to consume that claim's wake-up. */
int wf_wait_disarm(wf_task_t *t);
/* 1 if this call ended the wait (and scheduled the task), 0 if it was over. */
int wf_wait_claim(wf_task_t *t, int rc);
/* The same without the wake-up: on 1 the caller must wf_task_wake(t), which
 * it may do after dropping the lock of the thing waited on.  Safe because
 * the claimed task cannot return from its wait (nor be woken by anyone
 * else) before that wake-up. */
int wf_wait_claim_nowake(wf_task_t *t, int rc);
/* Claim the wait with WEFT_ECANCELED if it is cancellable and the task is now
 * effectively cancelled.  Called by the cancellation walk. */
void wf_wait_deliver_cancel(wf_task_t *t);

/* Make a parked task runnable (the claimer's half of the park handshake). */
void wf_task_wake(wf_task_t *t);
/* Switch from the running task back to its worker for `reason`. */
void wf_task_switch_out(wf_task_t *t, enum wf_switch_reason reason);

#endif
