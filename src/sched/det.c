#include "sched/det.h"

#include <stdlib.h>

#include "sched/runtime.h"
#include "sched/task.h"
#include "sched/util.h"

uint64_t wf_det_seed(unsigned long long config_seed) {
    if (config_seed) return config_seed;
    const char *env = getenv("WEFT_SEED");
    unsigned long long v = env ? strtoull(env, NULL, 0) : 0;
    return v ? v : 1;
}

/* splitmix64: every seed, 0 included, gives a full-period stream. */
static uint64_t next_random(wf_det_t *d) {
    uint64_t z = (d->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

int wf_det_new(wf_det_t **out, uint64_t seed) {
    wf_det_t *d = wf_calloc(1, sizeof *d);
    if (!d) return WEFT_ENOMEM;
    d->seed = d->rng = seed;
    d->hash = 0xcbf29ce484222325ull; /* FNV-1a's offset basis */
    *out = d;
    return 0;
}

void wf_det_free(wf_det_t *d) {
    if (!d) return;
    wf_free(d->runnable);
    wf_free(d);
}

int wf_det_add(wf_det_t *d, wf_task_t *t) {
    if (d->n == d->cap) {
        size_t cap = d->cap ? 2 * d->cap : 64;
        wf_task_t **grown = wf_realloc(d->runnable, cap * sizeof *grown);
        if (!grown) return 0;
        d->runnable = grown;
        d->cap = cap;
    }
    d->runnable[d->n++] = t;
    return 1;
}

void wf_det_note(wf_det_t *d, uint64_t event) {
    for (int i = 0; i < 8; i++) { /* FNV-1a over the event's bytes */
        d->hash ^= (event >> (8 * i)) & 0xff;
        d->hash *= 0x100000001b3ull;
    }
}

wf_task_t *wf_det_choose(wf_det_t *d) {
    size_t i = (size_t)(next_random(d) % d->n);
    wf_task_t *t = d->runnable[i];
    d->runnable[i] = d->runnable[--d->n];
    d->choices++;
    wf_det_note(d, t->det_id);
    return t;
}

unsigned long long weft_schedule_hash(void) {
    wf_task_t *t = wf_current_task();
    return t && t->rt->det ? t->rt->det->hash : 0;
}
