/*
 * Parking plain threads (blocking threads, foreign threads waiting for the
 * runtime): a one-shot flag that one side sets and the other waits for,
 * spinning a few microseconds before it sleeps in the kernel.
 *
 * Why spin: a round trip through the runtime takes a few microseconds, less
 * than a futex sleep and wake-up; a waiter that spins that long saves both
 * system calls on the fast path, and the setter makes a system call only
 * when the waiter really sleeps.  The platform part (futex on Linux, a
 * hashed condition variable elsewhere) is in park.c.
 */
#ifndef WEFT_THREAD_PARK_H
#define WEFT_THREAD_PARK_H

#include <stdatomic.h>

#include "sched/spinwait.h"

enum { WF_FLAG_CLEAR, WF_FLAG_SLEEPER, WF_FLAG_SET };

typedef struct wf_flag { atomic_uint state; } wf_flag_t;

static inline void wf_flag_init(wf_flag_t *f) { atomic_init(&f->state, WF_FLAG_CLEAR); }
static inline void wf_flag_reset(wf_flag_t *f) { atomic_store(&f->state, WF_FLAG_CLEAR); }
static inline int wf_flag_is_set(const wf_flag_t *f) {
    return atomic_load_explicit(&((wf_flag_t *)f)->state, memory_order_acquire) == WF_FLAG_SET;
}

/* Set the flag and wake its waiter.  The flag may be freed by the waiter as
 * soon as it sees it set: nothing of it is touched after the wake-up. */
void wf_flag_set(wf_flag_t *f);
/* Spin a few microseconds until ready(arg) (fewer after misses recorded in
 * `s`): 1 if it became true meanwhile. */
int wf_park_spin(wf_spinwait_t *s, int (*ready)(const void *arg), const void *arg);
/* Spin a few microseconds for the flag: 1 if it got set meanwhile. */
int wf_flag_spin(wf_flag_t *f);
/* Wait until the flag is set or the monotonic clock passes `deadline`
 * (seconds, as wf_park_clock; INFINITY: no limit), spinning first unless
 * `spin` is 0.  1 if set, 0 on timeout. */
int wf_flag_wait(wf_flag_t *f, double deadline, int spin);

/* CLOCK_MONOTONIC in seconds: idle timeouts are real time, whatever clock
 * the scheduler's tasks use. */
double wf_park_clock(void);

#endif
