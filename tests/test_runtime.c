/* Runtime: weft_run, the clock, sleeping, checkpoints, task names, errors. */
#define _GNU_SOURCE
#include "helpers.h"

#include <pthread.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ weft_run */

typedef struct {
    int ret;
    atomic_int runs;
    int had_name;
} ret_ctx_t;

static int return_given(void *arg)
{
    ret_ctx_t *c = arg;
    atomic_fetch_add(&c->runs, 1);
    c->had_name = weft_current_task_name() != NULL;
    return c->ret;
}

static void run_returns_main_result(void)
{
    static const int values[] = {0, -77, WEFT_EINVAL, WEFT_EGROUP, -12345};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        ret_ctx_t c = {.ret = values[i]};
        assert_rc(wt_run(return_given, &c, 2), values[i]);
        assert_int_equal(atomic_load(&c.runs), 1);
        assert_true(c.had_name);
    }
    WT_ASSERT_CLEAN();
}

/* weft_run itself is under test here (a NULL config), so it is called
 * directly. */
static void run_null_config_defaults(void)
{
    ret_ctx_t c = {.ret = -42};
    assert_rc(weft_run(return_given, &c, NULL), -42);
    assert_int_equal(atomic_load(&c.runs), 1);
    c.ret = 0;
    assert_rc(weft_run(return_given, &c, NULL), 0);
    assert_int_equal(atomic_load(&c.runs), 2);
}

typedef struct {
    atomic_int count;
    int n;
} count_ctx_t;

static int bump_with_checkpoints(void *arg)
{
    count_ctx_t *c = arg;
    for (int i = 0; i < 3; i++)
        EXPECT_RC(weft_checkpoint(), 0);
    atomic_fetch_add(&c->count, 1);
    return 0;
}

static int spawn_n_main(void *arg)
{
    count_ctx_t *c = arg;
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < c->n; i++)
        EXPECT_RC(weft_group_spawn(&g, bump_with_checkpoints, c), 0);
    return weft_group_close(&g, 0);
}

/* A plain test: 0 workers (as many as CPUs) is no worker count of a case. */
static void run_worker_counts(void)
{
    static const unsigned workers[] = {1, 2, 4, 0, 16};
    for (size_t i = 0; i < sizeof workers / sizeof workers[0]; i++) {
        count_ctx_t c = {.n = 64};
        WT_RUN_OK(spawn_n_main, &c, workers[i]);
        assert_int_equal(atomic_load(&c.count), 64);
    }
}

static void run_many_runtimes_in_sequence(void)
{
    for (int i = 0; i < 20; i++) {
        count_ctx_t c = {.n = 8};
        WT_RUN_OK(spawn_n_main, &c, (unsigned)(1 + i % 4));
        assert_int_equal(atomic_load(&c.count), 8);
    }
}

static int never_runs(void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
    return 0;
}

typedef struct {
    atomic_int inner_ran;
    int rc_null_cfg;
    int rc_cfg;
} nested_ctx_t;

static int nested_run_main(void *arg)
{
    nested_ctx_t *c = arg;
    weft_config_t cfg = {.workers = 1};
    c->rc_null_cfg = weft_run(never_runs, &c->inner_ran, NULL);
    c->rc_cfg = weft_run(never_runs, &c->inner_ran, &cfg);
    return 0;
}

static int nested_run_in_child(void *arg)
{
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, nested_run_main, arg), 0);
    return weft_group_close(&g, 0);
}

static void expect_nested_refused(const nested_ctx_t *c)
{
    EXPECT_RC(c->rc_null_cfg, WEFT_EPERM);
    EXPECT_RC(c->rc_cfg, WEFT_EPERM);
    EXPECT(atomic_load(&c->inner_ran) == 0);
}

/* From the root task, then from a child. */
static int run_inside_task_is_eperm(void *arg)
{
    (void)arg;
    nested_ctx_t c = {0};
    EXPECT_RC(nested_run_main(&c), 0);
    expect_nested_refused(&c);

    nested_ctx_t d = {0};
    EXPECT_RC(nested_run_in_child(&d), 0);
    expect_nested_refused(&d);
    return 0;
}

