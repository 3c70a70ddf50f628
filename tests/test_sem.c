/* Semaphores: counts, maximum, hand-off without barging, a release racing a
 * cancellation, try_acquire in a cancelled scope, one waiter served per
 * release, release from a thread, statistics, misuse.  The rules every waiting primitive shares (FIFO,
 * cancelled and granted waits) are test_waiting_contract.c's. */
#define _GNU_SOURCE
#include "helpers.h"

#include <limits.h>
#include <pthread.h>
#include <unistd.h>

static size_t sem_waiting(weft_sem_t *s)
{
    weft_sem_stats_t st;
    weft_sem_stats(s, &st);
    return st.tasks_waiting;
}

#define NW 6

typedef struct {
    weft_sem_t *s;
    atomic_int next;     /* waiters served */
    weft_scope_t *scope; /* a cancellable waiter's scope */
    atomic_int rc;       /* its result */
    atomic_int go;       /* it keeps its scope alive until main cancelled it */
} shared_t;

static void counts(void)
{
    weft_sem_t *s;
    weft_sem_stats_t ss;
    assert_rc(weft_sem_new(&s, 3, 0), 0);
    assert_int_equal(weft_sem_value(s), 3);
    for (int i = 0; i < 3; i++)
        assert_rc(weft_sem_try_acquire(s), 0);
    assert_rc(weft_sem_try_acquire(s), WEFT_EAGAIN);
    assert_int_equal(weft_sem_value(s), 0);
    for (int i = 0; i < 10; i++)
        assert_rc(weft_sem_release(s), 0); /* unbounded */
    weft_sem_stats(s, &ss);
    assert_int_equal(ss.value, 10);
    assert_int_equal(ss.max_value, 0);
    assert_int_equal(ss.tasks_waiting, 0);
    weft_sem_free(s);

    assert_rc(weft_sem_new(&s, 1, 2), 0);
    assert_rc(weft_sem_release(s), 0);
    assert_rc(weft_sem_release(s), WEFT_EINVAL); /* above max_value */
    assert_int_equal(weft_sem_value(s), 2);
    weft_sem_stats(s, &ss);
    assert_int_equal(ss.max_value, 2);
    weft_sem_free(s);

    assert_rc(weft_sem_new(&s, 3, 2), WEFT_EINVAL);
    assert_rc(weft_sem_new(&s, 0, 1), 0);
    assert_int_equal(weft_sem_value(s), 0);
    weft_sem_free(s);
}

/* The value is an unsigned: an unbounded semaphore stops at UINT_MAX (its
 * implicit max_value) instead of wrapping to 0, and a bounded one may go up
 * to a max_value of UINT_MAX. */
static void value_limit(void)
{
    weft_sem_t *s;
    assert_rc(weft_sem_new(&s, UINT_MAX - 1, 0), 0);
    assert_rc(weft_sem_release(s), 0);
    assert_int_equal(weft_sem_value(s), UINT_MAX);
    assert_rc(weft_sem_release(s), WEFT_EINVAL);
    assert_int_equal(weft_sem_value(s), UINT_MAX); /* no permit lost */
    assert_rc(weft_sem_try_acquire(s), 0);
    assert_int_equal(weft_sem_value(s), UINT_MAX - 1);
    assert_rc(weft_sem_release(s), 0);
    weft_sem_free(s);

    assert_rc(weft_sem_new(&s, UINT_MAX, UINT_MAX), 0);
    assert_rc(weft_sem_release(s), WEFT_EINVAL);
    assert_int_equal(weft_sem_value(s), UINT_MAX);
    weft_sem_free(s);
    assert_rc(weft_sem_new(&s, UINT_MAX, UINT_MAX - 1), WEFT_EINVAL);
}

static int waiter(void *p)
{
    shared_t *s = p;
    EXPECT_RC(weft_sem_acquire(s->s), 0);
    atomic_fetch_add(&s->next, 1);
    return 0;
}

/* A new semaphore without permits and n tasks running fn, waiting on it in
 * the order they started. */
static void start_waiters(shared_t *s, weft_group_t *g, weft_fn_t fn, int n)
{
    EXPECT_RC(weft_sem_new(&s->s, 0, 0), 0);
    EXPECT_RC(weft_group_open(g), 0);
    for (int i = 0; i < n; i++) {
        EXPECT_RC(weft_group_spawn(g, fn, s), 0);
        WAIT_FOR(sem_waiting(s->s) == (size_t)i + 1);
    }
}

