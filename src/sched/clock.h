/*
 * The one clock of the runtime.  Everything that reads time goes through
 * wf_clock_now(), so that a runtime with a virtual clock (vclock.h) can run
 * ahead of the real one: its worker threads bind the runtime's offset, and
 * their every reading (deadlines, timers, weft_now) includes it.  Any other
 * thread reads the real monotonic clock.
 */
#ifndef WEFT_SCHED_CLOCK_H
#define WEFT_SCHED_CLOCK_H

#include <pthread.h>
#include <time.h>

double wf_clock_now(void);
/* CLOCK_MONOTONIC, whatever the thread. */
double wf_clock_real(void);
/* Add *offset to this thread's readings from now on; NULL: real time again.
 * `frozen` (a deterministic runtime): the readings are *offset alone, and
 * time moves only when the offset does. */
void wf_clock_bind(_Atomic double *offset, int frozen);

/* A condition variable whose timed waits count in wf_clock_real's clock, and
 * the deadline `seconds` from now for such a wait. */
void wf_cond_init_monotonic(pthread_cond_t *c);
struct timespec wf_clock_deadline(double seconds);

#endif
