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
 * What stays outside the promise: real sockets and other I/O, and calls
 * from threads outside the runtime (tokens, portals), whose timing the
 * runtime does not choose.
 */
#ifndef WEFT_SCHED_DET_H
#define WEFT_SCHED_DET_H

#include <stddef.h>
#include <stdint.h>

struct wf_task;
struct wf_runtime;

typedef struct wf_det {
    struct wf_task **runnable;  /* the candidates of the next choice */
    size_t n, cap;
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
/* Choose and remove the next task (n > 0), mixing the choice into the hash. */
struct wf_task *wf_det_choose(wf_det_t *d);
/* Mix another event into the hash (a clock jump, say). */
void wf_det_note(wf_det_t *d, uint64_t event);

#endif
