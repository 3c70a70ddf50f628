/*
 * Task groups (Trio's nurseries).  A group is a cancel scope plus a count of
 * live tasks and a record of failures; the host waits in close until the
 * count drops to zero.  The last task to finish claims the host's wait under
 * the group lock, and the host retakes that lock before returning, so no task
 * touches the group (on the host's stack) after close has returned.
 */
#ifndef WEFT_SCHED_GROUP_H
#define WEFT_SCHED_GROUP_H

#include "task.h"

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

enum wf_group_state { WF_GROUP_OPEN = 1, WF_GROUP_CLOSED };

typedef struct wf_group {
    wf_scope_t scope;
    unsigned magic;
    enum wf_group_state state;
    wf_spin_t lock;          /* guards live, host_waiting, failures */
    size_t live;
    wf_task_t *host;
    int host_waiting;
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

#endif
