/*
 * Timers: a binary min-heap of deadlines per worker.
 *
 * A timer is added to the heap of the worker that arms it and may be removed
 * from any thread.  The worker fires expired timers with the heap's lock held,
 * and a remover takes the same lock, so once wf_timer_remove() returns the
 * timer's callback has either finished or will never run: the object holding
 * the timer (a sleeping task, a cancel scope) may then go away.
 */
#ifndef WEFT_SCHED_TIMER_H
#define WEFT_SCHED_TIMER_H

#include <pthread.h>
#include <stddef.h>

#include "sched/util.h"

typedef struct wf_timer wf_timer_t;
typedef struct wf_timer_heap wf_timer_heap_t;
/* Runs on the heap owner's thread with the heap lock held: it must not touch
 * timers of the same heap. */
typedef void (*wf_timer_fire_fn)(wf_timer_t *t);

struct wf_timer {
    double deadline;
    size_t index;                    /* position in the heap while queued */
    wf_timer_heap_t *_Atomic heap;   /* non-NULL from add until fired/removed */
    wf_timer_fire_fn fire;
    wf_spin_t busy;                  /* serialises add/remove by different threads */
};

struct wf_timer_heap {
    pthread_mutex_t lock;
    wf_timer_t **items;
    size_t len, cap;
};

void wf_timer_init(wf_timer_t *t, wf_timer_fire_fn fire);
/* (Re)arm `t` on `heap` for `deadline`, first removing it from wherever it is.
 * 0 or WEFT_ENOMEM. */
int wf_timer_add(wf_timer_heap_t *heap, wf_timer_t *t, double deadline);
/* Disarm; waits for a callback in progress.  Safe on a timer never added. */
void wf_timer_remove(wf_timer_t *t);

int wf_timer_heap_init(wf_timer_heap_t *h);
void wf_timer_heap_destroy(wf_timer_heap_t *h);
/* Earliest deadline, INFINITY when empty. */
double wf_timer_heap_next(wf_timer_heap_t *h);
/* Fire every timer due at `now`; returns how many fired. */
unsigned wf_timer_heap_fire(wf_timer_heap_t *h, double now);

#endif
