/* Global deadlocks: weft_run returns WEFT_EDEADLK, after printing the task
 * tree, when every task is blocked and nothing can wake any of them; what
 * could still wake one (a timer, a blocking call, a token, I/O) is not a
 * deadlock.  Lock cycles are named. */
#define _GNU_SOURCE
#include "helpers.h"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

/* ------------------------------------------------------------ stderr, captured */

typedef struct {
    int saved;
    char path[64];
} capture_t;

static void capture_begin(capture_t *c)
{
    snprintf(c->path, sizeof c->path, "/tmp/weft-deadlock-%ld.txt", (long)getpid());
    fflush(stderr);
    c->saved = dup(STDERR_FILENO);
    int fd = open(c->path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    assert_true(fd >= 0);
    dup2(fd, STDERR_FILENO);
    close(fd);
}

/* What was written meanwhile (malloc'd). */
static char *capture_end(capture_t *c)
{
    fflush(stderr);
    dup2(c->saved, STDERR_FILENO);
    close(c->saved);
    FILE *f = fopen(c->path, "r");
    assert_non_null(f);
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    unlink(c->path);
    fputs(text, stderr); /* still there for whoever reads the test's output */
    return text;
}

static int run_virtual(weft_fn_t fn, void *arg, unsigned workers)
{
    weft_config_t c;
    weft_config_init(&c);
    c.workers = workers;
    c.flags = WEFT_CONFIG_VIRTUAL_CLOCK;
    return wt_run_config(fn, arg, &c);
}

/* ------------------------------------------------------------ deadlocks */

typedef struct {
    weft_event_t *never;
    atomic_int waiter_rc, main_rc;
} stuck_t;

static int wait_never(void *arg)
{
    stuck_t *s = arg;
    atomic_store(&s->waiter_rc, weft_event_wait(s->never));
    return 0;
}

static int everyone_waits(void *arg)
{
    stuck_t *s = arg;
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, wait_never, s), 0);
    int rc = weft_event_wait(s->never);
    atomic_store(&s->main_rc, rc);
    return weft_group_close(&g, rc);
}

/* The tree is printed, every task sees WEFT_ECANCELED (so it cleans up as
 * for any cancellation), and weft_run returns WEFT_EDEADLK: at once with the
 * virtual clock, after a grace period (for plain threads it cannot know of)
 * with the real one. */
static void deadlock_reported(void)
{
    for (int virt = 0; virt < 2; virt++)
        for (unsigned workers = 1; workers <= 2; workers++) {
            stuck_t s;
            memset(&s, 0, sizeof s);
            assert_rc(weft_event_new(&s.never), 0);
            capture_t cap;
            capture_begin(&cap);
            double t0 = weft_now();
            int rc = virt ? run_virtual(everyone_waits, &s, workers) : wt_run(everyone_waits, &s, workers);
            double took = weft_now() - t0;
            char *out = capture_end(&cap);
            WT_ASSERT_CLEAN();
            assert_rc(rc, WEFT_EDEADLK);
            assert_rc(atomic_load(&s.main_rc), WEFT_ECANCELED);
            assert_rc(atomic_load(&s.waiter_rc), WEFT_ECANCELED);
            assert_non_null(strstr(out, "weft: deadlock"));
            assert_non_null(strstr(out, "task 'main': waiting on event"));
            assert_non_null(strstr(out, "task 'wait_never': waiting on event"));
            assert_true(took < (virt ? WT_SLACK : 1.0 + 2 * WT_SLACK));
            weft_event_free(s.never);
        }
}

/* weft_sleep(WEFT_FOREVER) is blocked on nothing. */
static int sleep_forever(void *arg)
{
    (void)arg;
    return weft_sleep(WEFT_FOREVER);
}

static void sleep_forever_is_a_deadlock(void)
{
    capture_t cap;
    capture_begin(&cap);
    int rc = run_virtual(sleep_forever, NULL, 2);
    capture_end(&cap);
    WT_ASSERT_CLEAN();
    assert_rc(rc, WEFT_EDEADLK);
}

