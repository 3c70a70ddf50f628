/*
 * weft_run: build a runtime, run the root task on the calling thread (worker
 * 0) and workers 1..n-1 on their own threads, tear everything down once the
 * last task has ended.  Also the basic checkpoints: yield and sleep.
 */
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "monitor.h"
#include "registry.h"
#include "runtime.h"
#include "threads.h"

#define DEFAULT_STACK_SIZE (256u * 1024u)
#define MAX_WORKERS 4096u
#define KNOWN_FLAGS (WEFT_CONFIG_VIRTUAL_CLOCK | WEFT_CONFIG_SPARE_WORKER)
#define DEFAULT_THREAD_TOKENS 40u
#define DEFAULT_THREAD_IDLE_TIMEOUT 10.0
#define DEBUG_BLOCKING_THRESHOLD 0.1

/* What config_size 0 stands for: the layout of weft 0.2.  (When a later
 * version adds fields, this stays the size of 0.2's struct.) */
#define CONFIG_SIZE_0_2 sizeof(weft_config_t)

int wf_config_copy(weft_config_t *out, const weft_config_t *in) {
    memset(out, 0, sizeof *out);
    if (!in) return 0;
    size_t size = in->config_size ? in->config_size : CONFIG_SIZE_0_2;
    /* Fields we do not know could not be honoured; a size that does not even
     * reach its own field is not a size. */
    if (size > sizeof *out || size < offsetof(weft_config_t, config_size) + sizeof in->config_size)
        return WEFT_EINVAL;
    memcpy(out, in, size);
    out->config_size = sizeof *out;
    return 0;
}

void weft_config_init(weft_config_t *c) {
    if (!c) return;
    memset(c, 0, sizeof *c);
    c->config_size = sizeof *c;
}

/* A config weft cannot honour is refused before anything is built: an absurd
 * worker count would otherwise fail seconds later in a thread start, and an
 * unknown flag is a caller built against a newer header. */
static int check_config(const weft_config_t *c) {
    if (c->workers > MAX_WORKERS || (c->flags & ~KNOWN_FLAGS)) return WEFT_EINVAL;
    if (c->stack_size != 0 && c->stack_size < (size_t)sysconf(_SC_PAGESIZE)) return WEFT_EINVAL;
    if (isnan(c->thread_idle_timeout) || isnan(c->blocking_threshold)) return WEFT_EINVAL;
    return 0;
}

static weft_config_t resolve_config(const weft_config_t *in) {
    weft_config_t c = *in;
    if (c.workers == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        c.workers = n > 0 ? (unsigned)n : 1;
    }
    if (c.stack_size == 0) c.stack_size = DEFAULT_STACK_SIZE;
    if (c.thread_tokens == 0) c.thread_tokens = DEFAULT_THREAD_TOKENS;
    if (c.thread_idle_timeout <= 0) c.thread_idle_timeout = DEFAULT_THREAD_IDLE_TIMEOUT;
    if (c.blocking_threshold == 0)
        c.blocking_threshold =
            wf_debug_env() || (c.flags & WEFT_CONFIG_SPARE_WORKER) ? DEBUG_BLOCKING_THRESHOLD : -1;
    return c;
}

void wf_runtime_finish(wf_runtime_t *rt) {
    atomic_store(&rt->done, 1);
    wf_runtime_wake_all(rt);
    if (rt->has_spare) wf_runtime_want_spare(rt, 0); /* it sees `done` */
}

static void *worker_thread(void *arg) {
    wf_worker_run(arg);
    return NULL;
}

static void runtime_free(wf_runtime_t *rt, unsigned initialised_workers) {
    wf_monitor_stop(rt);
    wf_registry_remove(rt);
    wf_threads_fini(rt); /* waits for the blocking threads */
    for (unsigned i = 0; i < initialised_workers; i++) wf_worker_fini(&rt->workers[i]);
    wf_task_records_free(rt);
    pthread_mutex_destroy(&rt->record_lock);
    if (rt->stacks) wf_stack_pool_free(rt->stacks);
    wf_inject_destroy(&rt->inject);
    pthread_mutex_destroy(&rt->idle_lock);
    pthread_mutex_destroy(&rt->root_lock);
    pthread_mutex_destroy(&rt->vc_lock);
    pthread_mutex_destroy(&rt->spare_lock);
    pthread_cond_destroy(&rt->spare_cond);
    wf_free(rt->idle_list);
    wf_free(rt->workers);
    wf_free(rt);
}

/* `config`: copied by wf_config_copy and checked. */
static int runtime_new(const weft_config_t *config, wf_runtime_t **out) {
    wf_runtime_t *rt = wf_calloc(1, sizeof *rt);
    if (!rt) return WEFT_ENOMEM;
    rt->config = resolve_config(config);
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
    if ((rc = wf_stack_pool_new(&rt->stacks, rt->config.stack_size)) != 0) goto fail;
    if ((rc = wf_threads_init(rt)) != 0) goto fail;
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
    if (rc == 0) rc = check_config(&c);
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
    if (rc == 0) rc = rt->root_rc;
    runtime_free(rt, rt->nworkers);
    return rc;
}

/* ---------------------------------------------------------------- checkpoints */

const char *weft_current_task_name(void) {
    wf_task_t *t = wf_current_task();
    return t ? t->name : NULL;
}

int weft_checkpoint(void) {
    wf_task_t *t = wf_current_task();
    if (!t) return WEFT_EPERM;
    if (wf_scope_cancelled(t->scope)) return WEFT_ECANCELED;
    wf_task_switch_out(t, WF_SWITCH_YIELD);
    return 0;
}

static void sleep_expired(wf_timer_t *timer) {
    wf_wait_claim(WF_CONTAINER_OF(timer, wf_task_t, sleep_timer), 0);
}

int weft_sleep_until(double deadline) {
    wf_task_t *t = wf_current_task();
    if (!t) return WEFT_EPERM;
    if (isnan(deadline)) return WEFT_EINVAL;
    if (deadline <= wf_clock_now()) return weft_checkpoint();
    int rc = wf_wait_arm(t, 1, WF_WAIT_SLEEP, NULL);
    if (rc) return rc;
    if (!isinf(deadline)) {
        wf_worker_t *w = wf_current_worker();
        t->sleep_timer.fire = sleep_expired;
        if (wf_worker_arm_timer(w, &t->sleep_timer, deadline) != 0) {
            if (wf_wait_disarm(t)) return WEFT_ENOMEM;
            return wf_wait_park(t); /* a cancellation won the race */
        }
    }
    rc = wf_wait_park(t);
    wf_timer_remove(&t->sleep_timer);
    return rc;
}

int weft_sleep(double seconds) {
    if (isnan(seconds)) return WEFT_EINVAL;
    return weft_sleep_until(wf_clock_now() + (seconds > 0 ? seconds : 0));
}
