/* Semaphores: counts, maximum, FIFO, cancellation, release from a thread,
 * statistics, misuse. */
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
    atomic_int order[NW];
    atomic_int next;
    weft_scope_t *scope[NW];
    atomic_int rc[NW];
    atomic_int done;
    atomic_int go; /* waiters keep their scope alive until main cancelled it */
} shared_t;

typedef struct {
    shared_t *s;
    int i;
} arg_t;

static void test_counts(void **st)
{
    (void)st;
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
static void test_value_limit(void **st)
{
    (void)st;
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

static int fifo_waiter(void *p)
{
    arg_t *a = p;
    EXPECT_RC(weft_sem_acquire(a->s->s), 0);
    a->s->order[atomic_fetch_add(&a->s->next, 1)] = a->i;
    return 0;
}

static int fifo_main(void *p)
{
    (void)p;
    shared_t s = {0};
    arg_t args[NW];
    weft_group_t g;
    EXPECT_RC(weft_sem_new(&s.s, 0, 0), 0);
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < NW; i++) {
        args[i] = (arg_t){&s, i};
        EXPECT_RC(weft_group_spawn(&g, fifo_waiter, &args[i]), 0);
        WAIT_FOR(sem_waiting(s.s) == (size_t)i + 1);
    }
    /* Release one at a time: each permit goes to the longest waiter, and the
     * value stays 0 (no newcomer could overtake). */
    for (int i = 0; i < NW; i++) {
        EXPECT_RC(weft_sem_release(s.s), 0);
        EXPECT(weft_sem_value(s.s) == 0);
        WAIT_FOR(atomic_load(&s.next) == i + 1);
    }
    EXPECT_RC(weft_group_close(&g, 0), 0);
    for (int i = 0; i < NW; i++)
        EXPECT(s.order[i] == i);
    EXPECT(weft_sem_value(s.s) == 0);
    weft_sem_free(s.s);
    return 0;
}

static void test_fifo_order(void **st)
{
    (void)st;
    WT_RUN_OK(fifo_main, NULL, 1);
    WT_RUN_OK(fifo_main, NULL, 2);
    WT_RUN_OK(fifo_main, NULL, 4);
}

/* ------------------------------------------------------------ cancellation */

static int cancellable_waiter(void *p)
{
    arg_t *a = p;
    weft_scope_t sc;
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    a->s->scope[a->i] = &sc;
    int rc = weft_sem_acquire(a->s->s);
    a->s->rc[a->i] = rc;
    if (rc == 0) {
        a->s->order[atomic_fetch_add(&a->s->next, 1)] = a->i;
        if (weft_scope_cancel_called(&sc))
            EXPECT_RC(weft_checkpoint(), WEFT_ECANCELED);
    } else {
        EXPECT_RC(rc, WEFT_ECANCELED);
    }
    atomic_fetch_add(&a->s->done, 1);
    EXPECT(wt_wait_flag(&a->s->go, 1, 10.0));
    return weft_scope_exit(&sc, rc);
}

static int cancel_main(void *p)
{
    (void)p;
    shared_t s = {0};
    arg_t args[3];
    weft_group_t g;
    EXPECT_RC(weft_sem_new(&s.s, 0, 0), 0);
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < 3; i++) {
        args[i] = (arg_t){&s, i};
        EXPECT_RC(weft_group_spawn(&g, cancellable_waiter, &args[i]), 0);
        WAIT_FOR(sem_waiting(s.s) == (size_t)i + 1);
    }
    weft_scope_cancel(s.scope[0]);
    WAIT_FOR(atomic_load(&s.done) == 1);
    EXPECT(sem_waiting(s.s) == 2);
    EXPECT(weft_sem_value(s.s) == 0);
    EXPECT_RC(weft_sem_release(s.s), 0);
    WAIT_FOR(atomic_load(&s.next) == 1);
    EXPECT_RC(weft_sem_release(s.s), 0);
    atomic_store(&s.go, 1);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(s.rc[0], WEFT_ECANCELED);
    EXPECT_RC(s.rc[1], 0);
    EXPECT_RC(s.rc[2], 0);
    EXPECT(s.order[0] == 1 && s.order[1] == 2);
    EXPECT(weft_sem_value(s.s) == 0); /* nothing lost, nothing duplicated */

    /* A cancelled waiter with a permit released at the same time as the
     * cancellation: either it got it (rc 0) or the permit is still there. */
    s.next = 0;
    s.done = 0;
    args[0] = (arg_t){&s, 0};
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, cancellable_waiter, &args[0]), 0);
    WAIT_FOR(sem_waiting(s.s) == 1);
    weft_scope_cancel(s.scope[0]);
    EXPECT_RC(weft_sem_release(s.s), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT(s.rc[0] == WEFT_ECANCELED);
    EXPECT(weft_sem_value(s.s) == 1);
    weft_sem_free(s.s);
    return 0;
}