/* Two runtimes at once, each from its own thread: each root task waits until
 * it has seen the other one running, which only works if they overlap. */
typedef struct {
    atomic_int here[2];
} pair_ctx_t;

typedef struct {
    pair_ctx_t *pair;
    int me;
    int saw_other;
    int rc;
    count_ctx_t count;
} side_ctx_t;

static int side_main(void *arg)
{
    side_ctx_t *s = arg;
    atomic_store(&s->pair->here[s->me], 1);
    s->saw_other = wt_wait_flag(&s->pair->here[1 - s->me], 1, 20.0);
    /* Do some real work in both runtimes while they overlap. */
    s->count.n = WT_TSAN_PICK(200, 50);
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < s->count.n; i++)
        EXPECT_RC(weft_group_spawn(&g, bump_with_checkpoints, &s->count), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    /* Keep running until the other side has also got this far. */
    atomic_store(&s->pair->here[s->me], 2);
    wt_wait_flag(&s->pair->here[1 - s->me], 2, 20.0);
    return 0;
}

static void *side_thread(void *arg)
{
    side_ctx_t *s = arg;
    s->rc = wt_run(side_main, s, 2);
    return NULL;
}

static void two_runtimes_in_two_threads(void)
{
    pair_ctx_t pair = {0};
    side_ctx_t a = {.pair = &pair, .me = 0}, b = {.pair = &pair, .me = 1};
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, side_thread, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, side_thread, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    WT_ASSERT_CLEAN();
    assert_rc(a.rc, 0);
    assert_rc(b.rc, 0);
    assert_true(a.saw_other);
    assert_true(b.saw_other);
    assert_int_equal(atomic_load(&a.count.count), a.count.n);
    assert_int_equal(atomic_load(&b.count.count), b.count.n);
}

/* ------------------------------------------------------------ clock */

static void now_monotonic_outside_runtime(void)
{
    double prev = weft_now();
    assert_true(isfinite(prev));
    for (int i = 0; i < 100000; i++) {
        double t = weft_now();
        assert_true(t >= prev);
        prev = t;
    }
    double t0 = weft_now();
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    double dt = weft_now() - t0;
    assert_true(dt >= 0.019);
    assert_true(dt < 0.02 + 5.0);
}

static int now_monotonic_in_tasks(void *arg)
{
    (void)arg;
    double prev = weft_now();
    for (int i = 0; i < 10000; i++) {
        double t = weft_now();
        EXPECT(t >= prev);
        prev = t;
        if (i % 100 == 0)
            EXPECT_RC(weft_checkpoint(), 0);
    }
    return 0;
}

/* ------------------------------------------------------------ sleeping */

static int sleep_at_least_delay(void *arg)
{
    (void)arg;
    static const double delays[] = {0.001, 0.01, 0.05, 0.1};
    for (size_t i = 0; i < sizeof delays / sizeof delays[0]; i++) {
        double d = delays[i];
        double t0 = weft_now();
        EXPECT_RC(weft_sleep(d), 0);
        double dt = weft_now() - t0;
        if (!(dt >= d))
            wt_failf(__FILE__, __LINE__, "weft_sleep(%g) returned after %.6f s", d, dt);
        if (!(dt < d + WT_SLACK))
            wt_failf(__FILE__, __LINE__, "weft_sleep(%g) took %.6f s", d, dt);
    }
    return 0;
}

static int sleep_until_reaches_deadline(void *arg)
{
    (void)arg;
    for (int i = 0; i < 5; i++) {
        double deadline = weft_now() + 0.01 * (i + 1);
        EXPECT_RC(weft_sleep_until(deadline), 0);
        double t = weft_now();
        if (!(t >= deadline))
            wt_failf(__FILE__, __LINE__, "sleep_until woke %.6f s early", deadline - t);
        EXPECT(t < deadline + WT_SLACK);
    }
    return 0;
}

