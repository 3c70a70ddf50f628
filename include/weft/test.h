/*
 * weft/test.h — run a test body as the root task of a fresh runtime, for
 * cmocka users.  Header-only; not included by weft.h.  Include it after
 * <cmocka.h>, and link with -pthread:
 *
 *   #include <stdarg.h>
 *   #include <stddef.h>
 *   #include <setjmp.h>
 *   #include <cmocka.h>
 *   #include <weft/test.h>
 *
 *   static int body(void *arg) {            // runs as a task: checkpoints work
 *       weft_scope_t s;
 *       weft_fail_after(&s, 0.1);
 *       return weft_scope_exit(&s, weft_sleep(1)) == WEFT_ETIMEDOUT ? 0 : -1;
 *   }
 *   static void test_deadline(void **state) {
 *       weft_assert_run(body, NULL, 5.0);   // body must return 0 within 5 s
 *   }
 *
 * A body that has not returned within its timeout is a failure of the test,
 * not a hung suite: weft_test_run prints the task tree of every running
 * runtime (weft_dump_tasks) to stderr, so the report shows which task waits
 * on what, cancels the body, and fails the test (as fail() does).
 *
 * cmocka's assertions longjmp, so they belong on the test's thread, never in
 * the body: a body reports a problem by returning an error (or record it and
 * assert after weft_test_run returned).  See docs/testing-guide.md.
 */
#ifndef WEFT_TEST_H
#define WEFT_TEST_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../weft.h"

#ifndef fail
#error "weft/test.h: include <cmocka.h> first"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* A timeout of 0 (or less) means this many seconds. */
#ifndef WEFT_TEST_DEFAULT_TIMEOUT
#define WEFT_TEST_DEFAULT_TIMEOUT 30.0
#endif
/* After a timeout the body is cancelled and gets this long to return. */
#ifndef WEFT_TEST_CANCEL_GRACE
#define WEFT_TEST_CANCEL_GRACE 2.0
#endif

/* Shared by the test's thread, the thread running weft_run and a helper
 * thread that cancels a hung body; freed by the last of them, since after a
 * hang that ignores cancellation the runtime's thread outlives the test. */
typedef struct weft_test_state_ {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    int done; /* weft_run returned rc */
    int rc;
    weft_fn_t body;
    void *arg;
    int has_config;
    weft_config_t config;
    weft_token_t *token;  /* the runtime, for the cancelling thread */
    weft_scope_t *scope;  /* the body's scope while it runs */
} weft_test_state_;

