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
    wf_locals_t *locals;  /* the calling thread's values (a reference; token calls: none) */
    int rc;
    wf_flag_t done;
} from_call_t;

static void finish(from_call_t *c, int rc) {
    wf_runtime_t *rt = c->base.rt;
    c->rc = rc;
    wf_flag_set(&c->done);
    wf_runtime_leave(rt);
}

static int call_fn(void *arg) {
    from_call_t *c = arg;
    return c->fn(c->arg);
}

static void run_sync_now(wf_call_t *base) {
    from_call_t *c = WF_CONTAINER_OF(base, from_call_t, base);
    /* The caller's values are current while fn runs, and dropped before
     * finish, the call's last touch (a task started here inherits them). */
    finish(c, wf_locals_run(&c->locals, call_fn, c));
}

static void task_ended(wf_call_t *base, int rc) {
    from_call_t *c = WF_CONTAINER_OF(base, from_call_t, base);
    if (c->job) {
        wf_job_calling_in(c->job, 0);
        wf_job_child_leave(c->job);
    }
    finish(c, rc);
}

static int spawn_task(void *arg) {
    from_call_t *c = arg;
    return wf_task_spawn_detached(&c->base, c->fn, c->arg, "from_thread", c->parent);
}

static void start_task(wf_call_t *base) {
    from_call_t *c = WF_CONTAINER_OF(base, from_call_t, base);
    if (c->job) wf_job_calling_in(c->job, 1);
    int rc = wf_locals_run(&c->locals, spawn_task, c);
    if (rc) task_ended(base, rc);
}

static void post(from_call_t *c, wf_runtime_t *rt, int as_task) {
    c->base.rt = rt;
    c->base.run = as_task ? start_task : run_sync_now;
    c->base.done = task_ended;
    wf_flag_init(&c->done);
    wf_runtime_post(&c->base);
}

static int wait_for(from_call_t *c) {
    wf_flag_wait(&c->done, INFINITY, 1);
    return c->rc;
}

/* Enter the runtime and post the call, as a blocking thread. */
static int post_plain(from_call_t *c, wf_job_t *j, int as_task) {
    int rc = wf_runtime_enter(j->rt);
    if (rc) return rc;
    if (as_task) {
        c->job = j;
        c->parent = wf_job_child_enter(j);
        if (!c->parent) { /* abandoned: its scope is gone */
            wf_runtime_leave(j->rt);
            return WEFT_ECANCELED;
        }
    }
    post(c, j->rt, as_task);
    return 0;
}

/* The plain forms: from a blocking thread, into its runtime, in its turn. */
static int call_plain(weft_fn_t fn, void *arg, int as_task) {
    wf_job_t *j = wf_job_current();
    if (!j || wf_current_worker()) return WEFT_EPERM;
    if (!fn) return WEFT_EINVAL;
    /* What fn sees on this thread: its call's values. */
    from_call_t c = {.fn = fn, .arg = arg, .locals = wf_locals_share(wf_locals_current())};
    int turn = wf_job_turn(j, 0);
    int rc = post_plain(&c, j, as_task);
    if (turn) wf_job_turn_done(j);
    if (rc) wf_locals_release(c.locals);
    return rc ? rc : wait_for(&c);
}

static int call_token(weft_token_t *t, weft_fn_t fn, void *arg, int as_task) {
    wf_runtime_t *rt;
    if (wf_current_worker()) return WEFT_EPERM;
    if (!fn) return WEFT_EINVAL;
    int rc = wf_token_enter(t, &rt);
    if (rc) return rc;
    from_call_t c = {.fn = fn, .arg = arg};
    post(&c, rt, as_task);
    return wait_for(&c);
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
    int turn = wf_job_turn(j, 0); /* what it reads changes at the schedule's points */
    int cancelled = wf_job_cancelled(j);
    if (turn) wf_job_turn_done(j);
    return cancelled ? WEFT_ECANCELED : 0;
}