static int sleep_until_past_returns_at_once(void *arg)
{
    (void)arg;
    double t0 = weft_now();
    EXPECT_RC(weft_sleep_until(t0 - 10.0), 0);
    EXPECT_RC(weft_sleep_until(t0), 0);
    EXPECT_RC(weft_sleep_until(-INFINITY), 0);
    EXPECT_RC(weft_sleep(0), 0);
    EXPECT(weft_now() - t0 < WT_SLACK);
    return 0;
}

/* Many sleepers at once all wake, in about the time of one sleep, far less
 * than the N x delay that sleeping one after another would take.  (Under TSan
 * spawning alone costs milliseconds per task, hence other numbers there.) */
#define NSLEEPERS WT_TSAN_PICK(200, 100)
#define SLEEPER_DELAY WT_TSAN_PICK(0.05, 0.2)

typedef struct {
    atomic_int woke;
} sleepers_ctx_t;

static int sleep_a_while(void *arg)
{
    sleepers_ctx_t *c = arg;
    EXPECT_RC(weft_sleep(SLEEPER_DELAY), 0);
    atomic_fetch_add(&c->woke, 1);
    return 0;
}

static int sleepers_sleep_concurrently(void *arg)
{
    (void)arg;
    sleepers_ctx_t c = {0};
    weft_group_t g;
    double t0 = weft_now();
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < NSLEEPERS; i++)
        EXPECT_RC(weft_group_spawn(&g, sleep_a_while, &c), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    double dt = weft_now() - t0;
    EXPECT(dt >= SLEEPER_DELAY);
    double bound = WT_TSAN_PICK(SLEEPER_DELAY + 2 * WT_SLACK, NSLEEPERS * SLEEPER_DELAY / 4);
    if (!(dt < bound))
        wt_failf(__FILE__, __LINE__, "%d sleepers of %g s took %.3f s", NSLEEPERS,
                 SLEEPER_DELAY, dt);
    EXPECT(atomic_load(&c.woke) == NSLEEPERS);
    return 0;
}

/* A sleep ends on time even when the worker that armed its timer is kept
 * busy by a task computing without checkpoints, while other workers idle. */
typedef struct {
    weft_group_t *g;
    double slept;
    int rc;
} hog_ctx_t;

static int cpu_hog(void *arg)
{
    (void)arg;
    double end = weft_now() + 2.5;
    while (weft_now() < end) {
    }
    return 0;
}

static int sleeper_with_hog(void *arg)
{
    hog_ctx_t *c = arg;
    double t0 = weft_now();
    /* Spawned from here, the hog most likely lands on this worker. */
    EXPECT_RC(weft_group_spawn(c->g, cpu_hog, NULL), 0);
    c->rc = weft_sleep(0.05);
    c->slept = weft_now() - t0;
    return 0;
}

static int sleep_wakes_while_worker_busy(void *arg)
{
    (void)arg;
    hog_ctx_t c;
    memset(&c, 0, sizeof c);
    weft_group_t g;
    c.g = &g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, sleeper_with_hog, &c), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(c.rc, 0);
    if (!(c.slept >= 0.05 && c.slept < 1.0))
        wt_failf(__FILE__, __LINE__, "weft_sleep(0.05) took %.3f s (the hog ran 2.5 s)",
                 c.slept);
    return 0;
}

/* ------------------------------------------------------------ checkpoints */

#define INTERLEAVE_N 50

typedef struct {
    atomic_int pos;
    char log[2 * INTERLEAVE_N];
} interleave_ctx_t;

static void interleave_body(interleave_ctx_t *c, char me)
{
    for (int i = 0; i < INTERLEAVE_N; i++) {
        int p = atomic_fetch_add(&c->pos, 1);
        c->log[p] = me;
        EXPECT_RC(weft_checkpoint(), 0);
    }
}

static int interleave_a(void *arg)
{
    interleave_body(arg, 'A');
    return 0;
}

static int interleave_b(void *arg)
{
    interleave_body(arg, 'B');
    return 0;
}