static inline void weft_test_unref_(weft_test_state_ *st)
{
    pthread_mutex_lock(&st->mu);
    int last = --st->refs == 0;
    pthread_mutex_unlock(&st->mu);
    if (!last)
        return;
    if (st->token != NULL)
        weft_token_release(st->token);
    pthread_cond_destroy(&st->cv);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

/* The root task: the body inside a scope that can be cancelled from outside. */
static inline int weft_test_root_(void *p)
{
    weft_test_state_ *st = (weft_test_state_ *)p;
    weft_scope_t scope;
    weft_scope_enter(&scope, WEFT_FOREVER, 0);
    pthread_mutex_lock(&st->mu);
    st->token = weft_current_token();
    st->scope = &scope;
    pthread_mutex_unlock(&st->mu);
    int rc = st->body(st->arg);
    pthread_mutex_lock(&st->mu);
    st->scope = NULL;
    pthread_mutex_unlock(&st->mu);
    return weft_scope_exit(&scope, rc);
}

static inline void *weft_test_thread_(void *p)
{
    weft_test_state_ *st = (weft_test_state_ *)p;
    int rc = weft_run(weft_test_root_, st, st->has_config ? &st->config : NULL);
    pthread_mutex_lock(&st->mu);
    st->rc = rc;
    st->done = 1;
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
    weft_test_unref_(st);
    return NULL;
}

/* Runs on a worker of the test's runtime (weft_from_thread_run_sync_token). */
static inline int weft_test_cancel_body_(void *p)
{
    weft_test_state_ *st = (weft_test_state_ *)p;
    pthread_mutex_lock(&st->mu);
    if (st->scope != NULL)
        weft_scope_cancel(st->scope);
    pthread_mutex_unlock(&st->mu);
    return 0;
}

/* A thread of its own: the call waits for a worker, and a body that blocks
 * every worker never frees one. */
static inline void *weft_test_canceller_(void *p)
{
    weft_test_state_ *st = (weft_test_state_ *)p;
    pthread_mutex_lock(&st->mu);
    weft_token_t *token = st->token;
    pthread_mutex_unlock(&st->mu);
    if (token != NULL)
        weft_from_thread_run_sync_token(token, weft_test_cancel_body_, st);
    weft_test_unref_(st);
    return NULL;
}

/* Wait (st->mu held) until weft_run returned or `seconds` passed; 1 if it did. */
static inline int weft_test_wait_(weft_test_state_ *st, double seconds)
{
    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    double whole = (double)(time_t)seconds;
    end.tv_sec += (time_t)seconds;
    end.tv_nsec += (long)((seconds - whole) * 1e9);
    if (end.tv_nsec >= 1000000000L) {
        end.tv_sec++;
        end.tv_nsec -= 1000000000L;
    }
    while (!st->done && pthread_cond_timedwait(&st->cv, &st->mu, &end) == 0) {
    }
    return st->done;
}

/* weft_test_run, failing the test at file:line. */
static inline int weft_test_run_at_(weft_fn_t body, void *arg, double timeout_s,
                                    const weft_config_t *config, const char *file, int line)
{
    if (!(timeout_s > 0))
        timeout_s = WEFT_TEST_DEFAULT_TIMEOUT;
    weft_test_state_ *st = (weft_test_state_ *)calloc(1, sizeof *st);
    if (st == NULL) {
        print_error("weft_test_run: out of memory\n");
        _fail(file, line);
        return WEFT_ENOMEM;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&st->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&st->mu, NULL);
    st->refs = 2; /* this thread and the runtime's */
    st->body = body;
    st->arg = arg;
    if (config != NULL) {
        st->has_config = 1;
        st->config = *config;
    }
    pthread_t runner;
    if (pthread_create(&runner, NULL, weft_test_thread_, st) != 0) {
        st->refs = 1;
        weft_test_unref_(st);
        print_error("weft_test_run: cannot start a thread for the runtime\n");
        _fail(file, line);
        return WEFT_ENOMEM;
    }

    pthread_mutex_lock(&st->mu);
    int finished = weft_test_wait_(st, timeout_s);
    pthread_mutex_unlock(&st->mu);
    if (finished) {
        pthread_join(runner, NULL);
        int rc = st->rc;
        weft_test_unref_(st);
        return rc;
    }

    fprintf(stderr, "weft_test_run: the test body did not return within %.1f s; the tasks:\n",
            timeout_s);
    weft_dump_tasks(stderr);
    fflush(stderr);
    pthread_t canceller;
    pthread_mutex_lock(&st->mu);
    st->refs++;
    pthread_mutex_unlock(&st->mu);
    if (pthread_create(&canceller, NULL, weft_test_canceller_, st) == 0)
        pthread_detach(canceller);
    else
        weft_test_unref_(st);
    pthread_mutex_lock(&st->mu);
    finished = weft_test_wait_(st, WEFT_TEST_CANCEL_GRACE);
    int rc = st->rc;
    pthread_mutex_unlock(&st->mu);
    if (finished)
        pthread_join(runner, NULL);
    else
        pthread_detach(runner);
    weft_test_unref_(st);
    if (finished)
        print_error("weft_test_run: the test body hung (more than %.1f s); cancelled, it "
                    "returned %s\n",
                    timeout_s, weft_err_name(rc));
    else
        print_error("weft_test_run: the test body hung (more than %.1f s) and ignored the "
                    "cancellation; it is left running\n",
                    timeout_s);
    _fail(file, line);
    return WEFT_ETIMEDOUT; /* not reached: _fail leaves the test */
}

/* [thread] Run body(arg) as the root task of a new runtime (config as for
 * weft_run, NULL for the defaults) and return its result.  If it has not
 * returned after timeout_s seconds (<= 0: WEFT_TEST_DEFAULT_TIMEOUT), print
 * the task tree to stderr, cancel the body (its checkpoints then return
 * WEFT_ECANCELED), wait up to WEFT_TEST_CANCEL_GRACE seconds for it to
 * return, and fail the running cmocka test.  A body that ignores the
 * cancellation is left running in the background (its runtime cannot be
 * stopped from outside): keep what `arg` points to alive, e.g. static. */
static inline int weft_test_run(weft_fn_t body, void *arg, double timeout_s,
                                const weft_config_t *config)
{
    return weft_test_run_at_(body, arg, timeout_s, config, __FILE__, __LINE__);
}

/* Fail the test unless rc is 0, naming the body and the error. */
static inline void weft_test_assert_ok_(int rc, const char *body, const char *file, int line)
{
    if (rc != 0) {
        print_error("%s returned %s (%d): %s\n", body, weft_err_name(rc), rc,
                    weft_strerror(rc));
        _fail(file, line);
    }
}

/* Run body(arg) with weft_test_run and the default configuration, and fail
 * the test unless it returns 0 within timeout_s seconds. */
#define weft_assert_run(body, arg, timeout_s) \
    weft_assert_run_config(body, arg, timeout_s, NULL)
/* Same, with a configuration.  Failures are reported at the caller's line. */
#define weft_assert_run_config(body, arg, timeout_s, config)                              \
    weft_test_assert_ok_(weft_test_run_at_((body), (arg), (timeout_s), (config), __FILE__, \
                                           __LINE__),                                      \
                         #body, __FILE__, __LINE__)

#ifdef __cplusplus
}
#endif

#endif /* WEFT_TEST_H */
