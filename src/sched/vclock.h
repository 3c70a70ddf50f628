/*
 * The virtual clock (WEFT_CONFIG_VIRTUAL_CLOCK), Trio's MockClock with
 * autojump: time runs at the real rate plus an offset, and when nothing but
 * a timer can make anything happen, the offset jumps so that the earliest
 * deadline is now.  A test of a 30-second timeout then takes microseconds.
 *
 * "Nothing can happen" is counted, not guessed:
 *   - vc_active: tasks runnable or running, +1 in wf_schedule, -1 when a
 *     task has parked or ended (worker.c);
 *   - offloads: tasks waiting for a blocking thread (a real thread may finish
 *     any moment), less offloads_calling_in, the threads waiting for a task
 *     they started with weft_from_thread_run (blocked on the runtime);
 *   - io_waits: tasks waiting on I/O, signals or processes (task.c);
 *   - calls posted by other threads and not yet run;
 *   - held_tokens: tokens (weft_current_token) not yet released: a thread
 *     that holds one may call in, set an event or send on a channel at any
 *     moment.  A plain thread that does so without one is invisible.
 * Timers fire and time jumps under vc_lock, so no jump can pass a timer that
 * was firing, whose task is not counted runnable yet.  Only runtimes with
 * the flag pay for any of it.
 */
#ifndef WEFT_SCHED_VCLOCK_H
#define WEFT_SCHED_VCLOCK_H

#include "sched/runtime.h"

static inline void wf_vclock_count(wf_runtime_t *rt, long delta) {
    if (WF_UNLIKELY(rt->vclock)) atomic_fetch_add_explicit(&rt->vc_active, delta, memory_order_acq_rel);
}

/* With vc_lock held, by a worker bound to the runtime's clock: if nothing
 * can happen before the next deadline, jump to it; 1 if time jumped. */
int wf_vclock_try_jump(wf_runtime_t *rt);

/* The runtime's clock, from any thread. */
double wf_runtime_now(const wf_runtime_t *rt);

#endif
