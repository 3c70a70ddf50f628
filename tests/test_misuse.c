/* Misuse that must be reported, not crash: NULL arguments, fiber-only calls
 * from plain threads, closed groups, out-of-range indexes. */
#define _GNU_SOURCE
#include "helpers.h"

#include <pthread.h>

static int trivial(void *arg)
{
    if (arg)
        atomic_fetch_add((atomic_int *)arg, 1);
    return 0;
}

/* ------------------------------------------------------------ weft_run */

/* weft_run itself is under test here, so it is called directly. */
static void run_null_fn(void)
{
    weft_config_t cfg = {.workers = 1};
    assert_rc(weft_run(NULL, NULL, NULL), WEFT_EINVAL);
    assert_rc(weft_run(NULL, NULL, &cfg), WEFT_EINVAL);
    /* The process is still fine afterwards. */
    atomic_int ran = 0;
    assert_rc(weft_run(trivial, &ran, &cfg), 0);
    assert_int_equal(atomic_load(&ran), 1);
}

/* ------------------------------------------------------------ fiber-only calls from plain threads */

typedef struct {
    int checkpoint, sleep, sleep_until, group_open, started, group_start, group_close;
    const char *name;
    int ok;
    weft_group_t *open_group; /* a group a task opened, or NULL */
    int close_open_group;     /* also try to close it */
    atomic_int ran;
} plain_ctx_t;

static void plain_thread_calls(plain_ctx_t *c)
{
    weft_group_t g;
    memset(&g, 0, sizeof g);
    c->checkpoint = weft_checkpoint();
    c->sleep = weft_sleep(0.001);
    c->sleep_until = weft_sleep_until(weft_now() + 0.001);
    c->group_open = weft_group_open(&g);
    c->started = weft_started(NULL);
    c->name = weft_current_task_name();
    {
        /* With a never-opened group either error is fair (it is also a bad
         * argument); with a real open group it must be EPERM. */
        weft_group_t z;
        void *value = NULL;
        memset(&z, 0, sizeof z);
        weft_group_t *tg = c->open_group ? c->open_group : &z;
        c->group_start = weft_group_start(tg, trivial, &c->ran, &value);
        if (!c->open_group) {
            memset(&z, 0, sizeof z);
            c->group_close = weft_group_close(&z, 0);
        } else {
            c->group_close = c->close_open_group ? weft_group_close(tg, 0) : WEFT_EPERM;
        }
    }

    /* Void calls must not crash outside a runtime. */
    weft_scope_t s;
    memset(&s, 0, sizeof s);
    weft_scope_enter(&s, WEFT_FOREVER, 0);
    int rc = weft_scope_exit(&s, 0);
    (void)rc;
    weft_move_on_after(&s, 1.0);
    rc = weft_scope_exit(&s, 0);
    weft_fail_after(&s, 1.0);
    rc = weft_scope_exit(&s, 0);
    (void)weft_current_effective_deadline();
    c->ok = 1;
}

static void fiber_calls_from_test_thread(void)
{
    plain_ctx_t c;
    memset(&c, 0, sizeof c);
    plain_thread_calls(&c);
    assert_true(c.ok);
    assert_rc(c.checkpoint, WEFT_EPERM);
    assert_rc(c.sleep, WEFT_EPERM);
    assert_rc(c.sleep_until, WEFT_EPERM);
    assert_rc(c.group_open, WEFT_EPERM);
    assert_rc(c.started, WEFT_EPERM);
    assert_true(c.group_start == WEFT_EPERM || c.group_start == WEFT_EINVAL);
    assert_true(c.group_close == WEFT_EPERM || c.group_close == WEFT_EINVAL);
    assert_null(c.name);
}

static void *plain_thread(void *arg)
{
    plain_thread_calls(arg);
    return NULL;
}

static void fiber_calls_from_other_pthread(void)
{
    plain_ctx_t c;
    memset(&c, 0, sizeof c);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, plain_thread, &c), 0);
    pthread_join(t, NULL);
    assert_true(c.ok);
    assert_rc(c.checkpoint, WEFT_EPERM);
    assert_rc(c.sleep, WEFT_EPERM);
    assert_rc(c.sleep_until, WEFT_EPERM);
    assert_rc(c.group_open, WEFT_EPERM);
    assert_rc(c.started, WEFT_EPERM);
    assert_true(c.group_start == WEFT_EPERM || c.group_start == WEFT_EINVAL);
    assert_true(c.group_close == WEFT_EPERM || c.group_close == WEFT_EINVAL);
    assert_null(c.name);
}

