/*
 * A runtime's thread bridges, as src/runtime.c wires them in: its blocking
 * pool, default thread limiter and token, set up with the runtime and taken
 * down once the workers stopped (waiting for every blocking thread).
 */
#ifndef WEFT_THREAD_BRIDGES_H
#define WEFT_THREAD_BRIDGES_H

#include "sched/runtime.h"

int wf_bridges_init(wf_runtime_t *rt);
void wf_bridges_fini(wf_runtime_t *rt);
/* The runtime of the calling worker or blocking thread; NULL elsewhere. */
wf_runtime_t *wf_bridges_caller_runtime(void);
/* Blocking threads alive, and those of them busy with a call. */
void wf_bridges_counts(wf_runtime_t *rt, unsigned *alive, unsigned *busy);

#endif
