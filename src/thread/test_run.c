/*
 * weft_test_run_timed (weft/test.h): a test body as the root task of a
 * runtime on a thread of its own, waited for with a timeout; a body that
 * hangs gets the task tree printed, is cancelled, and gets a grace period.
 *
 * In the library rather than in weft/test.h: a timed wait needs
 * CLOCK_MONOTONIC, clock_gettime and pthread_condattr_setclock, which strict
 * ISO C modes (-std=c11) leave undeclared unless the user's own build
 * defines feature-test macros, and a header included after the system's
 * cannot define them any more.
 *
 * The state is shared by the caller and the thread running weft_run, and
 * freed by the last of them: after a hang that ignores the cancellation the
 * runtime's thread outlives the call.  The caller cancels a hung body's
 * scope itself (weft_scope_cancel works from any thread while the scope is
 * entered, which st->mu guarantees); holding no token, it leaves a virtual
 * clock free to jump.
 */
#include <pthread.h>
#include <stdio.h>

#define WEFT_TEST_NO_CMOCKA
#include "weft/test.h"

#include "sched/clock.h"
#include "sched/config.h"
#include "sched/runtime.h"
#include "sched/thread_name.h"
#include "sched/util.h"

typedef struct test_run {
    pthread_mutex_t mu;
    pthread_cond_t cv;    /* wf_cond_init_monotonic */
    int refs;
    int done, rc;         /* weft_run returned rc */
    weft_fn_t body;
    void *arg;
    weft_config_t config; /* the caller's, as this library's struct */
    weft_scope_t *scope;  /* mu: the body's scope while it runs */
} test_run_t;

static void unref(test_run_t *st) {
    pthread_mutex_lock(&st->mu);
    int last = --st->refs == 0;
    pthread_mutex_unlock(&st->mu);
    if (!last) return;
    pthread_cond_destroy(&st->cv);
    pthread_mutex_destroy(&st->mu);
    wf_free(st);
}

/* The root task: the body inside a scope that can be cancelled from outside. */
static int root(void *p) {
    test_run_t *st = p;
    weft_scope_t scope;
    weft_scope_enter(&scope, WEFT_FOREVER, 0);
    pthread_mutex_lock(&st->mu);
    st->scope = &scope;
    pthread_mutex_unlock(&st->mu);
    int rc = st->body(st->arg);
    pthread_mutex_lock(&st->mu);
    st->scope = NULL;
    pthread_mutex_unlock(&st->mu);
    return weft_scope_exit(&scope, rc);
}

static void *runtime_thread(void *p) {
    test_run_t *st = p;
    wf_thread_name_set("weft-test"); /* its worker 0 */
    int rc = weft_run(root, st, &st->config);
    pthread_mutex_lock(&st->mu);
    st->rc = rc;
    st->done = 1;
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
    unref(st);
    return NULL;
}

/* Wait (st->mu held) until weft_run returned or `seconds` passed; 1 if it did. */
static int wait_done(test_run_t *st, double seconds) {
    struct timespec end = wf_clock_deadline(seconds > 1e9 ? 1e9 : seconds); /* 30 years: for ever */
    while (!st->done && pthread_cond_timedwait(&st->cv, &st->mu, &end) == 0) {}
    return st->done;
}

/* `config`: already this library's struct (wf_config_copy). */
static test_run_t *test_run_new(weft_fn_t body, void *arg, const weft_config_t *config) {
    test_run_t *st = wf_calloc(1, sizeof *st);
    if (!st) return NULL;
    st->config = *config;
    wf_cond_init_monotonic(&st->cv);
    pthread_mutex_init(&st->mu, NULL);
    st->refs = 2; /* the caller's and the runtime thread's */
    st->body = body;
    st->arg = arg;
    return st;
}

/* The body did not return in time: the tree, then the cancellation. */
static int cancel_hung(test_run_t *st, pthread_t runner, double timeout_s, double grace_s, int *result) {
    fprintf(stderr, "weft_test_run: the test body did not return within %.1f s; the tasks:\n", timeout_s);
    weft_dump_tasks(stderr);
    fflush(stderr);
    pthread_mutex_lock(&st->mu);
    if (st->scope) weft_scope_cancel(st->scope); /* never waits: no worker needed */
    int finished = wait_done(st, grace_s);
    if (finished) *result = st->rc;
    pthread_mutex_unlock(&st->mu);
    if (finished) pthread_join(runner, NULL);
    else pthread_detach(runner);
    unref(st);
    return finished ? WEFT_TEST_CANCELLED : WEFT_TEST_HUNG;
}

int weft_test_run_timed(weft_fn_t body, void *arg, double timeout_s, double grace_s,
                        const weft_config_t *config, int *result) {
    if (!body || !result || !(timeout_s > 0) || !(grace_s >= 0)) return WEFT_EINVAL;
    if (wf_current_worker()) return WEFT_EPERM;
    weft_config_t c;
    int rc = wf_config_copy(&c, config);
    if (rc) return rc;
    test_run_t *st = test_run_new(body, arg, &c);
    if (!st) return WEFT_ENOMEM;
    pthread_t runner;
    if (pthread_create(&runner, NULL, runtime_thread, st) != 0) {
        st->refs = 1;
        unref(st);
        return WEFT_ENOMEM;
    }
    pthread_mutex_lock(&st->mu);
    int finished = wait_done(st, timeout_s);
    pthread_mutex_unlock(&st->mu);
    if (!finished) return cancel_hung(st, runner, timeout_s, grace_s, result);
    pthread_join(runner, NULL);
    *result = st->rc;
    unref(st);
    return WEFT_TEST_RETURNED;
}