static void test_cancelled_waiter_takes_nothing(void **st)
{
    (void)st;
    WT_RUN_OK(cancel_main, NULL, 1);
    WT_RUN_OK(cancel_main, NULL, 2);
}

static int granted_then_cancelled_main(void *p)
{
    (void)p;
    shared_t s = {0};
    arg_t a = {&s, 0};
    weft_group_t g;
    EXPECT_RC(weft_sem_new(&s.s, 0, 1), 0);
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, cancellable_waiter, &a), 0);
    WAIT_FOR(sem_waiting(s.s) == 1);
    EXPECT_RC(weft_sem_release(s.s), 0);
    weft_scope_cancel(s.scope[0]);
    atomic_store(&s.go, 1);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(s.rc[0], 0);
    EXPECT(weft_sem_value(s.s) == 0);
    weft_sem_free(s.s);
    return 0;
}

static void test_granted_wins_over_cancel(void **st)
{
    (void)st;
    for (int i = 0; i < 20; i++) {
        WT_RUN_OK(granted_then_cancelled_main, NULL, 1);
        WT_RUN_OK(granted_then_cancelled_main, NULL, 2);
    }
}

static int cancelled_scope_main(void *p)
{
    (void)p;
    weft_sem_t *s;
    weft_scope_t sc;
    EXPECT_RC(weft_sem_new(&s, 2, 0), 0);
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    weft_scope_cancel(&sc);
    EXPECT_RC(weft_sem_acquire(s), WEFT_ECANCELED);
    EXPECT_RC(weft_sem_acquire(s), WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&sc, WEFT_ECANCELED), 0);
    EXPECT(weft_sem_value(s) == 2);
    weft_sem_free(s);
    return 0;
}

static void test_acquire_in_cancelled_scope(void **st)
{
    (void)st;
    WT_RUN_OK(cancelled_scope_main, NULL, 1);
}

/* ------------------------------------------------------------ from a thread */

static void *release_later(void *p)
{
    usleep(20000);
    return (void *)(intptr_t)weft_sem_release(p);
}

static int thread_release_main(void *p)
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

static void test_release_from_thread(void **st)
{
    (void)st;
    WT_RUN_OK(thread_release_main, NULL, 1);
    WT_RUN_OK(thread_release_main, NULL, 2);
}

/* ------------------------------------------------------------ stats, misuse */

static int stats_main(void *p)
{
    (void)p;
    shared_t s = {0};
    arg_t args[2] = {{&s, 0}, {&s, 1}};
    weft_group_t g;
    weft_sem_stats_t ss;
    EXPECT_RC(weft_sem_new(&s.s, 0, 5), 0);
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, fifo_waiter, &args[0]), 0);
    EXPECT_RC(weft_group_spawn(&g, fifo_waiter, &args[1]), 0);
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

static void test_stats(void **st)
{
    (void)st;
    WT_RUN_OK(stats_main, NULL, 2);
}

static int null_main(void *p)
{
    (void)p;
    EXPECT_RC(weft_sem_acquire(NULL), WEFT_EINVAL);
    return 0;
}

static void test_misuse(void **st)
{
    (void)st;
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_value_limit),
        cmocka_unit_test(test_fifo_order),
        cmocka_unit_test(test_cancelled_waiter_takes_nothing),
        cmocka_unit_test(test_granted_wins_over_cancel),
        cmocka_unit_test(test_acquire_in_cancelled_scope),
        cmocka_unit_test(test_release_from_thread),
        cmocka_unit_test(test_stats),
        cmocka_unit_test(test_misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
