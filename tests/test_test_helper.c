/* weft/test.h, the helper for users' cmocka tests: a passing body, a body's
 * error, and the two ways a test fails (an error, a hang).
 *
 * A failing or hanging case must fail a test without failing this suite, so
 * it runs in a child: this binary again, with WEFT_TEST_HELPER_CASE=<case> in
 * its environment, running a one-test cmocka group of its own.  The parent
 * checks the child's exit status (cmocka's: the number of failed tests) and
 * what it printed. */
#define _GNU_SOURCE
#include "proc_helpers.h"

#include <weft/test.h>

/* WEFT_TEST_TIMEOUT 240 */

#define CASE_ENV "WEFT_TEST_HELPER_CASE"

/* ------------------------------------------------------------ bodies */

static int count_up(void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
    return weft_sleep(0.001);
}

/* Passes: ten tasks in a group, each counts once. */
static int spawn_ten(void *arg)
{
    weft_group_t g;
    weft_group_open(&g);
    for (int i = 0; i < 10; i++)
        weft_group_spawn(&g, count_up, arg);
    return weft_group_close(&g, 0);
}

static int returns_eio(void *arg)
{
    (void)arg;
    return weft_checkpoint() == 0 ? -EIO : -1;
}

static int stuck_in_wait(void *arg)
{
    return weft_event_wait((weft_event_t *)arg); /* nobody sets it */
}

/* Hangs: a task of a group waits for an event nobody sets, and so does the
 * body in group_close.  Once cancelled it says so and returns. */
static int hangs(void *arg)
{
    (void)arg;
    weft_event_t *never;
    if (weft_event_new(&never) != 0)
        return WEFT_ENOMEM;
    weft_group_t g;
    weft_group_open(&g);
    weft_group_spawn(&g, stuck_in_wait, never);
    int rc = weft_group_close(&g, 0);
    printf("hangs: cleaned up after %s\n", weft_err_name(rc));
    fflush(stdout);
    weft_event_free(never);
    return rc;
}

/* Hangs without a checkpoint: cancelling it cannot help. */
static int ignores_cancellation(void *arg)
{
    (void)arg;
    for (;;)
        usleep(10000);
    return 0;
}

/* ------------------------------------------------------------ child cases */

static void case_fail(void **state)
{
    weft_assert_run(returns_eio, NULL, 30);
}

static void case_hang(void **state)
{
    weft_assert_run(hangs, NULL, 0.5);
}

static void case_ignore(void **state)
{
    weft_config_t one = {.workers = 1}; /* the only worker is blocked */
    weft_assert_run_config(ignores_cancellation, NULL, 0.5, &one);
}

static int run_case(const char *name)
{
    struct CMUnitTest test = {0};
    if (strcmp(name, "fail") == 0)
        test = (struct CMUnitTest)cmocka_unit_test(case_fail);
    else if (strcmp(name, "hang") == 0)
        test = (struct CMUnitTest)cmocka_unit_test(case_hang);
    else if (strcmp(name, "ignore") == 0)
        test = (struct CMUnitTest)cmocka_unit_test(case_ignore);
    else
        return 99;
    const struct CMUnitTest tests[] = {test};
    int failed = cmocka_run_group_tests_name(name, tests, NULL, NULL);
    fflush(NULL);
    _exit(failed); /* a runtime left running must not see exit()'s clean-up */
}

/* Run a case in a child; returns its exit status, output in *p. */
static int run_child(wt_proc_t *p, const char *name)
{
    static char env[64];
    snprintf(env, sizeof env, CASE_ENV "=%s", name);
    char *argv[] = {(char *)"/proc/self/exe", NULL};
    wt_proc_start(p, argv, env);
    return wt_proc_finish(p, 120);
}

/* ------------------------------------------------------------ tests
 *
 * Plain tests all: what they check is the runner itself (weft_test_run,
 * weft_assert_run, weft_test_run_timed), so they call it directly instead of
 * going through wt_run. */

static void passing_body(void)
{
    atomic_int n = 0;
    assert_rc(weft_test_run(spawn_ten, &n, 30, NULL), 0);
    assert_int_equal(atomic_load(&n), 10);
    weft_config_t one = {.workers = 1};
    weft_assert_run_config(spawn_ten, &n, 30, &one);
    weft_assert_run(spawn_ten, &n, 0); /* 0: the default timeout */
    assert_int_equal(atomic_load(&n), 30);
}