static void *try_from_thread(void *p)
{
    return (void *)(intptr_t)weft_sem_try_acquire(p);
}

/* A release while tasks wait hands its permit to the first of them: the
 * value stays 0, so no newcomer (a task's or a plain thread's try_acquire)
 * can take it first; also on 4 workers. */
static int no_barging(void *p)
{
    (void)p;
    shared_t s = {0};
    weft_group_t g;
    start_waiters(&s, &g, waiter, NW);
    for (int i = 0; i < NW; i++) {
        EXPECT_RC(weft_sem_release(s.s), 0);
        EXPECT(weft_sem_value(s.s) == 0);
        EXPECT_RC(weft_sem_try_acquire(s.s), WEFT_EAGAIN);
        pthread_t th;
        void *res = NULL;
        EXPECT(pthread_create(&th, NULL, try_from_thread, s.s) == 0);
        pthread_join(th, &res);
        EXPECT_RC((int)(intptr_t)res, WEFT_EAGAIN);
        WAIT_FOR(atomic_load(&s.next) == i + 1);
    }
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT(weft_sem_value(s.s) == 0);
    weft_sem_free(s.s);
    return 0;
}

/* ------------------------------------------------------------ cancellation */

static int cancellable_waiter(void *p)
{
    shared_t *s = p;
    weft_scope_t sc;
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    s->scope = &sc;
    int rc = weft_sem_acquire(s->s);
    if (rc == 0 && weft_scope_cancel_called(&sc))
        EXPECT_RC(weft_checkpoint(), WEFT_ECANCELED);
    else if (rc != 0)
        EXPECT_RC(rc, WEFT_ECANCELED);
    atomic_store(&s->rc, rc);
    EXPECT(wt_wait_flag(&s->go, 1, 10.0));
    return weft_scope_exit(&sc, rc);
}

typedef struct {
    weft_sem_t *s;
    atomic_int start;
} racer_t;

static void *release_on_start(void *p)
{
    racer_t *r = p;
    while (!atomic_load(&r->start)) {
    }
    return (void *)(intptr_t)weft_sem_release(r->s);
}

/* A release from a plain thread at the moment the only waiter is cancelled:
 * either the waiter got the permit or the value did, never both, never
 * neither. */
static int thread_release_races_cancel(void *p)
{
    (void)p;
    for (int round = 0; round < 20; round++) {
        shared_t s = {0};
        weft_group_t g;
        start_waiters(&s, &g, cancellable_waiter, 1);
        racer_t r = {.s = s.s};
        pthread_t th;
        void *res = (void *)1;
        EXPECT(pthread_create(&th, NULL, release_on_start, &r) == 0);
        atomic_store(&r.start, 1);
        weft_scope_cancel(s.scope);
        pthread_join(th, &res);
        EXPECT(res == NULL);
        atomic_store(&s.go, 1);
        EXPECT_RC(weft_group_close(&g, 0), 0);
        int rc = atomic_load(&s.rc);
        EXPECT(rc == 0 || rc == WEFT_ECANCELED);
        EXPECT(weft_sem_value(s.s) == (rc == 0 ? 0u : 1u));
        weft_sem_free(s.s);
    }
    return 0;
}

/* try_acquire and release are no checkpoints: in a cancelled scope they
 * still take and return permits, where acquire reports the cancellation. */
static int try_acquire_in_cancelled_scope(void *p)
{
    (void)p;
    weft_sem_t *s;
    weft_scope_t sc;
    EXPECT_RC(weft_sem_new(&s, 1, 0), 0);
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    weft_scope_cancel(&sc);
    EXPECT_RC(weft_sem_acquire(s), WEFT_ECANCELED);
    EXPECT_RC(weft_sem_try_acquire(s), 0);
    EXPECT(weft_sem_value(s) == 0);
    EXPECT_RC(weft_sem_try_acquire(s), WEFT_EAGAIN);
    EXPECT_RC(weft_sem_release(s), 0);
    EXPECT(weft_sem_value(s) == 1);
    EXPECT_RC(weft_scope_exit(&sc, WEFT_ECANCELED), 0);
    weft_sem_free(s);
    return 0;
}

/* Permits count: releases in a row serve one waiter each, the next ones
 * waiting on, and only a release with nobody waiting raises the value. */
