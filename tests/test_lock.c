/* Locks: FIFO hand-off, owner checks, cancellation, statistics, misuse. */
#define _GNU_SOURCE
#include "helpers.h"

#include <pthread.h>

static size_t lock_waiting(weft_lock_t *l)
{
    weft_lock_stats_t st;
    weft_lock_stats(l, &st);
    return st.tasks_waiting;
}

#define NW 6

typedef struct {
    weft_lock_t *l;
    atomic_int order[NW];
    atomic_int next;
    int idx;
    weft_scope_t *scope[NW];
    atomic_int rc[NW];
    atomic_int done;
    atomic_int go; /* waiters keep their scope alive until main cancelled it */
} shared_t;

typedef struct {
    shared_t *s;
    int i;
} arg_t;

/* Acquire, record the order of service, release. */
static int fifo_waiter(void *p)
{
    arg_t *a = p;
    int rc = weft_lock_acquire(a->s->l);
    EXPECT_RC(rc, 0);
    a->s->order[atomic_fetch_add(&a->s->next, 1)] = a->i;
    EXPECT_RC(weft_lock_release(a->s->l), 0);
    return 0;
}

static int fifo_main(void *p)
{
    (void)p;
    shared_t s = {0};
    arg_t args[NW];
    weft_group_t g;
    EXPECT_RC(weft_lock_new(&s.l), 0);
    EXPECT_RC(weft_lock_acquire(s.l), 0);
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < NW; i++) {
        args[i] = (arg_t){&s, i};
        EXPECT_RC(weft_group_spawn(&g, fifo_waiter, &args[i]), 0);
        WAIT_FOR(lock_waiting(s.l) == (size_t)i + 1);
    }
    EXPECT_RC(weft_lock_release(s.l), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    for (int i = 0; i < NW; i++)
        EXPECT(s.order[i] == i);
    EXPECT(!weft_lock_locked(s.l));
    weft_lock_free(s.l);
    return 0;
}

static void test_fifo_order(void **st)
{
    (void)st;
    WT_RUN_OK(fifo_main, NULL, 1);
    WT_RUN_OK(fifo_main, NULL, 2);
    WT_RUN_OK(fifo_main, NULL, 4);
}

/* A task that releases and at once re-acquires queues behind the waiters. */
static int no_barging_waiter(void *p)
{
    shared_t *s = p;
    EXPECT_RC(weft_lock_acquire(s->l), 0);
    s->order[atomic_fetch_add(&s->next, 1)] = 1;
    EXPECT_RC(weft_lock_release(s->l), 0);
    return 0;
}

static int no_barging_main(void *p)
{
    (void)p;
    shared_t s = {0};
    weft_group_t g;
    EXPECT_RC(weft_lock_new(&s.l), 0);
    EXPECT_RC(weft_lock_acquire(s.l), 0);
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, no_barging_waiter, &s), 0);
    WAIT_FOR(lock_waiting(s.l) == 1);
    EXPECT_RC(weft_lock_release(s.l), 0);
    EXPECT(weft_lock_locked(s.l)); /* handed over, not free */
    EXPECT_RC(weft_lock_try_acquire(s.l), WEFT_EAGAIN);
    EXPECT_RC(weft_lock_acquire(s.l), 0);
    s.order[atomic_fetch_add(&s.next, 1)] = 2;
    EXPECT_RC(weft_lock_release(s.l), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT(s.order[0] == 1 && s.order[1] == 2);
    weft_lock_free(s.l);
    return 0;
}

static void test_no_barging(void **st)
{
    (void)st;
    WT_RUN_OK(no_barging_main, NULL, 1);
    WT_RUN_OK(no_barging_main, NULL, 2);
}

/* ------------------------------------------------------------ owner checks */

static int other_task_release(void *p)
{
    shared_t *s = p;
    EXPECT_RC(weft_lock_release(s->l), WEFT_EPERM);
    EXPECT_RC(weft_lock_try_acquire(s->l), WEFT_EAGAIN);
    return 0;
}

static int owner_main(void *p)
{
    (void)p;
    shared_t s = {0};
    weft_lock_stats_t st;
    EXPECT_RC(weft_lock_new(&s.l), 0);
    EXPECT(!weft_lock_locked(s.l));
    EXPECT_RC(weft_lock_release(s.l), WEFT_EPERM); /* not held at all */
    EXPECT_RC(weft_lock_try_acquire(s.l), 0);
    EXPECT(weft_lock_locked(s.l));
    EXPECT_RC(weft_lock_acquire(s.l), WEFT_EPERM);     /* re-acquire by the owner */
    EXPECT_RC(weft_lock_try_acquire(s.l), WEFT_EPERM); /* likewise */
    weft_lock_stats(s.l, &st);
    EXPECT(st.locked == 1);
    EXPECT_STR(st.owner, "main");
    EXPECT(st.tasks_waiting == 0);
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, other_task_release, &s), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT(weft_lock_locked(s.l));
    EXPECT_RC(weft_lock_release(s.l), 0);
    EXPECT_RC(weft_lock_release(s.l), WEFT_EPERM);
    weft_lock_stats(s.l, &st);
    EXPECT(st.locked == 0 && st.owner == NULL && st.tasks_waiting == 0);
    weft_lock_free(s.l);
    return 0;
}

