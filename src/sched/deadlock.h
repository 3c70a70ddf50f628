/*
 * Global deadlocks: every task blocked and nothing that could wake any of
 * them — no timer, no I/O, no blocking call, no token, portal or call from
 * another thread.  Go says "all goroutines are asleep - deadlock!"; weft
 * prints the task tree, cancels everything (so that tasks clean up as they
 * do for any cancellation) and makes weft_run return WEFT_EDEADLK.  Tasks
 * still blocked after that (in shields) are given up for lost.
 *
 * Plain threads are invisible (they could set an event at any moment
 * without the runtime knowing): a runtime on the real clock waits a grace
 * period without any progress before it believes a deadlock; with the
 * virtual clock, which ignores plain threads anyway, it believes it at once.
 *
 * Nothing of this runs on a hot path: only a worker about to park, when
 * every worker is idle, looks.
 */
#ifndef WEFT_SCHED_DEADLOCK_H
#define WEFT_SCHED_DEADLOCK_H

#include "sched/runtime.h"

/* A worker that is idle and about to park: INFINITY when nothing is
 * suspected (park as long as needed), the seconds to park at most while it
 * watches a suspected deadlock, or 0 when it just declared one (look for
 * work again: the cancellation made some). */
double wf_deadlock_watch(wf_worker_t *w);
/* After the workers stopped: free the tasks given up for lost. */
void wf_deadlock_discard(wf_runtime_t *rt);

#endif
