/*
 * A runtime, put together: weft_run builds the scheduler (sched/), the
 * thread bridges (thread/: blocking pool, default limiter, token) and the
 * I/O loops' clean-up (io/), runs the root task on the calling thread
 * (worker 0) and workers 1..n-1 on their own, and takes everything down in
 * the reverse order once the last task has ended.  This file is the only
 * one that knows all three; each module below sees only sched/ and itself.
 * Also the runtime's statistics, which read all three.
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "io/life.h"
#include "sched/clock.h"
#include "sched/config.h"
#include "sched/deadlock.h"
#include "sched/det.h"
#include "sched/monitor.h"
#include "sched/registry.h"
#include "sched/runtime.h"
#include "sched/thread_name.h"
#include "thread/bridges.h"

/* Workers 1..n-1 (worker 0 is weft_run's caller, whose name is the
 * program's to keep). */
static void *worker_thread(void *arg) {
    wf_worker_t *w = arg;
    wf_thread_name_set_numbered("weft-worker", w->index);
    wf_worker_run(w);
    return NULL;
}

static void runtime_free(wf_runtime_t *rt, unsigned initialised_workers) {
    wf_monitor_stop(rt);
    wf_registry_remove(rt);
    wf_bridges_fini(rt); /* waits for the blocking threads */
    for (unsigned i = 0; i < initialised_workers; i++) wf_worker_fini(&rt->workers[i], wf_io_close_leftover);
    wf_task_records_free(rt);
    pthread_mutex_destroy(&rt->record_lock);
    if (rt->stacks) wf_stack_pool_free(rt->stacks);
    wf_inject_destroy(&rt->inject);
    pthread_mutex_destroy(&rt->idle_lock);
    pthread_mutex_destroy(&rt->root_lock);
    pthread_mutex_destroy(&rt->vc_lock);
    pthread_mutex_destroy(&rt->spare_lock);
    pthread_cond_destroy(&rt->spare_cond);
    wf_det_free(rt->det);
    wf_free(rt->idle_list);
    wf_free(rt->workers);
    wf_free(rt);
}

/* `config`: copied by wf_config_copy and checked. */
static int runtime_new(const weft_config_t *config, wf_runtime_t **out) {
    wf_runtime_t *rt = wf_calloc(1, sizeof *rt);
    if (!rt) return WEFT_ENOMEM;
    rt->config = wf_config_resolve(config);
    rt->nworkers = rt->config.workers;
    atomic_init(&rt->gate, WF_GATE_ONE); /* main's unit */
    wf_scope_init(&rt->detached_scope, NULL, NULL);
    wf_inject_init(&rt->inject);
    pthread_mutex_init(&rt->idle_lock, NULL);
    pthread_mutex_init(&rt->record_lock, NULL);
    pthread_mutex_init(&rt->root_lock, NULL);
    pthread_mutex_init(&rt->vc_lock, NULL);
    pthread_mutex_init(&rt->spare_lock, NULL);
    pthread_cond_init(&rt->spare_cond, NULL);
    rt->vclock = (rt->config.flags & WEFT_CONFIG_VIRTUAL_CLOCK) != 0;
    /* The spare is one more worker, asleep until a worker is held. */
    rt->has_spare = (rt->config.flags & WEFT_CONFIG_SPARE_WORKER) && rt->config.blocking_threshold > 0;
    rt->nworkers += (unsigned)rt->has_spare;
    rt->workers = wf_calloc_line(rt->nworkers * sizeof *rt->workers);
    rt->idle_list = wf_calloc(rt->nworkers, sizeof *rt->idle_list);
    unsigned n = 0;
    int rc = WEFT_ENOMEM;
    if (!rt->workers || !rt->idle_list) goto fail;
    if (rt->config.flags & WEFT_CONFIG_DETERMINISTIC) {
        if ((rc = wf_det_new(&rt->det, rt->config.seed)) != 0) goto fail;
        atomic_init(&rt->clock_offset, wf_clock_real()); /* frozen: the time itself */
    }
    if ((rc = wf_stack_pool_new(&rt->stacks, rt->config.stack_size)) != 0) goto fail;
    if ((rc = wf_bridges_init(rt)) != 0) goto fail;
    for (; n < rt->nworkers; n++)
        if ((rc = wf_worker_init(&rt->workers[n], rt, n)) != 0) goto fail;
    rt->workers[rt->nworkers - 1].spare = rt->has_spare;
    wf_registry_add(rt);
    if ((rc = wf_monitor_start(rt)) != 0) goto fail;
    *out = rt;
    return 0;
fail:
    runtime_free(rt, n);
    return rc;
}

