/* weft_runtime_stats: a sum over the workers' published counters (relaxed
 * reads: each counter is exact, the set of them is not one instant). */
#include <string.h>

#include "runtime.h"
#include "threads.h"

static unsigned long long load(atomic_ullong *c) {
    return atomic_load_explicit(c, memory_order_relaxed);
}

int weft_runtime_stats(weft_runtime_stats_t *out) {
    if (!out) return WEFT_EINVAL;
    wf_runtime_t *rt = wf_threads_caller_runtime();
    if (!rt) return WEFT_EPERM;
    memset(out, 0, sizeof *out);
    out->workers = rt->nworkers;
    out->spare_awake = (unsigned)atomic_load(&rt->spare_awake);
    unsigned long long exited = 0;
    for (unsigned i = 0; i < rt->nworkers; i++) {
        wf_worker_t *w = &rt->workers[i];
        out->tasks_spawned += load(&w->spawned);
        exited += load(&w->exited);
        out->steals += load(&w->steals);
        out->task_parks += load(&w->task_parks);
        out->worker_parks += load(&w->parks);
    }
    out->tasks_spawned += load(&rt->spawned_outside);
    out->tasks_alive = out->tasks_spawned > exited ? out->tasks_spawned - exited : 0;
    out->blocked_warnings = load(&rt->blocked_warnings);
    out->clock_jumps = load(&rt->clock_jumps);
    unsigned busy;
    wf_threads_counts(rt, &out->threads_alive, &busy);
    out->threads_idle = out->threads_alive - busy;
    out->offloads = atomic_load(&rt->offloads);
    out->inject_depth = atomic_load_explicit(&rt->inject.len, memory_order_relaxed);
    return 0;
}

int weft_worker_stats(unsigned index, weft_worker_stats_t *out) {
    if (!out) return WEFT_EINVAL;
    wf_runtime_t *rt = wf_threads_caller_runtime();
    if (!rt) return WEFT_EPERM;
    if (index >= rt->nworkers) return WEFT_EINVAL;
    wf_worker_t *w = &rt->workers[index];
    memset(out, 0, sizeof *out);
    out->tasks_run = atomic_load_explicit(&w->runs, memory_order_relaxed);
    out->tasks_spawned = load(&w->spawned);
    out->tasks_exited = load(&w->exited);
    out->steals = load(&w->steals);
    out->task_parks = load(&w->task_parks);
    out->worker_parks = load(&w->parks);
    out->queue_depth = wf_lq_len(&w->queue);
    out->spare = w->spare;
    return 0;
}