/* Still blocked after the cancellation (in a shield): given up for lost,
 * freed (no leak under LSan), and weft_run still returns. */
static int shielded_forever(void *arg)
{
    (void)arg;
    weft_scope_t s;
    weft_scope_enter(&s, WEFT_FOREVER, WEFT_SHIELD);
    int rc = weft_sleep(WEFT_FOREVER);
    return weft_scope_exit(&s, rc);
}

static int shielded_in_group(void *arg)
{
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, shielded_forever, arg), 0);
    EXPECT_RC(weft_group_spawn(&g, shielded_forever, arg), 0);
    return weft_group_close(&g, shielded_forever(arg));
}

static void shielded_tasks_given_up(void)
{
    capture_t cap;
    capture_begin(&cap);
    int rc = run_virtual(shielded_in_group, NULL, 2);
    char *out = capture_end(&cap);
    WT_ASSERT_CLEAN();
    assert_rc(rc, WEFT_EDEADLK);
    assert_non_null(strstr(out, "3 task(s) left blocked"));
}

/* ------------------------------------------------------------ lock cycles */

typedef struct {
    weft_lock_t *first, *second;
    atomic_int holding;
} pair_t;

static int lock_in_order(void *arg)
{
    pair_t *p = arg;
    EXPECT_RC(weft_lock_acquire(p->first), 0);
    atomic_fetch_add(&p->holding, 1);
    while (atomic_load(&p->holding) < 2)
        weft_sleep(0.001);
    int rc = weft_lock_acquire(p->second); /* the other holds it: a cycle */
    weft_lock_release(p->first);
    return rc;
}

/* Two locks and, in group g, 'alice' and 'bob' taking them in opposite
 * orders: each holds its first and waits for the other's (a cycle) by the
 * time this returns. */
typedef struct {
    weft_lock_t *l, *m;
    pair_t a, b;
    weft_group_t g;
} crossed_t;

static void crossed_start(crossed_t *x)
{
    EXPECT_RC(weft_lock_new(&x->l), 0);
    EXPECT_RC(weft_lock_new(&x->m), 0);
    x->a = (pair_t){x->l, x->m, 0};
    x->b = (pair_t){x->m, x->l, 0};
    EXPECT_RC(weft_group_open(&x->g), 0);
    EXPECT_RC(weft_group_spawn_named(&x->g, lock_in_order, &x->a, "alice"), 0);
    EXPECT_RC(weft_group_spawn_named(&x->g, lock_in_order, &x->b, "bob"), 0);
    while (atomic_load(&x->a.holding) + atomic_load(&x->b.holding) < 2)
        weft_sleep(0.001);
    atomic_store(&x->a.holding, 2);
    atomic_store(&x->b.holding, 2);
}

static void crossed_free(crossed_t *x)
{
    weft_lock_free(x->l);
    weft_lock_free(x->m);
}

static int two_locks_crossed(void *arg)
{
    (void)arg;
    crossed_t x;
    crossed_start(&x);
    int rc = weft_group_close(&x.g, 0);
    crossed_free(&x);
    return rc;
}

static void lock_cycle_named(void)
{
    capture_t cap;
    capture_begin(&cap);
    int rc = run_virtual(two_locks_crossed, NULL, 2);
    char *out = capture_end(&cap);
    WT_ASSERT_CLEAN();
    assert_rc(rc, WEFT_EDEADLK);
    assert_non_null(strstr(out, "task 'alice' waits for lock"));
    assert_non_null(strstr(out, "held by task 'bob'"));
    const char *cycle = strstr(out, "deadlock cycle: task '");
    assert_non_null(cycle);
    assert_non_null(strstr(cycle, "which waits for lock"));
    assert_true(strstr(cycle, "'alice'") && strstr(cycle, "'bob'"));
}

/* Two tasks in a cycle while the rest of the program goes on (main keeps
 * waking up): not a global deadlock, but the blocking detector names the
 * cycle; cancelling their group ends it. */