/* A write to a socket whose peer went away must fail with EPIPE, not kill
 * the process: as Rust's runtime does, ignore SIGPIPE unless the program
 * installed a handler of its own. */
static void ignore_sigpipe(void) {
    struct sigaction old;
    if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL) signal(SIGPIPE, SIG_IGN);
}

int weft_run(weft_fn_t main_fn, void *arg, const weft_config_t *config) {
    if (!main_fn) return WEFT_EINVAL;
    if (wf_current_worker()) return WEFT_EPERM;
    weft_config_t c;
    int rc = wf_config_copy(&c, config);
    if (rc == 0) rc = wf_config_check(&c);
    if (rc) return rc;
    wf_overflow_install();
    ignore_sigpipe();
    wf_runtime_t *rt;
    rc = runtime_new(&c, &rt);
    if (rc) return rc;

    unsigned started = 1;
    for (; started < rt->nworkers; started++)
        if (pthread_create(&rt->workers[started].thread, NULL, worker_thread, &rt->workers[started]))
            break;
    wf_task_t *root = NULL;
    rc = started < rt->nworkers ? WEFT_ENOMEM : wf_task_new(rt, main_fn, arg, "main", NULL, &root);
    if (rc == 0) {
        pthread_mutex_lock(&rt->root_lock); /* weft_dump_tasks may be looking */
        rt->root = root;
        pthread_mutex_unlock(&rt->root_lock);
        wf_schedule(root);
        wf_worker_run(&rt->workers[0]); /* worker 0 is this thread */
    } else {
        atomic_store(&rt->done, 1);
        wf_runtime_wake_all(rt);
    }
    for (unsigned i = 1; i < started; i++) pthread_join(rt->workers[i].thread, NULL);
    /* A thread that posted the last call may still be waking the workers. */
    while (atomic_load_explicit(&rt->posting, memory_order_acquire)) sched_yield();
    if (rc == 0) rc = rt->deadlocked ? WEFT_EDEADLK : rt->root_rc;
    wf_deadlock_discard(rt);
    if (rt->det && wf_debug_env())
        fprintf(stderr, "weft: deterministic schedule: seed %llu, %llu choices, hash %#llx\n",
                (unsigned long long)rt->det->seed, rt->det->choices,
                (unsigned long long)rt->det->hash);
    runtime_free(rt, rt->nworkers);
    return rc;
}

/* ---------------------------------------------------------------- statistics */

/* A sum over the workers' published counters (relaxed reads: each counter
 * is exact, the set of them is not one instant). */
static unsigned long long load(atomic_ullong *c) {
    return atomic_load_explicit(c, memory_order_relaxed);
}

int weft_runtime_stats(weft_runtime_stats_t *out) {
    if (!out) return WEFT_EINVAL;
    wf_runtime_t *rt = wf_bridges_caller_runtime();
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
    wf_bridges_counts(rt, &out->threads_alive, &busy);
    out->threads_idle = out->threads_alive - busy;
    out->offloads = atomic_load(&rt->offloads);
    out->inject_depth = atomic_load_explicit(&rt->inject.len, memory_order_relaxed);
    return 0;
}

int weft_worker_stats(unsigned index, weft_worker_stats_t *out) {
    if (!out) return WEFT_EINVAL;
    wf_runtime_t *rt = wf_bridges_caller_runtime();
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
