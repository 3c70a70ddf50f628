/*
 * Shared helpers for weft's cmocka suites: each suite is one table of cases
 * (WT_CASE, WT_TEST, WT_SUITE below), every run goes through weft/test.h's
 * runner (a hang fails one case, with the task tree printed).
 *
 * cmocka's assert_* macros longjmp back into the test runner, so they must be
 * used only on the test's own thread, never inside a task (tasks run on fibers
 * on worker threads).  Inside tasks use EXPECT / EXPECT_RC / EXPECT_NEAR: they
 * record the first failure (thread-safe); after a run the case checks them
 * (WT_ASSERT_CLEAN; WT_RUN_OK and every WT_CASE do it).  A failure recorded
 * outside any run (in a callback, a thread) is kept until a check sees it.
 */
#ifndef WEFT_TESTS_HELPERS_H
#define WEFT_TESTS_HELPERS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft.h"
#include "weft/test.h"

#if defined(__GNUC__)
#define WT_UNUSED __attribute__((unused))
#define WT_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define WT_UNUSED
#define WT_PRINTF(a, b)
#endif

/* ------------------------------------------------------------ sanitizers */

#if defined(__SANITIZE_THREAD__)
#define WT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WT_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define WT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WT_ASAN 1
#endif
#endif
#if defined(__has_feature)
#if __has_feature(memory_sanitizer)
#define WT_MSAN 1
#endif
#endif
#if defined(WT_TSAN) || defined(WT_ASAN) || defined(WT_MSAN)
#define WT_SANITIZED 1
#endif

/* Generous slack for timing assertions: CI has 2 cores, runs suites in
 * parallel and also under TSan. */
#ifdef WT_SANITIZED
#define WT_SLACK 2.0
#else
#define WT_SLACK 0.5
#endif

/* ------------------------------------------------------------ in-task checks */

static atomic_int wt_fail_count WT_UNUSED;
static char wt_fail_msg[1024] WT_UNUSED;

static WT_UNUSED WT_PRINTF(3, 4) void wt_failf(const char *file, int line, const char *fmt,
                                                ...)
{
    if (atomic_fetch_add(&wt_fail_count, 1) != 0)
        return;
    int n = snprintf(wt_fail_msg, sizeof wt_fail_msg, "%s:%d: ", file, line);
    if (n < 0 || (size_t)n >= sizeof wt_fail_msg)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(wt_fail_msg + n, sizeof wt_fail_msg - (size_t)n, fmt, ap);
    va_end(ap);
}