static int checkpoint_lets_others_run(void *arg)
{
    (void)arg;
    interleave_ctx_t c;
    memset(&c, 0, sizeof c);
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, interleave_a, &c), 0);
    EXPECT_RC(weft_group_spawn(&g, interleave_b, &c), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT(atomic_load(&c.pos) == 2 * INTERLEAVE_N);
    int switches = 0, a = 0, b = 0;
    for (int i = 0; i < 2 * INTERLEAVE_N; i++) {
        a += c.log[i] == 'A';
        b += c.log[i] == 'B';
        if (i > 0 && c.log[i] != c.log[i - 1])
            switches++;
    }
    EXPECT(a == INTERLEAVE_N);
    EXPECT(b == INTERLEAVE_N);
    /* One worker: the only way B runs before A is done is A's checkpoint. */
    if (switches < INTERLEAVE_N / 2)
        wt_failf(__FILE__, __LINE__, "only %d switches: %.*s", switches, 2 * INTERLEAVE_N,
                 c.log);
    return 0;
}

static int checkpoint_returns_zero_when_not_cancelled(void *arg)
{
    (void)arg;
    for (int i = 0; i < 1000; i++)
        EXPECT_RC(weft_checkpoint(), 0);
    return 0;
}

/* ------------------------------------------------------------ task names */

typedef struct {
    char root[64];
    char child[64];
    char named[64];
    int root_null, child_null, named_null;
} names_ctx_t;

static void copy_name(char *dst, int *was_null)
{
    const char *n = weft_current_task_name();
    *was_null = n == NULL;
    snprintf(dst, 64, "%s", n ? n : "");
}

static int name_probe(void *arg)
{
    names_ctx_t *c = arg;
    copy_name(c->child, &c->child_null);
    return 0;
}

static int name_probe_named(void *arg)
{
    names_ctx_t *c = arg;
    copy_name(c->named, &c->named_null);
    return 0;
}

static int names_main(void *arg)
{
    names_ctx_t *c = arg;
    copy_name(c->root, &c->root_null);
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, name_probe, c), 0);
    EXPECT_RC(weft_group_spawn_named(&g, name_probe_named, c, "my-custom-name"), 0);
    return weft_group_close(&g, 0);
}

/* What weft_run leaves on its caller's thread is under test too (no task
 * name once it returned), so weft_run is called directly, not through the
 * runner (which runs it on a thread of its own). */
static void current_task_name(void)
{
    assert_null(weft_current_task_name());
    names_ctx_t c;
    memset(&c, 0, sizeof c);
    weft_config_t cfg = {.workers = 2};
    int rc = weft_run(names_main, &c, &cfg);
    WT_ASSERT_CLEAN();
    assert_rc(rc, 0);
    assert_false(c.root_null);
    assert_true(strlen(c.root) > 0);
    assert_false(c.child_null);
    assert_string_equal(c.child, "name_probe");
    assert_false(c.named_null);
    assert_string_equal(c.named, "my-custom-name");
    /* Still NULL outside once the runtime is gone. */
    assert_null(weft_current_task_name());
}

/* ------------------------------------------------------------ stack size */

#define BIG_FRAME (512 * 1024)

static int use_big_stack(void *arg)
{
    (void)arg;
    volatile char buf[BIG_FRAME];
    for (size_t i = 0; i < sizeof buf; i += 512)
        buf[i] = (char)i;
    buf[sizeof buf - 1] = 1;
    EXPECT_RC(weft_checkpoint(), 0);
    unsigned sum = 0;
    for (size_t i = 0; i < sizeof buf; i += 4096)
        sum += (unsigned char)buf[i];
    (void)sum;
    return 0;
}

static int big_stack_main(void *arg)
{
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < 4; i++)
        EXPECT_RC(weft_group_spawn(&g, use_big_stack, arg), 0);
    return weft_group_close(&g, 0);
}