/* A plain thread created while a runtime runs is still not a task. */
typedef struct {
    plain_ctx_t plain;
    atomic_int thread_done;
} during_ctx_t;

static void *plain_thread_during(void *arg)
{
    during_ctx_t *d = arg;
    plain_thread_calls(&d->plain);
    atomic_store(&d->thread_done, 1);
    return NULL;
}

static int plain_calls_during_run(during_ctx_t *d)
{
    pthread_t t;
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    d->plain.open_group = &g;
    if (pthread_create(&t, NULL, plain_thread_during, d) != 0) {
        wt_failf(__FILE__, __LINE__, "pthread_create failed");
        return weft_group_close(&g, 0);
    }
    EXPECT(wt_wait_flag(&d->thread_done, 1, 20.0));
    pthread_join(t, NULL);
    /* The plain thread's close did not close it. */
    EXPECT_RC(weft_group_spawn(&g, trivial, NULL), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    return 0;
}

static int fiber_calls_from_thread_while_runtime_runs(void *arg)
{
    (void)arg;
    during_ctx_t d;
    memset(&d, 0, sizeof d);
    EXPECT_RC(plain_calls_during_run(&d), 0);
    EXPECT(d.plain.ok);
    EXPECT_RC(d.plain.checkpoint, WEFT_EPERM);
    EXPECT_RC(d.plain.sleep, WEFT_EPERM);
    EXPECT_RC(d.plain.group_open, WEFT_EPERM);
    EXPECT_RC(d.plain.started, WEFT_EPERM);
    EXPECT_RC(d.plain.group_start, WEFT_EPERM);
    EXPECT_RC(d.plain.group_close, WEFT_EPERM);
    EXPECT(atomic_load(&d.plain.ran) == 0);
    EXPECT(d.plain.name == NULL);
    return 0;
}

/* weft_group_close is a checkpoint, i.e. fiber-only: from a plain thread it
 * must return WEFT_EPERM ("elsewhere it returns WEFT_EPERM, it never
 * crashes", the [fiber] rule of weft.h) and leave the group open for its host. */
static int group_close_from_plain_thread_eperm(void *arg)
{
    (void)arg;
    during_ctx_t d;
    memset(&d, 0, sizeof d);
    d.plain.close_open_group = 1;
    EXPECT_RC(plain_calls_during_run(&d), 0);
    EXPECT(d.plain.ok);
    EXPECT_RC(d.plain.group_close, WEFT_EPERM);
    return 0;
}

/* ------------------------------------------------------------ NULL arguments in tasks */

typedef struct {
    int open_null;
    int spawn_null_group, spawn_null_fn, spawn_named_null_group, spawn_named_null_fn;
    int start_null_group, start_null_fn;
    int failure_oob, failure_oob_empty;
    int close_rc;
    atomic_int ran;
} null_ctx_t;

static int null_arguments_einval(void *arg)
{
    (void)arg;
    null_ctx_t c;
    memset(&c, 0, sizeof c);
    weft_group_t g;
    void *value = NULL;
    c.open_null = weft_group_open(NULL);
    EXPECT_RC(weft_group_open(&g), 0);
    c.spawn_null_group = weft_group_spawn(NULL, trivial, &c.ran);
    c.spawn_null_fn = weft_group_spawn(&g, NULL, &c.ran);
    c.spawn_named_null_group = weft_group_spawn_named(NULL, trivial, &c.ran, "t");
    c.spawn_named_null_fn = weft_group_spawn_named(&g, NULL, &c.ran, "t");
    c.start_null_group = weft_group_start_named(NULL, trivial, &c.ran, &value, "t");
    c.start_null_fn = weft_group_start(&g, NULL, &c.ran, &value);
    c.close_rc = weft_group_close(&g, 0);
    c.failure_oob_empty = weft_group_failure(&g, 0, NULL, NULL);

    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn_named(&g, trivial, NULL, "ok"), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    int e = 1;
    const char *nm = "unchanged";
    c.failure_oob = weft_group_failure(&g, 3, &e, &nm);
    EXPECT_RC(c.open_null, WEFT_EINVAL);
    EXPECT_RC(c.spawn_null_group, WEFT_EINVAL);
    EXPECT_RC(c.spawn_null_fn, WEFT_EINVAL);
    EXPECT_RC(c.spawn_named_null_group, WEFT_EINVAL);
    EXPECT_RC(c.spawn_named_null_fn, WEFT_EINVAL);
    EXPECT_RC(c.start_null_group, WEFT_EINVAL);
    EXPECT_RC(c.start_null_fn, WEFT_EINVAL);
    EXPECT_RC(c.close_rc, 0);
    EXPECT_RC(c.failure_oob_empty, WEFT_EINVAL);
    EXPECT_RC(c.failure_oob, WEFT_EINVAL);
    /* None of the rejected spawns ran anything. */
    EXPECT(atomic_load(&c.ran) == 0);
    return 0;
}

/* ------------------------------------------------------------ closed groups */

typedef struct {
    int spawn_rc, start_rc;
    atomic_int ran;
} closed_ctx_t;

static int closed_group_ebadf(void *arg)
{
    (void)arg;
    closed_ctx_t c;
    memset(&c, 0, sizeof c);
    weft_group_t g;
    void *value = NULL;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, trivial, &c.ran), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    c.spawn_rc = weft_group_spawn(&g, trivial, &c.ran);
    c.start_rc = weft_group_start(&g, trivial, &c.ran, &value);
    EXPECT_RC(weft_sleep(0.01), 0);
    EXPECT_RC(c.spawn_rc, WEFT_EBADF);
    EXPECT_RC(c.start_rc, WEFT_EBADF);
    EXPECT(atomic_load(&c.ran) == 1);
    return 0;
}