static int cycle_among_others(void *arg)
{
    (void)arg;
    crossed_t x;
    crossed_start(&x);
    for (int i = 0; i < 25; i++) /* 2.5 s of a program that still runs */
        EXPECT_RC(weft_sleep(0.1), 0);
    weft_group_cancel(&x.g);
    EXPECT_RC(weft_group_close(&x.g, 0), 0); /* their ECANCELED is absorbed */
    crossed_free(&x);
    return 0;
}

static void detector_names_a_cycle(void)
{
    weft_config_t c;
    weft_config_init(&c);
    c.workers = 2;
    c.blocking_threshold = 0.5;
    capture_t cap;
    capture_begin(&cap);
    int rc = wt_run_config(cycle_among_others, NULL, &c);
    char *out = capture_end(&cap);
    WT_ASSERT_CLEAN();
    assert_rc(rc, 0);
    const char *report = strstr(out, "weft: tasks deadlocked on each other:");
    if (!report) fail_msg("no cycle reported in:\n%s", out);
    assert_non_null(strstr(report, "deadlock cycle: task '"));
    assert_null(strstr(report + 1, "weft: tasks deadlocked on each other:")); /* once */
}

/* ------------------------------------------------------------ not deadlocks */

/* A timer, a blocking call, a token held by a thread, I/O: something can
 * still wake a task, so none of these is a deadlock, whatever their
 * duration (each lasts longer than the real clock's grace period). */
static int slow_call(void *arg)
{
    (void)arg;
    usleep(1200 * 1000);
    return 0;
}

static int waits_for_a_blocking_call(void *arg)
{
    (void)arg;
    return weft_to_thread_run_sync(slow_call, NULL, NULL);
}

static int waits_for_a_timer(void *arg)
{
    (void)arg;
    return weft_sleep(1.2);
}

typedef struct {
    weft_event_t *e;
    weft_token_t *token;
} later_t;

static void *set_after_a_while(void *arg)
{
    later_t *l = arg;
    usleep(1200 * 1000);
    weft_event_set(l->e);
    weft_token_release(l->token); /* it could call in until now */
    return NULL;
}

static int waits_for_a_token_holder(void *arg)
{
    (void)arg;
    later_t l;
    EXPECT_RC(weft_event_new(&l.e), 0);
    l.token = weft_current_token();
    pthread_t th;
    EXPECT(pthread_create(&th, NULL, set_after_a_while, &l) == 0);
    int rc = weft_event_wait(l.e);
    pthread_join(th, NULL);
    weft_event_free(l.e);
    return rc;
}

typedef struct {
    weft_listener_t *l;
} io_t;

static int accept_one(void *arg)
{
    io_t *io = arg;
    weft_stream_t *s = NULL;
    int rc = weft_listener_accept(io->l, &s);
    if (s)
        weft_stream_close(s);
    return rc == WEFT_ECANCELED ? 0 : rc;
}

static void *cancel_group_later(void *arg)
{
    usleep(1200 * 1000);
    weft_group_cancel(arg);
    return NULL;
}

static int accept_cancelled_from_a_thread(void *arg)
{
    (void)arg;
    io_t io;
    EXPECT_RC(weft_tcp_listen(&io.l, "127.0.0.1", 0, NULL), 0);
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, accept_one, &io), 0);
    pthread_t th;
    EXPECT(pthread_create(&th, NULL, cancel_group_later, &g) == 0);
    int rc = weft_group_close(&g, 0);
    pthread_join(th, NULL);
    weft_listener_close(io.l);
    return rc;
}

static const wt_case_t cases[] = {
    WT_TEST(deadlock_reported),
    WT_TEST(sleep_forever_is_a_deadlock),
    WT_TEST(shielded_tasks_given_up),
    WT_TEST(lock_cycle_named),
    WT_TEST(detector_names_a_cycle),
    WT_CASE(waits_for_a_blocking_call),
    WT_CASE(waits_for_a_timer),
    WT_CASE(waits_for_a_token_holder),
    WT_CASE(accept_cancelled_from_a_thread),
};
WT_SUITE(cases)
