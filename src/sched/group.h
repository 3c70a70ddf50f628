/*
 * Task groups (Trio's nurseries).  A group is a cancel scope plus a count of
 * live tasks and a record of failures; the host waits in close until the
 * count drops to zero, and the last task to finish wakes it.
 */
#ifndef WEFT_SCHED_GROUP_H
#define WEFT_SCHED_GROUP_H

#include "sched/task.h"

typedef struct wf_failure {
    int err;
    const char *name; /* the task's name: a literal, or the caller's (see weft.h) */
} wf_failure_t;

/* Failures past the inline ones; freed when the host task ends. */
typedef struct wf_failure_chunk {
    struct wf_cleanup cleanup;
    struct wf_failure_chunk *next;
    wf_failure_t items[16];
} wf_failure_chunk_t;

/* A group's `live` word: the number of unfinished tasks times WF_GROUP_ONE,
 * plus two flags, so that spawning and finishing are one atomic operation on
 * it and take no lock.  CLOSED: close has returned, spawns fail.  WAITING: the
 * host is parked in close; the finisher that brings the count to zero clears
 * it and wakes the host, and touches nothing of the group after its own
 * decrement otherwise (the group lives on the host's stack). */
#define WF_GROUP_WAITING 1ul
#define WF_GROUP_CLOSED 2ul
#define WF_GROUP_ONE 4ul

typedef struct wf_group {
    wf_scope_t scope;
    unsigned magic;
    atomic_ulong live;
    wf_task_t *host;
    wf_spin_t lock;          /* guards the failures */
    size_t nfail;
    wf_failure_t failures[2];
    wf_failure_chunk_t *more;
} wf_group_t;

/* weft_group_start's rendezvous, on the starter's stack. */
typedef struct wf_start {
    wf_spin_t lock;
    wf_task_t *waiter;
    int waiting, done, rc;
    void *value;
} wf_start_t;

/* Called on a group task's own stack when its function returned rc. */
void wf_group_task_finished(wf_task_t *t, int rc);

/* weft_group_spawn_named with the task's stack mapped now: no stack is
 * WEFT_ENOMEM here, not a task that fails without ever running.  For the
 * library's own tasks whose arg only the task itself can release (a
 * connection's descriptor, a portal's future). */
int wf_group_spawn_mapped(weft_group_t *g, weft_fn_t fn, void *arg, const char *name,
                          struct wf_worker *on);

#endif
