/*
 * Shared helpers for the thread-bridge suites (test_limiter, test_to_thread,
 * test_from_thread, test_portal, stress_thread): runs with a thread config,
 * limiter statistics, waiting on plain threads, gates between a blocking fn
 * and the test, marks that count blocking threads, plain threads started
 * from a task, tokens.
 *
 * Define _GNU_SOURCE before including it (as the suites do for helpers.h).
 * Checks made on a caller's behalf report the caller's file and line.
 */
#ifndef WEFT_TESTS_THREAD_HELPERS_H
#define WEFT_TESTS_THREAD_HELPERS_H

#include "helpers.h"

#include <pthread.h>
#include <unistd.h>

/* ------------------------------------------------------------ runs */

/* Run fn(arg) as the root task with `workers` workers, `tokens` thread tokens
 * and blocking threads idle for `idle` s (0: the defaults). */
static WT_UNUSED int wt_run_cfg(weft_fn_t fn, void *arg, unsigned workers, unsigned tokens,
                                double idle)
{
    weft_config_t cfg;
    weft_config_init(&cfg);
    cfg.workers = workers;
    cfg.thread_tokens = tokens;
    cfg.thread_idle_timeout = idle;
    return wt_run_config(fn, arg, &cfg);
}

/* wt_run_cfg, expecting main to return 0 and every in-task check to pass. */
#define WT_RUN_CFG_OK(fn, arg, workers, tokens, idle)                          \
    do {                                                                       \
        int wt_rc_ = wt_run_cfg((fn), (arg), (workers), (tokens), (idle));     \
        WT_ASSERT_CLEAN();                                                     \
        assert_rc(wt_rc_, 0);                                                  \
    } while (0)

/* A portal with `workers` workers, started on the test thread (asserted). */
static WT_UNUSED weft_portal_t *wt_portal_start(unsigned workers)
{
    weft_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.workers = workers;
    weft_portal_t *p = NULL;
    int rc = weft_portal_start(&p, &cfg);
    assert_rc(rc, 0);
    assert_non_null(p);
    return p;
}

/* Stop p (asserting the runtime's result 0) and free it. */
static WT_UNUSED void wt_portal_stop_free(weft_portal_t *p, int cancel_remaining)
{
    assert_rc(weft_portal_stop(p, cancel_remaining), 0);
    weft_portal_free(p);
}

/* fn for calls whose running only needs counting: adds 1 to the atomic_int
 * at p. */
static WT_UNUSED int wt_count_fn(void *p)
{
    atomic_fetch_add((atomic_int *)p, 1);
    return 0;
}

/* Raise *m to n unless it is larger already. */
static WT_UNUSED void wt_note_max(atomic_int *m, int n)
{
    int cur = atomic_load(m);
    while (n > cur && !atomic_compare_exchange_weak(m, &cur, n)) {
    }
}

/* ------------------------------------------------------------ limiter statistics */

/* The statistics of l (all ones where weft_limiter_stats filled nothing in). */
static WT_UNUSED weft_limiter_stats_t wt_lstats(const weft_limiter_t *l)
{
    weft_limiter_stats_t st;
    memset(&st, 0xff, sizeof st);
    weft_limiter_stats(l, &st);
    return st;
}

static WT_UNUSED unsigned wt_l_total(const weft_limiter_t *l)
{
    return wt_lstats(l).total_tokens;
}

static WT_UNUSED unsigned wt_l_borrowed(const weft_limiter_t *l)
{
    return wt_lstats(l).borrowed_tokens;
}

static WT_UNUSED unsigned wt_l_waiting(const weft_limiter_t *l)
{
    return wt_lstats(l).tasks_waiting;
}

/* ------------------------------------------------------------ waiting, gates */

/* Spin (sleeping) on a plain or blocking thread until *flag >= want; 0 after
 * `timeout` seconds.  In a task use wt_wait_flag (helpers.h). */
static WT_UNUSED int wt_spin_until(atomic_int *flag, int want, double timeout)
{
    double end = weft_now() + timeout;
    while (atomic_load(flag) < want) {
        if (weft_now() > end)
            return 0;
        usleep(200);
    }
    return 1;
}

/* A gate between code that must stay put and the test that lets it go: the
 * code sets *arrived (the test waits for that), then waits until the test
 * sets *open, at most 10 s.
 * WT_GATE_THREAD: on a blocking or plain thread (the thread sleeps); a failed
 * check with message `msg` if the gate never opens.
 * WT_GATE_TASK: in a task (the task sleeps, its worker stays free); a failed
 * EXPECT if the gate never opens. */
#define WT_GATE_THREAD(arrived, open, msg)                                     \
    do {                                                                       \
        atomic_store((arrived), 1);                                            \
        if (!wt_spin_until((open), 1, 10.0))                                   \
            wt_failf(__FILE__, __LINE__, "%s", (msg));                         \
    } while (0)

#define WT_GATE_TASK(arrived, open)                                            \
    do {                                                                       \
        atomic_store((arrived), 1);                                            \
        EXPECT(wt_wait_flag((open), 1, 10.0));                                 \
    } while (0)

/* ------------------------------------------------------------ blocking-thread marks */

