/* Blocking-thread hooks (config.on_thread_start / on_thread_stop): they run
 * on the blocking thread itself, start before its first call, stop when it
 * exits (idle or at the end of weft_run, which waits for them); every start
 * has its stop; an older caller's shorter config has none; a slow start
 * does not make the pool start threads in a loop. */
#define _GNU_SOURCE
#include "thread_helpers.h"

#include <stdint.h>

/* A per-thread resource, as a database connection would be. */
typedef struct {
    pthread_t owner;
    char name[16]; /* the thread's name when it opened */
} conn_t;

static __thread conn_t *tl_conn;

typedef struct {
    atomic_int starts, stops;
    atomic_int calls;        /* calls that found their thread's conn */
    double start_delay;      /* a slow start (s), for every thread but the first */
    atomic_int stop_seen_at; /* 1 + stops when weft_run had returned, per run */
} hooks_t;

static void open_conn(void *p)
{
    hooks_t *h = p;
    int n = atomic_fetch_add(&h->starts, 1);
    if (tl_conn)
        wt_failf(__FILE__, __LINE__, "on_thread_start ran twice on one thread");
    tl_conn = calloc(1, sizeof *tl_conn);
    if (!tl_conn) {
        wt_failf(__FILE__, __LINE__, "calloc failed");
        return;
    }
    tl_conn->owner = pthread_self();
    pthread_getname_np(pthread_self(), tl_conn->name, sizeof tl_conn->name);
    if (n > 0 && h->start_delay > 0)
        usleep((useconds_t)(h->start_delay * 1e6));
}

/* On the thread whose start opened the conn: tl_conn is its own. */
static void close_conn(void *p)
{
    hooks_t *h = p;
    if (!tl_conn || !pthread_equal(tl_conn->owner, pthread_self()))
        wt_failf(__FILE__, __LINE__, "on_thread_stop on a thread whose start did not run");
    free(tl_conn);
    tl_conn = NULL;
    atomic_fetch_add(&h->stops, 1);
}

static void hooks_config(weft_config_t *c, hooks_t *h, unsigned workers, double idle)
{
    weft_config_init(c);
    c->workers = workers;
    c->thread_idle_timeout = idle;
    c->on_thread_start = open_conn;
    c->on_thread_stop = close_conn;
    c->thread_hook_arg = h;
}

/* A blocking fn: its thread's start ran before it (the conn is there). */
static int use_conn(void *p)
{
    hooks_t *h = p;
    if (!tl_conn || !pthread_equal(tl_conn->owner, pthread_self()))
        wt_failf(__FILE__, __LINE__, "a call ran before its thread's on_thread_start");
    else if (strncmp(tl_conn->name, "weft-blocking-", 14) != 0)
        wt_failf(__FILE__, __LINE__, "on_thread_start ran as '%s'", tl_conn->name);
    atomic_fetch_add(&h->calls, 1);
    return 0;
}

static void use_conn_at(void *p, int i)
{
    (void)i;
    use_conn(p);
}

/* n calls at once: n threads at least. */
static void calls_together(hooks_t *h, int n)
{
    wt_meet_calls(n, use_conn_at, h);
}

/* ------------------------------------------------------------ at shutdown */

static int four_threads_main(void *p)
{
    hooks_t *h = p;
    calls_together(h, 4);
    EXPECT(atomic_load(&h->starts) >= 4);
    EXPECT(atomic_load(&h->stops) == 0); /* idle for 10 s: nobody left yet */
    return 0;
}

/* Threads still idle when main returns stop in weft_run, before it returns. */
static void hooks_pair_at_shutdown(void)
{
    hooks_t h = {0};
    weft_config_t c;
    hooks_config(&c, &h, 2, 0);
    WT_RUN_CONFIG_OK(four_threads_main, &h, &c);
    assert_true(atomic_load(&h.starts) >= 4);
    assert_int_equal(atomic_load(&h.stops), atomic_load(&h.starts));
    assert_int_equal(atomic_load(&h.calls), 4);
}

/* Straight through weft_run on this thread: no test runner in between. */
static void hooks_pair_with_weft_run(void)
{
    hooks_t h = {0};
    weft_config_t c;
    hooks_config(&c, &h, 1, 0);
    assert_rc(weft_run(four_threads_main, &h, &c), 0);
    WT_ASSERT_CLEAN();
    assert_int_equal(atomic_load(&h.stops), atomic_load(&h.starts));
}

/* ------------------------------------------------------------ on the idle timeout */

static unsigned threads_alive(void)
{
    weft_runtime_stats_t st;
    EXPECT_RC(weft_runtime_stats(&st), 0);
    return st.threads_alive;
}

/* A thread that exits idle has run its stop by the time it no longer
 * counts as alive; the next call starts a thread that opens anew. */
static int idle_exit_main(void *p)
{
    hooks_t *h = p;
    for (int round = 1; round <= 2; round++) {
        calls_together(h, 2);
        WAIT_FOR(threads_alive() == 0);
        EXPECT(atomic_load(&h->starts) >= 2 * round);
        EXPECT(atomic_load(&h->stops) == atomic_load(&h->starts));
    }
    return 0;
}

