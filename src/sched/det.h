/*
 * Deterministic schedules (WEFT_CONFIG_DETERMINISTIC): one worker, the next
 * task chosen among every runnable one by a PRNG seeded by the config, and
 * a clock that moves only when time jumps (the virtual clock, frozen
 * between jumps), so that the same program with the same seed makes the
 * same choices and a failing interleaving can be replayed.
 *
 * The worker's usual queues still collect what becomes runnable; at each
 * choice the worker moves them into one array (in a fixed order) and the
 * PRNG picks from it.  Every choice is mixed into a hash
 * (weft_schedule_hash) that tests compare across runs.  Tasks are named in
 * the hash by their spawn number, not their address.
 *
 * Blocking calls (weft_to_thread_run_sync) are sources of events: their
 * thread stops at a gate before each thing it does to the runtime (fn's
 * result, a weft_from_thread_* call, a cancellation check) until the worker
 * chooses that call as it chooses a task; the worker then waits until the
 * thread has done it.  What a thread does between gates cannot be seen by
 * the runtime, so its timing does not change the schedule.  A call waiting
 * for a task it started with weft_from_thread_run is paused (no event can
 * come from it until that task ends).
 *
 * What stays outside the promise: real sockets and other I/O, calls from
 * threads outside the runtime (tokens, portals), abandoned calls (their
 * token comes back when their thread finishes), and threads that wait for
 * each other behind the runtime's back (the worker waits a second for the
 * call it chose, then takes one that is ready, and says so once).
 */
#ifndef WEFT_SCHED_DET_H
#define WEFT_SCHED_DET_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct wf_task;
struct wf_runtime;

/* A blocking call as the schedule sees it; guarded by wf_det.lock. */
typedef struct wf_det_source {
    struct wf_det_source *next, *prev; /* in the order the calls began */
    unsigned long long id;
    int state;  /* DET_SOURCE_* in det.c */
    int last;   /* the gate it waits at is its result: it leaves on grant */
    int paused; /* waiting for a task it started: not a candidate */
} wf_det_source_t;

typedef struct wf_det {
    struct wf_task **runnable;  /* the candidates of the next choice */
    size_t n, cap;
    /* The blocking calls, shared with their threads. */
    pthread_mutex_t lock;
    pthread_cond_t changed;
    wf_det_source_t *first, *last;
    size_t n_sources;           /* not paused */
    int passed;                 /* the granted thread has done its thing */
    int warned;
    uint64_t rng;
    uint64_t hash;
    uint64_t seed;
    unsigned long long choices;
    unsigned long long next_id; /* spawn numbers */
} wf_det_t;

/* The seed a config asks for: its own, else WEFT_SEED from the
 * environment, else 1. */
uint64_t wf_det_seed(unsigned long long config_seed);
int wf_det_new(wf_det_t **out, uint64_t seed);
void wf_det_free(wf_det_t *d);
/* Add a candidate; 0 when there is no room (it stays where it was). */
int wf_det_add(wf_det_t *d, struct wf_task *t);
/* Choose the next task, removed from the candidates, or the blocking call
 * whose next event comes first (*source); NULL with no candidate at all.
 * The choice is mixed into the hash. */
struct wf_task *wf_det_choose(wf_det_t *d, wf_det_source_t **source);

/* The worker's side of a blocking call: it began, it ended without a
 * result to deliver (abandoned, or never ran), it waits for a task it
 * started (paused) or no longer does. */
void wf_det_source_add(wf_det_t *d, wf_det_source_t *s);
void wf_det_source_remove(wf_det_t *d, wf_det_source_t *s);
void wf_det_source_pause(wf_det_t *d, wf_det_source_t *s, int paused);
/* Let the chosen call's thread do its next thing and wait until it has;
 * `poll(arg)` runs while it waits (calls from outside, I/O). */
void wf_det_grant(wf_det_t *d, wf_det_source_t *s, void (*poll)(void *), void *arg);

/* The thread's side: wait at the gate until chosen (`last`: with fn's
 * result).  1: chosen, call wf_det_passed once done; 0: not a source (any
 * more), go on. */
int wf_det_gate(wf_det_t *d, wf_det_source_t *s, int last);
void wf_det_passed(wf_det_t *d);
/* Mix another event into the hash (a clock jump, say). */
void wf_det_note(wf_det_t *d, uint64_t event);

#endif
