/*
 * weft/test.h — run a test body as the root task of a fresh runtime, for
 * cmocka users (and, with WEFT_TEST_NO_CMOCKA, any framework: see
 * weft_test_run_timed).  Not included by weft.h.  Include it after
 * <cmocka.h>; the timed runner is in the library (link weft, as for the
 * rest), so the header needs no POSIX declarations and compiles in strict
 * ISO C (-std=c99 and later) and C++ as it is:
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

#include "../weft.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- any framework
 *
 * What weft_test_run does apart from failing a cmocka test, in the library
 * (link weft).  With WEFT_TEST_NO_CMOCKA defined before the include, this
 * part alone is declared and <cmocka.h> is not needed. */

/* weft_test_run_timed's outcomes; a negative result is an error. */
#define WEFT_TEST_RETURNED 0  /* the body returned within timeout_s: *result */
#define WEFT_TEST_CANCELLED 1 /* it did not; cancelled, it returned within grace_s: *result */
#define WEFT_TEST_HUNG 2      /* it did not, and ignored the cancellation: left running */

/* [thread] Run body(arg) as the root task of a new runtime (config as for
 * weft_run, NULL for the defaults) on a thread of its own, and wait up to
 * timeout_s seconds for it; *result gets what weft_run returned (the body's
 * result).  If it has not returned by then, print a line and the task tree
 * of every running runtime (weft_dump_tasks) to stderr, cancel the body (its
 * checkpoints then return WEFT_ECANCELED) and wait up to grace_s seconds
 * more.  A body that ignores the cancellation is left running in the
 * background (its runtime cannot be stopped from outside): keep what `arg`
 * points to alive.  WEFT_EINVAL: no body or result, timeout_s not > 0 or
 * grace_s < 0; WEFT_EPERM: called on a worker (it would block it);
 * WEFT_ENOMEM.  The thread is named weft-test (it is the runtime's worker 0). */
WEFT_EXTERN int weft_test_run_timed(weft_fn_t body, void *arg, double timeout_s, double grace_s,
                                    const weft_config_t *config, int *result);

/* [thread] Look for a schedule under which body fails.  Run body(arg) as the
 * root task of a runtime with the default settings plus
 * WEFT_CONFIG_DETERMINISTIC and config.seed = k, for k = 1 .. n_seeds in
 * order (weft/debug.h: the same seed makes the same scheduling choices),
 * each through weft_test_run_timed with a 30 s timeout.  Returns 0 when
 * every run returned 0; else stops at the first failing run (a non-zero
 * result, or WEFT_ETIMEDOUT for a hang), stores its k in *failing_seed
 * (may be NULL), prints "rerun with WEFT_SEED=<k>" to stderr and returns
 * its result.  A run that aborts (a failed assert) takes the process with
 * it, after the same line names its seed.  Rerun that schedule with
 * WEFT_SEED=<k> in the environment and config.seed 0, or config.seed = k
 * (under gdb, say).  WEFT_EINVAL: no body or n_seeds 0; WEFT_EPERM: on a
 * worker.  Needs no cmocka. */
WEFT_EXTERN int weft_test_explore(weft_fn_t body, void *arg, unsigned n_seeds,
                                  unsigned long long *failing_seed);

#ifdef __cplusplus
}
#endif

/* ---------------------------------------------------------------- cmocka */

#ifndef WEFT_TEST_NO_CMOCKA

#ifndef fail
#error "weft/test.h: include <cmocka.h> first (or define WEFT_TEST_NO_CMOCKA)"
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

/* weft_test_run, failing the test at file:line. */
static inline int weft_test_run_at_(weft_fn_t body, void *arg, double timeout_s,
                                    const weft_config_t *config, const char *file, int line)
{
    if (!(timeout_s > 0))
        timeout_s = WEFT_TEST_DEFAULT_TIMEOUT;
    int rc = 0;
    int outcome = weft_test_run_timed(body, arg, timeout_s, WEFT_TEST_CANCEL_GRACE, config, &rc);
    if (outcome == WEFT_TEST_RETURNED)
        return rc;
    if (outcome == WEFT_TEST_CANCELLED)
        print_error("weft_test_run: the test body hung (more than %.1f s); cancelled, it "
                    "returned %s\n",
                    timeout_s, weft_err_name(rc));
    else if (outcome == WEFT_TEST_HUNG)
        print_error("weft_test_run: the test body hung (more than %.1f s) and ignored the "
                    "cancellation; it is left running\n",
                    timeout_s);
    else
        print_error("weft_test_run: %s (%s)\n", weft_strerror(outcome), weft_err_name(outcome));
    _fail(file, line);
    return outcome < 0 ? outcome : WEFT_ETIMEDOUT; /* not reached: _fail leaves the test */
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

#endif /* WEFT_TEST_NO_CMOCKA */

#endif /* WEFT_TEST_H */