static void hooks_pair_on_idle_exit(void)
{
    hooks_t h = {0};
    weft_config_t c;
    hooks_config(&c, &h, 2, 0.02);
    WT_RUN_CONFIG_OK(idle_exit_main, &h, &c);
    assert_int_equal(atomic_load(&h.stops), atomic_load(&h.starts));
    assert_int_equal(atomic_load(&h.calls), 4);
}

/* ------------------------------------------------------------ portals */

static int use_conn_offloaded(void *p)
{
    return weft_to_thread_run_sync(use_conn, p, NULL);
}

/* A portal's runtime has the hooks of the config it was started with. */
static void portal_hooks(void)
{
    hooks_t h = {0};
    weft_config_t c;
    hooks_config(&c, &h, 1, 0);
    weft_portal_t *p;
    assert_rc(weft_portal_start(&p, &c), 0);
    assert_rc(weft_portal_call(p, use_conn_offloaded, &h), 0);
    wt_portal_stop_free(p, 0);
    WT_ASSERT_CLEAN();
    assert_int_equal(atomic_load(&h.starts), 1);
    assert_int_equal(atomic_load(&h.stops), 1);
}

/* ------------------------------------------------------------ the versioned layout */

/* An older caller's struct, which ended with `flags`. */
typedef struct {
    unsigned workers;
    size_t stack_size;
    unsigned thread_tokens;
    double thread_idle_timeout;
    size_t config_size;
    double blocking_threshold;
    unsigned flags;
} config_0_2_t;
_Static_assert(sizeof(config_0_2_t) == offsetof(weft_config_t, seed),
               "the seed and the hooks start where the older struct ended");

static int one_call(void *p)
{
    return weft_to_thread_run_sync(wt_count_fn, p, NULL);
}

/* One runtime with one blocking call under config c; the hooks' starts. */
static int starts_under(const weft_config_t *c, hooks_t *h)
{
    atomic_int ran = 0;
    int rc = weft_run(one_call, &ran, c);
    WT_ASSERT_CLEAN();
    assert_rc(rc, 0);
    assert_int_equal(atomic_load(&ran), 1);
    assert_int_equal(atomic_load(&h->stops), atomic_load(&h->starts));
    return atomic_load(&h->starts);
}

/* A caller of an older layout has no hooks: weft reads nothing past its
 * struct (allocated at its size: ASan sees a read beyond), and a size that
 * ends inside the three fields has none of them.  A config zeroed without
 * weft_config_init (config_size 0) has them: 0 is this version's layout. */
static void no_hooks_in_older_layouts(void)
{
    hooks_t h = {0};
    config_0_2_t *old = calloc(1, sizeof *old);
    assert_non_null(old);
    old->workers = 1;
    old->config_size = sizeof *old;
    assert_int_equal(starts_under((const weft_config_t *)(void *)old, &h), 0);
    free(old);

    weft_config_t c;
    hooks_config(&c, &h, 1, 0);
    c.config_size = offsetof(weft_config_t, thread_hook_arg);
    assert_int_equal(starts_under(&c, &h), 0);
    c.config_size = 0; /* zeroed without weft_config_init */
    assert_int_equal(starts_under(&c, &h), 1);
}

/* ------------------------------------------------------------ a slow start */

typedef struct {
    hooks_t *h;
    double call_seconds; /* how long each call blocks */
    int calls;
} caller_t;

static int sleep_call(void *p)
{
    caller_t *c = p;
    if (c->call_seconds > 0)
        usleep((useconds_t)(c->call_seconds * 1e6));
    return 0;
}

static int make_calls(void *p)
{
    caller_t *c = p;
    for (int i = 0; i < c->calls; i++)
        EXPECT_RC(weft_to_thread_run_sync(sleep_call, c, NULL), 0);
    return 0;
}

/* One task takes turns with short calls, the other with calls that block
 * for 3 ms: the short ones then queue behind a busy thread, the pool's
 * monitor sees the queue stand still and starts a thread, whose start
 * takes 100 ms.  The monitor must count it as on its way, not start
 * another one every period (or in a loop) until it is up. */
static int slow_start_main(void *p)
{
    hooks_t *h = p;
    caller_t quick = {.h = h, .call_seconds = 0, .calls = 300};
    caller_t slow = {.h = h, .call_seconds = 0.003, .calls = 100};
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, make_calls, &quick), 0);
    EXPECT_RC(weft_group_spawn(&g, make_calls, &slow), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    return 0;
}

static void slow_start_starts_few_threads(void)
{
    hooks_t h = {.start_delay = 0.1};
    weft_config_t c;
    hooks_config(&c, &h, 1, 0);
    WT_RUN_CONFIG_OK(slow_start_main, &h, &c);
    print_message("threads started: %d\n", atomic_load(&h.starts));
    assert_int_equal(atomic_load(&h.stops), atomic_load(&h.starts));
    assert_true(atomic_load(&h.starts) <= 4);
}

static const wt_case_t cases[] = {
    WT_TEST(hooks_pair_at_shutdown),
    WT_TEST(hooks_pair_with_weft_run),
    WT_TEST(hooks_pair_on_idle_exit),
    WT_TEST(portal_hooks),
    WT_TEST(no_hooks_in_older_layouts),
    WT_TEST(slow_start_starts_few_threads),
};

WT_SUITE(cases)