/* A child that spawns into its group after the group closed (the child was
 * spawned elsewhere and kept a pointer) gets EBADF. */
typedef struct {
    weft_group_t *closed;
    atomic_int closed_flag;
    int late_rc;
    atomic_int ran;
} late_ctx_t;

static int late_spawner(void *arg)
{
    late_ctx_t *c = arg;
    EXPECT(wt_wait_flag(&c->closed_flag, 1, 10.0));
    c->late_rc = weft_group_spawn(c->closed, trivial, &c->ran);
    return 0;
}

static int spawn_from_other_task_after_close_ebadf(void *arg)
{
    (void)arg;
    late_ctx_t c;
    memset(&c, 0, sizeof c);
    weft_group_t outer, inner;
    c.closed = &inner;
    EXPECT_RC(weft_group_open(&outer), 0);
    EXPECT_RC(weft_group_spawn(&outer, late_spawner, &c), 0);
    EXPECT_RC(weft_group_open(&inner), 0);
    EXPECT_RC(weft_group_close(&inner, 0), 0);
    atomic_store(&c.closed_flag, 1);
    EXPECT_RC(weft_group_close(&outer, 0), 0);
    EXPECT_RC(c.late_rc, WEFT_EBADF);
    EXPECT(atomic_load(&c.ran) == 0);
    return 0;
}

/* ------------------------------------------------------------ misc */

static void failure_null_group_einval(void)
{
    int e = 0;
    const char *nm = NULL;
    assert_rc(weft_group_failure(NULL, 0, &e, &nm), WEFT_EINVAL);
}

static const wt_case_t cases[] = {
    WT_TEST(run_null_fn),
    WT_TEST(fiber_calls_from_test_thread),
    WT_TEST(fiber_calls_from_other_pthread),
    WT_CASE_ON(fiber_calls_from_thread_while_runtime_runs, WT_W2),
    WT_CASE_ON(null_arguments_einval, WT_W2),
    WT_CASE_ON(closed_group_ebadf, WT_W2),
    WT_CASE_ON(spawn_from_other_task_after_close_ebadf, WT_W2),
    WT_TEST(failure_null_group_einval),
    WT_CASE_ON(group_close_from_plain_thread_eperm, WT_W2),
};
WT_SUITE(cases)
