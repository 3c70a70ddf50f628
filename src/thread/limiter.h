/*
 * Capacity limiters, and the two calls weft_to_thread_run_sync uses on them:
 * a token borrowed for a call rather than for a named borrower (the call is
 * its own borrower: no task or pointer could hold it twice), and references
 * that keep a limiter alive until an abandoned call's function returns.
 */
#ifndef WEFT_THREAD_LIMITER_H
#define WEFT_THREAD_LIMITER_H

#include "sched/task.h"

/* [checkpoint] Wait for a token for the running task `t`'s call (FIFO with
 * every other borrower; cancellable). */
int wf_limiter_take(weft_limiter_t *l, wf_task_t *t);
/* Give back a token taken with wf_limiter_take; any thread. */
void wf_limiter_give(weft_limiter_t *l);
/* The token of a call whose task stopped waiting for it (abandon_on_cancel)
 * is the call's alone until its function returns: count it as such, so that
 * freeing the limiter meanwhile is not taken for misuse... */
void wf_limiter_abandon(weft_limiter_t *l);
/* ...and give it back, `abandoned` if wf_limiter_abandon counted it. */
void wf_limiter_give_back(weft_limiter_t *l, int abandoned);
/* The runtime frees this one itself (wf_limiter_unref), whoever still
 * borrows from it; weft_limiter_free of it is misuse. */
void wf_limiter_set_runtime_owned(weft_limiter_t *l);

void wf_limiter_ref(weft_limiter_t *l);
void wf_limiter_unref(weft_limiter_t *l);

#endif