static int each_release_serves_one(void *p)
{
    (void)p;
    shared_t s = {0};
    weft_group_t g;
    start_waiters(&s, &g, waiter, 3);
    EXPECT_RC(weft_sem_release(s.s), 0);
    EXPECT_RC(weft_sem_release(s.s), 0);
    WAIT_FOR(atomic_load(&s.next) == 2);
    EXPECT(sem_waiting(s.s) == 1);
    EXPECT(weft_sem_value(s.s) == 0);
    EXPECT_RC(weft_sem_release(s.s), 0);
    EXPECT_RC(weft_sem_release(s.s), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT(atomic_load(&s.next) == 3);
    EXPECT(weft_sem_value(s.s) == 1);
    weft_sem_free(s.s);
    return 0;
}

/* ------------------------------------------------------------ from a thread */

static void *release_later(void *p)
{
    usleep(20000);
    return (void *)(intptr_t)weft_sem_release(p);
}

static int release_from_thread(void *p)
{
    (void)p;
    weft_sem_t *s;
    EXPECT_RC(weft_sem_new(&s, 0, 0), 0);
    pthread_t th;
    EXPECT(pthread_create(&th, NULL, release_later, s) == 0);
    weft_scope_t sc;
    weft_fail_after(&sc, 5.0);
    EXPECT_RC(weft_scope_exit(&sc, weft_sem_acquire(s)), 0);
    void *res = (void *)1;
    pthread_join(th, &res);
    EXPECT(res == NULL);
    EXPECT(weft_sem_value(s) == 0);
    weft_sem_free(s);
    return 0;
}

/* ------------------------------------------------------------ stats, misuse */

static int stats(void *p)
{
    (void)p;
    shared_t s = {0};
    weft_group_t g;
    weft_sem_stats_t ss;
    EXPECT_RC(weft_sem_new(&s.s, 0, 5), 0);
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, waiter, &s), 0);
    EXPECT_RC(weft_group_spawn(&g, waiter, &s), 0);
    WAIT_FOR(sem_waiting(s.s) == 2);
    weft_sem_stats(s.s, &ss);
    EXPECT(ss.value == 0 && ss.max_value == 5 && ss.tasks_waiting == 2);
    EXPECT_RC(weft_sem_release(s.s), 0);
    EXPECT_RC(weft_sem_release(s.s), 0);
    EXPECT_RC(weft_sem_release(s.s), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    weft_sem_stats(s.s, &ss);
    EXPECT(ss.value == 1 && ss.tasks_waiting == 0);
    weft_sem_free(s.s);
    return 0;
}

static int null_main(void *p)
{
    (void)p;
    EXPECT_RC(weft_sem_acquire(NULL), WEFT_EINVAL);
    return 0;
}

static void misuse(void)
{
    weft_sem_stats_t ss;
    assert_rc(weft_sem_new(NULL, 0, 0), WEFT_EINVAL);
    assert_rc(weft_sem_try_acquire(NULL), WEFT_EINVAL);
    assert_rc(weft_sem_release(NULL), WEFT_EINVAL);
    assert_int_equal(weft_sem_value(NULL), 0);
    weft_sem_free(NULL);
    weft_sem_stats(NULL, NULL);
    memset(&ss, 0xff, sizeof ss);
    weft_sem_stats(NULL, &ss);
    assert_int_equal(ss.value, 0);
    assert_int_equal(ss.tasks_waiting, 0);
    weft_sem_t *s;
    assert_rc(weft_sem_new(&s, 1, 0), 0);
    assert_rc(weft_sem_acquire(s), WEFT_EPERM); /* not a task */
    assert_int_equal(weft_sem_value(s), 1);
    weft_sem_free(s);
    WT_RUN_OK(null_main, NULL, 1);
}

static const wt_case_t cases[] = {
    WT_TEST(counts),
    WT_TEST(value_limit),
    WT_CASE_ON(no_barging, WT_W1 | WT_W2 | WT_W4),
    WT_CASE(thread_release_races_cancel),
    WT_CASE_ON(try_acquire_in_cancelled_scope, WT_W1),
    WT_CASE(each_release_serves_one),
    WT_CASE(release_from_thread),
    WT_CASE_ON(stats, WT_W2),
    WT_TEST(misuse),
};
WT_SUITE(cases)