/* A blocking fn calls wt_mark_thread(): its thread is counted in
 * wt_threads_started on its first call, and in wt_threads_exited when it
 * exits (a key destructor). */
static __thread int wt_tl_mark WT_UNUSED;
static atomic_int wt_threads_started WT_UNUSED, wt_threads_exited WT_UNUSED;
static pthread_key_t wt_exit_key WT_UNUSED;
static pthread_once_t wt_exit_key_once WT_UNUSED = PTHREAD_ONCE_INIT;

static WT_UNUSED void wt_on_thread_exit(void *v)
{
    (void)v;
    atomic_fetch_add(&wt_threads_exited, 1);
}

static WT_UNUSED void wt_make_exit_key(void)
{
    pthread_key_create(&wt_exit_key, wt_on_thread_exit);
}

/* 1 when this thread had not run a call before. */
static WT_UNUSED int wt_mark_thread(void)
{
    pthread_once(&wt_exit_key_once, wt_make_exit_key);
    if (wt_tl_mark)
        return 0;
    wt_tl_mark = 1;
    atomic_fetch_add(&wt_threads_started, 1);
    pthread_setspecific(wt_exit_key, (void *)1);
    return 1;
}

/* On the test thread: every marked thread exited (allowing the destructors a
 * moment to run after the runtime let go of the thread). */
static WT_UNUSED void wt_assert_all_threads_exited(void)
{
    for (int i = 0;
         i < 2000 && atomic_load(&wt_threads_exited) < atomic_load(&wt_threads_started); i++)
        usleep(1000);
    assert_int_equal(atomic_load(&wt_threads_exited), atomic_load(&wt_threads_started));
}

/* ------------------------------------------------------------ plain threads from a task */

/* In a task: start fn(arg) on a plain thread of our own (no task, no blocking
 * thread of any runtime).  1 when it started; a failed check otherwise. */
#define WT_THREAD_START(th, fn, arg) wt_thread_start_at(__FILE__, __LINE__, (th), (fn), (arg))

static WT_UNUSED int wt_thread_start_at(const char *file, int line, pthread_t *th,
                                        void *(*fn)(void *), void *arg)
{
    if (pthread_create(th, NULL, fn, arg) == 0)
        return 1;
    wt_failf(file, line, "pthread_create failed");
    return 0;
}

/* In a task: wait (sleeping: the worker stays free for the threads' calls
 * into the runtime) until *done >= want, at most `timeout` s (a failed check
 * otherwise), then join the n threads th[0..n-1]. */
#define WT_THREADS_FINISH(th, n, done, want, timeout)                          \
    wt_threads_finish_at(__FILE__, __LINE__, (th), (n), (done), (want), (timeout))

static WT_UNUSED void wt_threads_finish_at(const char *file, int line, const pthread_t *th,
                                           int n, atomic_int *done, int want, double timeout)
{
    if (!wt_wait_flag(done, want, timeout))
        wt_failf(file, line, "plain threads not done after %g s (%d of %d)", timeout,
                 atomic_load(done), want);
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
}

/* ------------------------------------------------------------ tokens */

/* In a task: a new reference to the runtime's token; NULL (and a failed
 * check) if there is none. */
#define WT_CURRENT_TOKEN() wt_current_token_at(__FILE__, __LINE__)

static WT_UNUSED weft_token_t *wt_current_token_at(const char *file, int line)
{
    weft_token_t *t = weft_current_token();
    if (t == NULL)
        wt_failf(file, line, "weft_current_token() = NULL");
    return t;
}

/* Call fn(arg) through token t both ways: as a task (results in *run_rc) and
 * on a worker (*sync_rc). */
static WT_UNUSED void wt_token_call_both(weft_token_t *t, weft_fn_t fn, void *arg, int *run_rc,
                                         int *sync_rc)
{
    *run_rc = weft_from_thread_run_token(t, fn, arg);
    *sync_rc = weft_from_thread_run_sync_token(t, fn, arg);
}

/* ------------------------------------------------------------ calls that meet */

/* In a task: n blocking calls at once from as many tasks; each runs
 * fn(arg, i) (i = 0 .. n-1, in order of arrival) once all n have arrived,
 * so every call is on a blocking thread of its own. */
typedef struct wt_meet {
    atomic_int arrived;
    int want;
    void (*fn)(void *arg, int i);
    void *arg;
} wt_meet_t;

static WT_UNUSED int wt_meet_call(void *p)
{
    wt_meet_t *m = p;
    int i = atomic_fetch_add(&m->arrived, 1);
    if (!wt_spin_until(&m->arrived, m->want, 10.0))
        wt_failf(__FILE__, __LINE__, "only %d of %d calls arrived", atomic_load(&m->arrived),
                 m->want);
    m->fn(m->arg, i);
    return 0;
}

static WT_UNUSED int wt_meet_offload(void *p)
{
    return weft_to_thread_run_sync(wt_meet_call, p, NULL);
}

static WT_UNUSED void wt_meet_calls(int n, void (*fn)(void *arg, int i), void *arg)
{
    wt_meet_t m = {.want = n, .fn = fn, .arg = arg};
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < n; i++)
        EXPECT_RC(weft_group_spawn(&g, wt_meet_offload, &m), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
}

#endif /* WEFT_TESTS_THREAD_HELPERS_H */