#define EXPECT(c)                                                              \
    do {                                                                       \
        if (!(c))                                                              \
            wt_failf(__FILE__, __LINE__, "EXPECT(%s) failed", #c);             \
    } while (0)

#define EXPECT_RC(got, want)                                                   \
    do {                                                                       \
        int wt_g_ = (got), wt_w_ = (want);                                     \
        if (wt_g_ != wt_w_)                                                    \
            wt_failf(__FILE__, __LINE__, "%s = %d (%s), expected %d (%s)",     \
                     #got, wt_g_, weft_err_name(wt_g_), wt_w_,                 \
                     weft_err_name(wt_w_));                                    \
    } while (0)

#define EXPECT_NEAR(got, want, tol)                                            \
    do {                                                                       \
        double wt_g_ = (got), wt_w_ = (want);                                  \
        if (!(fabs(wt_g_ - wt_w_) <= (tol)))                                   \
            wt_failf(__FILE__, __LINE__, "%s = %.9g, expected %.9g +- %g",     \
                     #got, wt_g_, wt_w_, (double)(tol));                       \
    } while (0)

#define EXPECT_STR(got, want)                                                  \
    do {                                                                       \
        const char *wt_g_ = (got), *wt_w_ = (want);                            \
        if (wt_g_ == NULL || strcmp(wt_g_, wt_w_) != 0)                        \
            wt_failf(__FILE__, __LINE__, "%s = \"%s\", expected \"%s\"", #got, \
                     wt_g_ ? wt_g_ : "(null)", wt_w_);                         \
    } while (0)

#define WT_ASSERT_CLEAN()                                                      \
    do {                                                                       \
        int wt_n_ = atomic_exchange(&wt_fail_count, 0);                        \
        if (wt_n_ != 0) {                                                      \
            print_error("%d in-task check(s) failed; first: %s\n", wt_n_,      \
                        wt_fail_msg);                                          \
            fail();                                                            \
        }                                                                      \
    } while (0)

/* Assert an int result on the test thread, printing the error names. */
#define assert_rc(got, want)                                                   \
    do {                                                                       \
        int wt_g_ = (got), wt_w_ = (want);                                     \
        if (wt_g_ != wt_w_) {                                                  \
            print_error("%s = %d (%s), expected %d (%s)\n", #got, wt_g_,       \
                        weft_err_name(wt_g_), wt_w_, weft_err_name(wt_w_));    \
            fail();                                                            \
        }                                                                      \
    } while (0)

/* ------------------------------------------------------------ running a body */

/* WEFT_STRESS_SCALE (default 1) scales the stress suites' round counts. */
static WT_UNUSED double wt_stress_scale(void)
{
    const char *s = getenv("WEFT_STRESS_SCALE");
    double v = s ? atof(s) : 1.0;
    if (!(v > 0))
        v = 1.0;
    return v;
}

/* How long one run of a body may take before it counts as hung: its task
 * tree is printed, it is cancelled, and the case fails (not the whole suite
 * at CTest's timeout).  WEFT_TEST_CASE_TIMEOUT=<s> overrides it; else it
 * grows with WEFT_STRESS_SCALE (a stress body loops its scaled rounds in
 * one runtime). */
static WT_UNUSED double wt_case_timeout(void)
{
    const char *s = getenv("WEFT_TEST_CASE_TIMEOUT");
    double v = s ? atof(s) : 0;
    if (v > 0)
        return v;
    double scale = wt_stress_scale() > 1 ? wt_stress_scale() : 1;
#ifdef WT_SANITIZED
    return 240.0 * scale;
#else
    return 60.0 * scale;
#endif
}

/* Run fn(arg) as the root task of a runtime with config `cfg` (NULL: the
 * defaults) through weft_test_run_timed, and return its result.  A hang is
 * recorded as a failed in-task check (so it also works in a child process
 * outside cmocka) and returns WEFT_ETIMEDOUT.  Failures recorded before the
 * run stay recorded: only WT_ASSERT_CLEAN consumes them. */
static WT_UNUSED int wt_run_config(weft_fn_t fn, void *arg, const weft_config_t *cfg)
{
    int result = 0;
    double timeout = wt_case_timeout();
    int how = weft_test_run_timed(fn, arg, timeout, 2.0, cfg, &result);
    if (how < 0)
        return how;
    if (how != WEFT_TEST_RETURNED) {
        wt_failf(__FILE__, __LINE__, "the body hung for more than %.0f s (task tree above)%s",
                 timeout, how == WEFT_TEST_HUNG ? " and ignored its cancellation" : "");
        return WEFT_ETIMEDOUT;
    }
    return result;
}

/* Run fn(arg) as the root task on `workers` workers. */
static WT_UNUSED int wt_run(weft_fn_t fn, void *arg, unsigned workers)
{
    weft_config_t cfg;
    weft_config_init(&cfg);
    cfg.workers = workers;
    return wt_run_config(fn, arg, &cfg);
}

/* Run, expect main to return 0 and every in-task check to have passed. */
#define WT_RUN_OK(fn, arg, n_workers) \
    WT_RUN_CONFIG_OK((fn), (arg), &(weft_config_t){.workers = (n_workers)})

#define WT_RUN_CONFIG_OK(fn, arg, cfg)                                         \
    do {                                                                       \
        int wt_rc_ = wt_run_config((fn), (arg), (cfg));                        \
        WT_ASSERT_CLEAN();                                                     \
        assert_rc(wt_rc_, 0);                                                  \
    } while (0)

/* ------------------------------------------------------------ one table of tests
 *
 * A suite is one table of cases, run by WT_SUITE (no per-test wrappers):
 *
 *   static const wt_case_t cases[] = {
 *       WT_CASE(wakes_all_main),               // a root task on WT_WORKERS
 *       WT_CASE_ON(storm_main, WT_W1 | WT_W4), // on other worker counts
 *       WT_CASE_ARG(sleeper_main, &half_second, WT_WORKERS),
 *       WT_TEST(misuse),                       // on the test's thread: void misuse(void)
 *   };
 *   WT_SUITE(cases)
 *
 * A case's body runs once per worker count of its mask, each time through
 * weft_test_run_timed: a hang fails that case with the task tree printed;
 * the in-task checks (EXPECT*) must pass and the body must return 0.  A plain
 * test (WT_TEST) runs on the test's thread, for what needs the thread itself
 * (calls outside a runtime, several runtimes, child processes, cmocka's
 * assertions on results gathered by runs). */

/* The worker counts: the default set is 1 (one worker: no stealing, the
 * same order every time) and 2 (two workers on CI's two cores: stealing and
 * wake-ups across cores).  Cases that need more say so. */
#define WT_W1 (1u << 0)
#define WT_W2 (1u << 1)
#define WT_W4 (1u << 2)
#define WT_W8 (1u << 3)
#define WT_W16 (1u << 4)
#define WT_WORKERS (WT_W1 | WT_W2)

typedef struct wt_case {
    const char *name;
    weft_fn_t body;        /* a root task; NULL for a plain test */
    void (*test)(void);    /* a plain test on the test's thread */
    void *arg;
    unsigned workers;      /* WT_W* mask */
} wt_case_t;

#define WT_CASE_ARG(body, arg, workers) {#body, (body), NULL, (void *)(arg), (workers)}
#define WT_CASE_ON(body, workers) WT_CASE_ARG(body, NULL, workers)
#define WT_CASE(body) WT_CASE_ON(body, WT_WORKERS)
#define WT_TEST(fn) {#fn, NULL, (fn), NULL, 0}

/* After every case, also one that failed with a cmocka assertion before its
 * own check: in-task failures recorded meanwhile are this case's. */
static WT_UNUSED int wt_case_teardown(void **state)
{
    (void)state;
    int n = atomic_exchange(&wt_fail_count, 0);
    if (n)
        print_error("%d in-task check(s) failed; first: %s\n", n, wt_fail_msg);
    return n ? -1 : 0;
}

static WT_UNUSED void wt_case_run(void **state)
{
    const wt_case_t *c = *state;
    WT_ASSERT_CLEAN(); /* nothing left over from outside any case */
    if (!c->body) {
        c->test();
        WT_ASSERT_CLEAN(); /* checks made in callbacks count too */
        return;
    }
    for (unsigned bit = 0; bit < 5; bit++) {
        if (!(c->workers & (1u << bit)))
            continue;
        int rc = wt_run(c->body, c->arg, 1u << bit);
        if (atomic_load(&wt_fail_count) || rc != 0)
            print_error("%s on %u worker(s):\n", c->name, 1u << bit);
        WT_ASSERT_CLEAN();
        assert_rc(rc, 0);
    }
}

static WT_UNUSED void wt_apply_filter(void);

/* Run every case of the table as a cmocka test of its name. */
static WT_UNUSED int wt_run_suite(const char *suite, const wt_case_t *cases, size_t n)
{
    struct CMUnitTest *tests = calloc(n, sizeof *tests);
    if (!tests)
        return 1;
    for (size_t i = 0; i < n; i++) {
        tests[i].name = cases[i].name;
        tests[i].test_func = wt_case_run;
        tests[i].teardown_func = wt_case_teardown;
        tests[i].initial_state = (void *)(uintptr_t)&cases[i];
    }
    wt_apply_filter();
    int failed = _cmocka_run_group_tests(suite, tests, n, NULL, NULL);
    free(tests);
    return failed;
}

#define WT_SUITE(cases)                                                        \
    int main(void)                                                             \
    {                                                                          \
        return wt_run_suite(__FILE__, (cases), sizeof(cases) / sizeof((cases)[0])); \
    }

/* WEFT_TEST_FILTER=<glob> runs only the matching tests of a suite. */
static WT_UNUSED void wt_apply_filter(void)
{
    const char *f = getenv("WEFT_TEST_FILTER");
    if (f && *f)
        cmocka_set_test_filter(f);
}

/* ------------------------------------------------------------ in-task waiting */

/* Sleep in small steps until *flag >= want or `timeout` seconds have passed.
 * Returns 1 when the flag was reached.  Sleeps inside a shielded scope so it
 * keeps waiting (and keeps yielding) even if the caller is cancelled. */
static WT_UNUSED int wt_wait_flag(atomic_int *flag, int want, double timeout)
{
    weft_scope_t sh;
    double end = weft_now() + timeout;
    int ok = 0;
    weft_scope_enter(&sh, WEFT_FOREVER, WEFT_SHIELD);
    for (;;) {
        if (atomic_load(flag) >= want) {
            ok = 1;
            break;
        }
        if (weft_now() > end)
            break;
        weft_sleep(0.0005);
    }
    weft_scope_exit(&sh, 0);
    return ok;
}

/* Poll (sleeping) until cond holds, at most 5 s; a failed EXPECT otherwise.
 * For conditions another task makes true that have no event to wait on
 * (a number of waiters reported by the statistics, say). */
#define WAIT_FOR(cond)                                                         \
    do {                                                                       \
        double end_ = weft_now() + 5.0;                                        \
        while (!(cond) && weft_now() < end_)                                   \
            weft_sleep(0.0005);                                                \
        EXPECT(cond);                                                          \
    } while (0)

/* ------------------------------------------------------------ stress sizing */

/* Sizes: WT_TSAN_PICK(normal, tsan) picks the size for this build.  Under
 * TSan every task costs milliseconds (each task is a TSan fiber, and creating
 * one is expensive), so the TSan sizes are much smaller: they aim at a few
 * thousand tasks per test, which is where races show anyway. */
#ifdef WT_TSAN
#define WT_TSAN_PICK(normal, tsan) (tsan)
#else
#define WT_TSAN_PICK(normal, tsan) (normal)
#endif

static WT_UNUSED int wt_scaled(int n)
{
    double v = n * wt_stress_scale();
    return v < 1 ? 1 : (int)v;
}

/* Small deterministic PRNG (splitmix64), one state per user. */
static WT_UNUSED uint64_t wt_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform double in [0, 1). */
static WT_UNUSED double wt_randf(uint64_t *state)
{
    return (double)(wt_rand(state) >> 11) * (1.0 / 9007199254740992.0);
}

/* A random relative deadline for a cancel scope racing an operation: none
 * with probability p_none, already expired with probability p_expired, else a
 * few microseconds. */
static WT_UNUSED double wt_tiny_deadline(uint64_t *rng, double p_none, double p_expired)
{
    double x = wt_randf(rng);
    if (x < p_none)
        return WEFT_FOREVER;
    if (x < p_none + p_expired)
        return 0;
    return wt_randf(rng) * 30e-6;
}

#endif /* WEFT_TESTS_HELPERS_H */
