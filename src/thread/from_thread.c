/*
 * Calls from other threads into a runtime: run a function on a worker
 * between tasks (run_sync) or as a task (run), and wait for its result.
 * The caller's stack holds the call until its flag is set, which is the
 * worker's last touch of it.
 */
#include "sched/inbox.h"
#include "thread/job.h"
#include "thread/park.h"
#include "thread/token.h"

typedef struct from_call {
    wf_call_t base;
    weft_fn_t fn;
    void *arg;
    wf_scope_t *parent;   /* run: the scope the task runs under (NULL: the runtime's) */
    wf_job_t *job;        /* run from a blocking thread: the call it belongs to */
    int rc;
    wf_flag_t done;
} from_call_t;

static void finish(from_call_t *c, int rc) {
    wf_runtime_t *rt = c->base.rt;
    c->rc = rc;
    wf_flag_set(&c->done);
    wf_runtime_leave(rt);
}

static void run_sync_now(wf_call_t *base) {
    from_call_t *c = WF_CONTAINER_OF(base, from_call_t, base);
    finish(c, c->fn(c->arg));
}

static void task_ended(wf_call_t *base, int rc) {
    from_call_t *c = WF_CONTAINER_OF(base, from_call_t, base);
    if (c->job) wf_job_child_leave(c->job);
    finish(c, rc);
}

static void start_task(wf_call_t *base) {
    from_call_t *c = WF_CONTAINER_OF(base, from_call_t, base);
    int rc = wf_task_spawn_detached(base, c->fn, c->arg, "from_thread", c->parent);
    if (rc) task_ended(base, rc);
}

/* Post an entered call and wait for it. */
static int call(from_call_t *c, wf_runtime_t *rt, int as_task) {
    c->base.rt = rt;
    c->base.run = as_task ? start_task : run_sync_now;
    c->base.done = task_ended;
    wf_flag_init(&c->done);
    wf_runtime_post(&c->base);
    wf_flag_wait(&c->done, INFINITY, 1);
    return c->rc;
}

/* The plain forms: from a blocking thread, into its runtime. */
static int call_plain(weft_fn_t fn, void *arg, int as_task) {
    wf_job_t *j = wf_job_current();
    if (!j || wf_current_worker()) return WEFT_EPERM;
    if (!fn) return WEFT_EINVAL;
    int rc = wf_runtime_enter(j->rt);
    if (rc) return rc;
    from_call_t c = {.fn = fn, .arg = arg};
    if (as_task) {
        c.job = j;
        c.parent = wf_job_child_enter(j);
        if (!c.parent) { /* abandoned: its scope is gone */
            wf_runtime_leave(j->rt);
            return WEFT_ECANCELED;
        }
    }
    return call(&c, j->rt, as_task);
}

static int call_token(weft_token_t *t, weft_fn_t fn, void *arg, int as_task) {
    wf_runtime_t *rt;
    if (wf_current_worker()) return WEFT_EPERM;
    if (!fn) return WEFT_EINVAL;
    int rc = wf_token_enter(t, &rt);
    if (rc) return rc;
    from_call_t c = {.fn = fn, .arg = arg};
    return call(&c, rt, as_task);
}

int weft_from_thread_run(weft_fn_t fn, void *arg) { return call_plain(fn, arg, 1); }
int weft_from_thread_run_sync(weft_fn_t fn, void *arg) { return call_plain(fn, arg, 0); }

int weft_from_thread_run_token(weft_token_t *t, weft_fn_t fn, void *arg) {
    return call_token(t, fn, arg, 1);
}

int weft_from_thread_run_sync_token(weft_token_t *t, weft_fn_t fn, void *arg) {
    return call_token(t, fn, arg, 0);
}

int weft_from_thread_check_cancelled(void) {
    wf_job_t *j = wf_job_current();
    if (!j) return WEFT_EPERM;
    return wf_job_cancelled(j) ? WEFT_ECANCELED : 0;
}