static void test_owner_checks(void **st)
{
    (void)st;
    WT_RUN_OK(owner_main, NULL, 2);
}

/* ------------------------------------------------------------ cancellation */

static int cancellable_waiter(void *p)
{
    arg_t *a = p;
    weft_scope_t sc;
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    a->s->scope[a->i] = &sc;
    int rc = weft_lock_acquire(a->s->l);
    a->s->rc[a->i] = rc;
    if (rc == 0) {
        a->s->order[atomic_fetch_add(&a->s->next, 1)] = a->i;
        /* Granted even if cancelled meanwhile: the next checkpoint says so. */
        if (weft_scope_cancel_called(&sc))
            EXPECT_RC(weft_checkpoint(), WEFT_ECANCELED);
        EXPECT_RC(weft_lock_release(a->s->l), 0);
    } else {
        EXPECT_RC(rc, WEFT_ECANCELED);
        EXPECT_RC(weft_lock_release(a->s->l), WEFT_EPERM); /* it holds nothing */
    }
    atomic_fetch_add(&a->s->done, 1);
    EXPECT(wt_wait_flag(&a->s->go, 1, 10.0));
    return weft_scope_exit(&sc, rc);
}

/* A cancelled waiter leaves the queue; the lock goes to the next one. */
static int cancel_waiter_main(void *p)
{
    (void)p;
    shared_t s = {0};
    arg_t args[3];
    weft_group_t g;
    EXPECT_RC(weft_lock_new(&s.l), 0);
    EXPECT_RC(weft_lock_acquire(s.l), 0);
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < 3; i++) {
        args[i] = (arg_t){&s, i};
        EXPECT_RC(weft_group_spawn(&g, cancellable_waiter, &args[i]), 0);
        WAIT_FOR(lock_waiting(s.l) == (size_t)i + 1);
    }
    weft_scope_cancel(s.scope[1]);
    WAIT_FOR(atomic_load(&s.done) == 1);
    EXPECT(lock_waiting(s.l) == 2);
    EXPECT(weft_lock_locked(s.l));
    EXPECT_RC(weft_lock_release(s.l), 0);
    atomic_store(&s.go, 1);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(s.rc[1], WEFT_ECANCELED);
    EXPECT_RC(s.rc[0], 0);
    EXPECT_RC(s.rc[2], 0);
    EXPECT(s.next == 2 && s.order[0] == 0 && s.order[1] == 2);
    EXPECT(!weft_lock_locked(s.l));
    weft_lock_free(s.l);
    return 0;
}

static void test_cancelled_waiter_takes_nothing(void **st)
{
    (void)st;
    WT_RUN_OK(cancel_waiter_main, NULL, 1);
    WT_RUN_OK(cancel_waiter_main, NULL, 2);
}

/* The lock handed over, then the waiter cancelled before it ran: it owns the
 * lock and returns 0; the lock is not lost. */
static int granted_then_cancelled_main(void *p)
{
    (void)p;
    shared_t s = {0};
    arg_t a = {&s, 0};
    weft_group_t g;
    EXPECT_RC(weft_lock_new(&s.l), 0);
    EXPECT_RC(weft_lock_acquire(s.l), 0);
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, cancellable_waiter, &a), 0);
    WAIT_FOR(lock_waiting(s.l) == 1);
    EXPECT_RC(weft_lock_release(s.l), 0);
    weft_scope_cancel(s.scope[0]);
    atomic_store(&s.go, 1);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(s.rc[0], 0);
    EXPECT(!weft_lock_locked(s.l));
    EXPECT_RC(weft_lock_try_acquire(s.l), 0);
    EXPECT_RC(weft_lock_release(s.l), 0);
    weft_lock_free(s.l);
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

/* Acquire in a cancelled scope: WEFT_ECANCELED every time, the free lock
 * stays free. */
static int cancelled_scope_main(void *p)
{
    (void)p;
    weft_lock_t *l;
    weft_scope_t sc;
    EXPECT_RC(weft_lock_new(&l), 0);
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    weft_scope_cancel(&sc);
    EXPECT_RC(weft_lock_acquire(l), WEFT_ECANCELED);
    EXPECT_RC(weft_lock_acquire(l), WEFT_ECANCELED);
    EXPECT(!weft_lock_locked(l));
    EXPECT_RC(weft_scope_exit(&sc, WEFT_ECANCELED), 0);
    /* A deadline while waiting. */
    EXPECT_RC(weft_lock_acquire(l), 0);
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    weft_fail_after(&sc, 0.01);
    EXPECT_RC(weft_scope_exit(&sc, weft_lock_acquire(l)), WEFT_EPERM); /* owner */
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(weft_lock_release(l), 0);
    weft_lock_free(l);
    return 0;
}

static void test_acquire_in_cancelled_scope(void **st)
{
    (void)st;
    WT_RUN_OK(cancelled_scope_main, NULL, 2);
}

