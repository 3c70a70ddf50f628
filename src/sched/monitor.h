/*
 * The runtime's monitor thread (started only when wanted): the blocking
 * detector and SIGQUIT dumps.
 *
 * Blocking detector: every worker publishes the task on its CPU and a count
 * of tasks it has switched to (runtime.h); the monitor samples them a few
 * times per threshold, and a worker whose count has not moved while one task
 * stayed on it for the threshold is held by a task that reaches no
 * checkpoint (a blocking call, a long computation).  It prints a warning
 * naming the task once, and a second line when the task lets go.  The hot
 * path pays three relaxed stores per task switch; the rest is the monitor's.
 *
 * SIGQUIT (with WEFT_DEBUG=1): the handler only raises a flag; the first
 * monitor to see it prints weft_dump_tasks(stderr).
 */
#ifndef WEFT_SCHED_MONITOR_H
#define WEFT_SCHED_MONITOR_H

#include "sched/runtime.h"

/* Does the environment ask for debugging (WEFT_DEBUG set, not "0")? */
int wf_debug_env(void);
/* Start rt's monitor if its config or the environment wants one: 0, or
 * WEFT_ENOMEM when it could not start. */
int wf_monitor_start(wf_runtime_t *rt);
/* Stop and join it (nothing if none runs). */
void wf_monitor_stop(wf_runtime_t *rt);

#endif