/* A plain test: a case cannot choose the stack size. */
static void config_stack_size_is_honoured(void)
{
    weft_config_t cfg = {.workers = 2, .stack_size = 2 * 1024 * 1024};
    WT_RUN_CONFIG_OK(big_stack_main, NULL, &cfg);
}

/* ------------------------------------------------------------ errors */

/* A config weft cannot honour is refused at once, before any thread or
 * memory is set up (an absurd worker count used to fail with WEFT_ENOMEM
 * after almost a second, an unknown flag was ignored).  weft_run itself is
 * under test, so it is called directly. */
static void run_refuses_bad_config(void)
{
    long page = sysconf(_SC_PAGESIZE);
    weft_config_t bad[] = {
        {.workers = (unsigned)-1},
        {.workers = 4097},
        {.stack_size = 1},
        {.stack_size = (size_t)page - 1},
        {.flags = 1u << 30},
        {.flags = WEFT_CONFIG_VIRTUAL_CLOCK | 8u},
        {.thread_idle_timeout = NAN},
        {.blocking_threshold = NAN},
    };
    atomic_int ran = 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double t0 = weft_now();
        assert_rc(weft_run(never_runs, &ran, &bad[i]), WEFT_EINVAL);
        assert_true(weft_now() - t0 < 0.5);
        weft_portal_t *p = NULL;
        assert_rc(weft_portal_start(&p, &bad[i]), WEFT_EINVAL);
        assert_null(p);
    }
    assert_int_equal(atomic_load(&ran), 0);
    /* The edges that are allowed. */
    weft_config_t ok = {.workers = 1, .stack_size = (size_t)page,
                        .flags = WEFT_CONFIG_VIRTUAL_CLOCK};
    assert_rc(weft_run(never_runs, &ran, &ok), 0);
    assert_int_equal(atomic_load(&ran), 1);
}

/* The config's layout is versioned: a caller whose header had a shorter
 * struct says so in config_size, and weft_run reads nothing past it (the
 * struct is allocated at that size, so ASan sees any read beyond).  weft_run
 * itself is under test, so it is called directly. */
static int report_workers(void *arg)
{
    weft_runtime_stats_t st;
    EXPECT_RC(weft_runtime_stats(&st), 0);
    *(unsigned *)arg = st.workers;
    return 0;
}

static void config_versioned_layout(void)
{
    weft_config_t c;
    memset(&c, 0xff, sizeof c);
    weft_config_init(&c);
    assert_int_equal(c.config_size, sizeof c);
    assert_int_equal(c.workers, 0);
    assert_int_equal(c.flags, 0);
    unsigned seen = 0;
    c.workers = 3;
    assert_rc(weft_run(report_workers, &seen, &c), 0);
    assert_int_equal(seen, 3);

    /* An older caller, whose struct ended right after config_size. */
    typedef struct {
        unsigned workers;
        size_t stack_size;
        unsigned thread_tokens;
        double thread_idle_timeout;
        size_t config_size;
    } old_config_t;
    _Static_assert(offsetof(old_config_t, config_size) == offsetof(weft_config_t, config_size),
                   "the fixed prefix");
    old_config_t *old = calloc(1, sizeof *old);
    assert_non_null(old);
    old->workers = 2;
    old->config_size = sizeof *old;
    const weft_config_t *as_new = (const weft_config_t *)(void *)old;
    assert_rc(weft_run(report_workers, &seen, as_new), 0);
    assert_int_equal(seen, 2);
    weft_portal_t *p;
    assert_rc(weft_portal_start(&p, as_new), 0);
    assert_rc(weft_portal_call(p, report_workers, &seen), 0);
    assert_int_equal(seen, 2);
    assert_rc(weft_portal_stop(p, 0), 0);
    weft_portal_free(p);
    free(old);

    /* A newer caller's fields this library does not know, or a size that
     * is no size, cannot be honoured. */
    c.config_size = sizeof c + 8;
    assert_rc(weft_run(report_workers, &seen, &c), WEFT_EINVAL);
    c.config_size = 1;
    assert_rc(weft_run(report_workers, &seen, &c), WEFT_EINVAL);
    /* Zeroed without init: this version's layout. */
    memset(&c, 0, sizeof c);
    c.workers = 1;
    assert_rc(weft_run(report_workers, &seen, &c), 0);
    assert_int_equal(seen, 1);
}

