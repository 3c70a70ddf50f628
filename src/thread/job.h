/*
 * One weft_to_thread_run_sync call, as its blocking thread sees it, shared
 * by to_thread.c (the call) and from_thread.c (calls back into the runtime
 * from that thread).
 *
 * A call that cannot be abandoned lives on the waiting task's stack: the
 * task stays parked until the function returned, and the thread's last
 * touch is the claim that wakes it.  An abandonable call lives on the heap
 * with two references (the task's and the thread's), since either may be
 * the last to look at it; its `lock` orders the two sides:
 *   - the thread, once fn returned, claims the task's wait with fn's result
 *     and clears `host` if the claim won;
 *   - the task, woken by a cancellation instead, finds `host` still set,
 *     clears it and marks the call abandoned, then waits for the tasks that
 *     weft_from_thread_run started under its scope (they were cancelled
 *     with it) before it leaves that scope.
 */
#ifndef WEFT_THREAD_JOB_H
#define WEFT_THREAD_JOB_H

#include "sched/det.h"
#include "sched/local.h"
#include "sched/runtime.h"
#include "sched/thread_name.h"
#include "thread/pool.h"

typedef struct wf_job {
    wf_pool_job_t base;
    weft_fn_t fn;
    void *arg;
    void (*on_abandoned)(void *arg, int rc);
    weft_limiter_t *limiter;
    wf_runtime_t *rt;
    wf_task_t *host;       /* the waiting task; abandonable: lock, NULL once it left */
    wf_locals_t *locals;   /* the task's values for fn (a reference), released when fn returns */
    int abandonable;
    char name[WF_THREAD_NAME_SIZE]; /* opts.thread_name, cut; "" = none */
    wf_det_source_t det;   /* a deterministic runtime's: where the thread waits its turn */
    /* Abandonable calls only, guarded by lock. */
    wf_spin_t lock;
    int refs;
    int abandoned;         /* fn's result will not reach the task: set by the
                              side that learns it first (the task, cancelled;
                              or the thread, whose claim failed), which is
                              how the other knows who counted the token */
    int children;          /* weft_from_thread_run tasks under the task's scope */
    int host_waits;        /* the task is parked until children drops to 0 */
} wf_job_t;

/* The call the calling thread is running, or NULL (not a blocking thread). */
wf_job_t *wf_job_current(void);

/* The scope a weft_from_thread_run task of this call runs under, counted as
 * a child: NULL when the call was abandoned (nothing counted). */
wf_scope_t *wf_job_child_enter(wf_job_t *j);
/* That child task ended. */
void wf_job_child_leave(wf_job_t *j);
/* Is the task waiting for this call effectively cancelled (or gone)? */
int wf_job_cancelled(wf_job_t *j);
/* On a worker: the call's thread waits for a task it started
 * (weft_from_thread_run), or no longer does.  Blocked on the runtime, it
 * keeps neither the virtual clock nor a deterministic schedule waiting. */
void wf_job_calling_in(wf_job_t *j, int waiting);
/* The thread's turn in a deterministic schedule (sched/det.h) before it does
 * something the runtime can see (`last`: deliver fn's result); 1: call
 * wf_job_turn_done when done. */
int wf_job_turn(wf_job_t *j, int last);
void wf_job_turn_done(wf_job_t *j);

#endif
