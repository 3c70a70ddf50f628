/*
 * Spinning that stops paying for itself.  A waiter that expects its answer
 * within microseconds spins for it instead of sleeping in the kernel (a
 * futex sleep and wake-up cost more than a round trip through the runtime).
 * That bet holds on an idle machine and loses on a busy one: when another
 * process has a core, the spinner takes CPU from the very thread that would
 * answer it, and a spinner the kernel descheduled spends its budget away.
 *
 * So each kind of spin keeps a count of its recent misses (spins that ended
 * with nothing, or that the kernel interrupted for longer than a round trip
 * takes) and spins the shorter the more it missed: the full budget after a
 * hit, halved per miss down to 1/32 of it.  Every eighth spin after misses
 * tries the full budget again, so that a machine that became idle gets its
 * spinning back within a few calls.  A spin in which the thread was
 * descheduled ends at once and counts as many misses as the floor needs.
 * Go's scheduler spins only while no processor is idle for the same reason;
 * this counts what spinning bought instead of guessing.
 */
#ifndef WEFT_SCHED_SPINWAIT_H
#define WEFT_SCHED_SPINWAIT_H

#include <stdatomic.h>

typedef struct wf_spinwait {
    atomic_uint misses; /* recent misses, at most 5 */
    atomic_uint spins;  /* spins begun, for the probes */
} wf_spinwait_t;

#define WF_SPINWAIT_INIT {0, 0}

/* Spin at most max_seconds (less after misses) until stop(arg) is nonzero:
 * that value, or 0 when the budget ran out or the kernel took the thread
 * away meanwhile. */
int wf_spinwait(wf_spinwait_t *s, double max_seconds, int (*stop)(const void *arg), const void *arg);

#endif