static void version_at_run_time(void)
{
    assert_int_equal(weft_version(), WEFT_VERSION_HEX);
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", WEFT_VERSION_MAJOR, WEFT_VERSION_MINOR,
             WEFT_VERSION_PATCH);
    assert_string_equal(weft_version_string(), want);
}

/* Per-worker statistics for any number of workers (a fixed array of 64 in
 * the runtime's statistics used to drop the rest). */
typedef struct {
    unsigned workers;
    unsigned long long spawned_sum, total_spawned;
    int past_last_rc, null_rc;
} worker_stats_t;

static int busy_child(void *arg)
{
    (void)arg;
    return weft_checkpoint();
}

static int worker_stats_main(void *arg)
{
    worker_stats_t *w = arg;
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < 500; i++)
        EXPECT_RC(weft_group_spawn(&g, busy_child, NULL), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    weft_runtime_stats_t st;
    EXPECT_RC(weft_runtime_stats(&st), 0);
    w->workers = st.workers;
    w->total_spawned = st.tasks_spawned;
    for (unsigned i = 0; i < st.workers; i++) {
        weft_worker_stats_t ws;
        EXPECT_RC(weft_worker_stats(i, &ws), 0);
        w->spawned_sum += ws.tasks_spawned;
        EXPECT(ws.tasks_exited <= ws.tasks_run);
    }
    weft_worker_stats_t ws;
    w->past_last_rc = weft_worker_stats(st.workers, &ws);
    w->null_rc = weft_worker_stats(0, NULL);
    return 0;
}

/* A plain test: 70 workers is no worker count of a case. */
static void worker_stats_for_every_worker(void)
{
    worker_stats_t w;
    memset(&w, 0, sizeof w);
    WT_RUN_OK(worker_stats_main, &w, 70);
    assert_int_equal(w.workers, 70);
    /* Every spawn but main's own (made outside the workers) is a worker's. */
    assert_true(w.spawned_sum + 1 == w.total_spawned);
    assert_rc(w.past_last_rc, WEFT_EINVAL);
    assert_rc(w.null_rc, WEFT_EINVAL);
    weft_worker_stats_t ws;
    assert_rc(weft_worker_stats(0, &ws), WEFT_EPERM); /* not in a runtime */
}

/* weft's own codes lie outside libuv's: an unknown libuv error passed
 * through by the I/O functions (UV__UNKNOWN, -4094) must not read as
 * "several tasks failed". */
static void error_codes_outside_libuv(void)
{
    assert_int_equal(WEFT_EGROUP, -4194);
    assert_int_equal(WEFT_ENOTSTARTED, -4193);
    assert_int_equal(WEFT_EOF, -4095);
    assert_string_equal(weft_err_name(WEFT_EGROUP), "WEFT_EGROUP");
    assert_string_equal(weft_err_name(WEFT_ENOTSTARTED), "WEFT_ENOTSTARTED");
    assert_string_not_equal(weft_err_name(-4094), "WEFT_EGROUP");
    assert_string_not_equal(weft_err_name(-4093), "WEFT_ENOTSTARTED");
}

static void check_name_contains(int err, const char *needle)
{
    const char *n = weft_err_name(err);
    assert_non_null(n);
    if (strstr(n, needle) == NULL) {
        print_error("weft_err_name(%d) = \"%s\", expected to contain \"%s\"\n", err, n,
                    needle);
        fail();
    }
}