static int deadline_waiter(void *p)
{
    weft_lock_t *l = p;
    weft_scope_t sc;
    weft_fail_after(&sc, 0.02);
    EXPECT_RC(weft_scope_exit(&sc, weft_lock_acquire(l)), WEFT_ETIMEDOUT);
    EXPECT_RC(weft_lock_release(l), WEFT_EPERM);
    return 0;
}

static int deadline_main(void *p)
{
    (void)p;
    weft_lock_t *l;
    weft_group_t g;
    EXPECT_RC(weft_lock_new(&l), 0);
    EXPECT_RC(weft_lock_acquire(l), 0);
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, deadline_waiter, l), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT(lock_waiting(l) == 0);
    EXPECT_RC(weft_lock_release(l), 0);
    EXPECT(!weft_lock_locked(l));
    weft_lock_free(l);
    return 0;
}

static void test_deadline_while_waiting(void **st)
{
    (void)st;
    WT_RUN_OK(deadline_main, NULL, 2);
}

/* ------------------------------------------------------------ statistics */

static int stats_waiter(void *p)
{
    weft_lock_t *l = p;
    EXPECT_RC(weft_lock_acquire(l), 0);
    weft_lock_stats_t st;
    weft_lock_stats(l, &st);
    EXPECT(st.locked == 1);
    EXPECT_STR(st.owner, "stats_waiter");
    EXPECT_RC(weft_lock_release(l), 0);
    return 0;
}

static int stats_main(void *p)
{
    (void)p;
    weft_lock_t *l;
    weft_group_t g;
    weft_lock_stats_t st;
    EXPECT_RC(weft_lock_new(&l), 0);
    weft_lock_stats(l, &st);
    EXPECT(st.locked == 0 && st.owner == NULL && st.tasks_waiting == 0);
    EXPECT_RC(weft_lock_acquire(l), 0);
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, stats_waiter, l), 0);
    EXPECT_RC(weft_group_spawn(&g, stats_waiter, l), 0);
    WAIT_FOR(lock_waiting(l) == 2);
    weft_lock_stats(l, &st);
    EXPECT(st.locked == 1 && st.tasks_waiting == 2);
    EXPECT_STR(st.owner, "main");
    EXPECT_RC(weft_lock_release(l), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    weft_lock_stats(l, &st);
    EXPECT(st.locked == 0 && st.owner == NULL && st.tasks_waiting == 0);
    weft_lock_free(l);
    return 0;
}

static void test_stats(void **st)
{
    (void)st;
    WT_RUN_OK(stats_main, NULL, 2);
}

/* ------------------------------------------------------------ misuse */

static void *thread_calls(void *p)
{
    weft_lock_t *l = p;
    intptr_t bad = 0;
    bad |= weft_lock_acquire(l) != WEFT_EPERM;
    bad |= weft_lock_try_acquire(l) != WEFT_EPERM;
    bad |= weft_lock_release(l) != WEFT_EPERM;
    return (void *)bad;
}

static int misuse_main(void *p)
{
    (void)p;
    EXPECT_RC(weft_lock_new(NULL), WEFT_EINVAL);
    EXPECT_RC(weft_lock_acquire(NULL), WEFT_EINVAL);
    EXPECT_RC(weft_lock_try_acquire(NULL), WEFT_EINVAL);
    EXPECT_RC(weft_lock_release(NULL), WEFT_EINVAL);
    EXPECT(weft_lock_locked(NULL) == 0);
    weft_lock_free(NULL);
    weft_lock_stats(NULL, NULL);
    weft_lock_stats_t st;
    memset(&st, 0xff, sizeof st);
    weft_lock_stats(NULL, &st);
    EXPECT(st.locked == 0 && st.owner == NULL && st.tasks_waiting == 0);
    /* A plain thread started from inside a task is no task. */
    weft_lock_t *l;
    EXPECT_RC(weft_lock_new(&l), 0);
    EXPECT_RC(weft_lock_acquire(l), 0);
    pthread_t th;
    void *res = (void *)1;
    EXPECT(pthread_create(&th, NULL, thread_calls, l) == 0);
    pthread_join(th, &res);
    EXPECT(res == NULL);
    EXPECT_RC(weft_lock_release(l), 0);
    weft_lock_free(l);
    return 0;
}

static void test_misuse(void **st)
{
    (void)st;
    WT_RUN_OK(misuse_main, NULL, 2);
    weft_lock_t *l;
    assert_rc(weft_lock_new(&l), 0);
    void *res = thread_calls(l);
    assert_null(res);
    weft_lock_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_order),
        cmocka_unit_test(test_no_barging),
        cmocka_unit_test(test_owner_checks),
        cmocka_unit_test(test_cancelled_waiter_takes_nothing),
        cmocka_unit_test(test_granted_wins_over_cancel),
        cmocka_unit_test(test_acquire_in_cancelled_scope),
        cmocka_unit_test(test_deadline_while_waiting),
        cmocka_unit_test(test_stats),
        cmocka_unit_test(test_misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
