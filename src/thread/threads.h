/*
 * What the scheduler's runtime asks of the thread module: set up a
 * runtime's blocking pool, default thread limiter and token, and take them
 * down once the workers stopped (waiting for every blocking thread).
 */
#ifndef WEFT_THREAD_THREADS_H
#define WEFT_THREAD_THREADS_H

#include "runtime.h"

int wf_threads_init(wf_runtime_t *rt);
void wf_threads_fini(wf_runtime_t *rt);
/* The runtime of the calling worker or blocking thread; NULL elsewhere. */
wf_runtime_t *wf_threads_caller_runtime(void);
/* Blocking threads alive, and those of them busy with a call. */
void wf_threads_counts(wf_runtime_t *rt, unsigned *alive, unsigned *busy);

#endif