static void error_strings(void)
{
    static const int codes[] = {
        WEFT_ECANCELED, WEFT_ETIMEDOUT, WEFT_EINVAL, WEFT_ENOMEM,   WEFT_EPERM,
        WEFT_EAGAIN,    WEFT_EPIPE,     WEFT_EBADF,  WEFT_EOF,      WEFT_EGROUP,
        WEFT_ENOTSTARTED, -ENOENT, 0, 12345, -12345, -4000, -4096, -4092, INT32_MIN,
        1,
    };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *s = weft_strerror(codes[i]);
        const char *n = weft_err_name(codes[i]);
        assert_non_null(s);
        assert_non_null(n);
        assert_true(strlen(s) > 0);
        assert_true(strlen(n) > 0);
    }
    check_name_contains(WEFT_ECANCELED, "ECANCELED");
    check_name_contains(WEFT_ETIMEDOUT, "ETIMEDOUT");
    check_name_contains(WEFT_EINVAL, "EINVAL");
    check_name_contains(WEFT_ENOMEM, "ENOMEM");
    check_name_contains(WEFT_EPERM, "EPERM");
    check_name_contains(WEFT_EAGAIN, "EAGAIN");
    check_name_contains(WEFT_EPIPE, "EPIPE");
    check_name_contains(WEFT_EBADF, "EBADF");
    check_name_contains(WEFT_EOF, "EOF");
    check_name_contains(WEFT_EGROUP, "EGROUP");
    check_name_contains(WEFT_ENOTSTARTED, "ENOTSTARTED");
    check_name_contains(-ENOENT, "ENOENT");
    assert_string_equal(weft_err_name(WEFT_ECANCELED), "WEFT_ECANCELED");
    assert_string_equal(weft_err_name(-ENOENT), "ENOENT");

    /* The weft-specific codes have texts of their own. */
    const char *t_eof = weft_strerror(WEFT_EOF);
    const char *t_group = weft_strerror(WEFT_EGROUP);
    const char *t_ns = weft_strerror(WEFT_ENOTSTARTED);
    const char *t_unknown = weft_strerror(12345);
    assert_string_not_equal(t_eof, t_group);
    assert_string_not_equal(t_eof, t_ns);
    assert_string_not_equal(t_group, t_ns);
    assert_string_not_equal(t_eof, t_unknown);
    assert_string_not_equal(t_group, t_unknown);
    assert_string_not_equal(t_ns, t_unknown);
    assert_string_not_equal(weft_strerror(WEFT_ECANCELED), weft_strerror(WEFT_ETIMEDOUT));
    /* Unknown codes get a name that is none of the known ones. */
    const char *u = weft_err_name(12345);
    static const int known[] = {WEFT_ECANCELED, WEFT_EOF, WEFT_EGROUP, WEFT_ENOTSTARTED,
                                WEFT_EINVAL};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        assert_string_not_equal(u, weft_err_name(known[i]));
}

static const wt_case_t cases[] = {
    WT_TEST(run_returns_main_result),
    WT_TEST(run_null_config_defaults),
    WT_TEST(run_worker_counts),
    WT_TEST(run_many_runtimes_in_sequence),
    WT_CASE_ON(run_inside_task_is_eperm, WT_W2),
    WT_TEST(two_runtimes_in_two_threads),
    WT_TEST(now_monotonic_outside_runtime),
    WT_CASE_ON(now_monotonic_in_tasks, WT_W2),
    WT_CASE(sleep_at_least_delay),
    WT_CASE_ON(sleep_until_reaches_deadline, WT_W2),
    WT_CASE_ON(sleep_until_past_returns_at_once, WT_W2),
    WT_CASE_ON(sleepers_sleep_concurrently, WT_W2),
    WT_CASE_ON(sleep_wakes_while_worker_busy, WT_W2),
    WT_CASE_ON(checkpoint_lets_others_run, WT_W1),
    WT_CASE_ON(checkpoint_returns_zero_when_not_cancelled, WT_W1 | WT_W4),
    WT_TEST(current_task_name),
    WT_TEST(config_stack_size_is_honoured),
    WT_TEST(error_strings),
    WT_TEST(run_refuses_bad_config),
    WT_TEST(error_codes_outside_libuv),
    WT_TEST(config_versioned_layout),
    WT_TEST(version_at_run_time),
    WT_TEST(worker_stats_for_every_worker),
};
WT_SUITE(cases)