static void error_is_returned(void)
{
    assert_rc(weft_test_run(returns_eio, NULL, 30, NULL), -EIO);
}

static void error_fails_the_test(void)
{
    wt_proc_t p;
    int status = run_child(&p, "fail");
    assert_int_equal(status, 1); /* one failed test, not a crash */
    wt_assert_output(&p, "returns_eio returned EIO");
    wt_assert_output(&p, "[  FAILED  ] case_fail");
    wt_proc_free(&p);
}

static void hang_fails_with_task_tree(void)
{
    wt_proc_t p;
    double t0 = wt_proc_clock();
    int status = run_child(&p, "hang");
    assert_int_equal(status, 1);
    wt_assert_output(&p, "the test body did not return within 0.5 s; the tasks:");
    wt_assert_output(&p, "stuck_in_wait"); /* the tree names the stuck task */
    /* Cancelled, the body cleaned up and the test failed, promptly. */
    wt_assert_output(&p, "hangs: cleaned up after WEFT_ECANCELED");
    wt_assert_output(&p, "hung (more than 0.5 s); cancelled, it returned OK");
    wt_assert_output(&p, "[  FAILED  ] case_hang");
    assert_true(wt_proc_clock() - t0 < 60);
    wt_proc_free(&p);
}

/* The framework-free runner: its outcomes, in this process (a hang that
 * ignores the cancellation is hang_ignoring_cancellation's, in a child). */
static void run_timed_outcomes(void)
{
    int result = 1;
    assert_rc(weft_test_run_timed(returns_eio, NULL, 30, 0, NULL, &result), WEFT_TEST_RETURNED);
    assert_rc(result, -EIO);
    atomic_int n = 0;
    weft_config_t one = {.workers = 1};
    assert_rc(weft_test_run_timed(spawn_ten, &n, 30, 0, &one, &result), WEFT_TEST_RETURNED);
    assert_rc(result, 0);
    assert_int_equal(atomic_load(&n), 10);
    double t0 = wt_proc_clock();
    result = 1;
    assert_rc(weft_test_run_timed(hangs, NULL, 0.2, 30, NULL, &result), WEFT_TEST_CANCELLED);
    assert_rc(result, 0); /* the body's cancelled scope caught it */
    assert_true(wt_proc_clock() - t0 < 0.2 + 5 * WT_SLACK);
}

/* A test of an hour-long timeout under the virtual clock runs at once: the
 * runner holds nothing (no token) that would keep the clock from jumping. */
static int sleep_an_hour(void *arg)
{
    double t0 = weft_now();
    int rc = weft_sleep(3600);
    *(double *)arg = weft_now() - t0;
    return rc;
}

static void virtual_clock_jumps_under_the_runner(void)
{
    weft_config_t c;
    weft_config_init(&c);
    c.workers = 2;
    c.flags = WEFT_CONFIG_VIRTUAL_CLOCK;
    double slept = 0;
    weft_assert_run_config(sleep_an_hour, &slept, 10.0, &c);
    assert_true(slept >= 3600);
}

static void hang_ignoring_cancellation(void)
{
    wt_proc_t p;
    int status = run_child(&p, "ignore");
    assert_int_equal(status, 1);
    wt_assert_output(&p, "the test body did not return within 0.5 s; the tasks:");
    wt_assert_output(&p, "ignored the cancellation; it is left running");
    wt_assert_output(&p, "[  FAILED  ] case_ignore");
    wt_proc_free(&p);
}

static const wt_case_t cases[] = {
    WT_TEST(passing_body),
    WT_TEST(error_is_returned),
    WT_TEST(error_fails_the_test),
    WT_TEST(hang_fails_with_task_tree),
    WT_TEST(hang_ignoring_cancellation),
    WT_TEST(run_timed_outcomes),
    WT_TEST(virtual_clock_jumps_under_the_runner),
};

/* Not WT_SUITE: a child runs its one case (run_case) instead of the table. */
int main(void)
{
    const char *which = getenv(CASE_ENV);
    if (which != NULL)
        return run_case(which);
    return wt_run_suite(__FILE__, cases, sizeof cases / sizeof cases[0]);
}
