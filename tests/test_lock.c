/* Locks: mutual exclusion, hand-off without barging, owner checks, an owner
 * cancelled, deadlines, statistics, misuse.  The rules every waiting
 * primitive shares (FIFO, cancelled and granted waits) are
 * test_waiting_contract.c's. */
#define _GNU_SOURCE
#include "helpers.h"

#include <pthread.h>

static size_t lock_waiting(weft_lock_t *l)
{
    weft_lock_stats_t st;
    weft_lock_stats(l, &st);
    return st.tasks_waiting;
}

#define NW 2

typedef struct {
    weft_lock_t *l;
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

/* Acquire, record the order of service, release. */
static int waiter(void *p)
{
    arg_t *a = p;
    int rc = weft_lock_acquire(a->s->l);
    EXPECT_RC(rc, 0);
    a->s->order[atomic_fetch_add(&a->s->next, 1)] = a->i;
    EXPECT_RC(weft_lock_release(a->s->l), 0);
    return 0;
}

/* ------------------------------------------------------------ mutual exclusion */

#define EXCL_TASKS 8
#define EXCL_ROUNDS WT_TSAN_PICK(200, 40)

typedef struct {
    weft_lock_t *l;
    atomic_int inside;
    int count; /* guarded by l only */
} excl_t;

static int excl_worker(void *p)
{
    excl_t *e = p;
    for (int i = 0; i < EXCL_ROUNDS; i++) {
        EXPECT_RC(weft_lock_acquire(e->l), 0);
        EXPECT(atomic_fetch_add(&e->inside, 1) == 0);
        int v = e->count;
        EXPECT_RC(weft_checkpoint(), 0); /* held across a task switch */
        e->count = v + 1;
        atomic_fetch_sub(&e->inside, 1);
        EXPECT_RC(weft_lock_release(e->l), 0);
    }
    return 0;
}

/* One task at a time inside, also across checkpoints and on 4 workers: the
 * hand-offs of a busy lock lose no update and leave it free. */
static int mutual_exclusion(void *p)
{
    (void)p;
    excl_t e = {0};
    weft_group_t g;
    EXPECT_RC(weft_lock_new(&e.l), 0);
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < EXCL_TASKS; i++)
        EXPECT_RC(weft_group_spawn(&g, excl_worker, &e), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT(e.count == EXCL_TASKS * EXCL_ROUNDS);
    EXPECT(!weft_lock_locked(e.l));
    EXPECT(lock_waiting(e.l) == 0);
    weft_lock_free(e.l);
    return 0;
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

static int no_barging(void *p)
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

/* ------------------------------------------------------------ owner checks */

static int other_task_release(void *p)
{
    shared_t *s = p;
    EXPECT_RC(weft_lock_release(s->l), WEFT_EPERM);
    EXPECT_RC(weft_lock_try_acquire(s->l), WEFT_EAGAIN);
    return 0;
}

static int owner_checks(void *p)
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

/* Another task's release while a task waits hands nothing over: the owner
 * keeps the lock and the waiter keeps waiting until the owner releases. */
static int non_owner_release_hands_nothing(void *p)
{
    (void)p;
    shared_t s = {0};
    arg_t a = {&s, 0};
    weft_group_t g, other;
    weft_lock_stats_t st;
    EXPECT_RC(weft_lock_new(&s.l), 0);
    EXPECT_RC(weft_lock_acquire(s.l), 0);
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, waiter, &a), 0);
    WAIT_FOR(lock_waiting(s.l) == 1);
    EXPECT_RC(weft_group_open(&other), 0);
    EXPECT_RC(weft_group_spawn(&other, other_task_release, &s), 0);
    EXPECT_RC(weft_group_close(&other, 0), 0);
    weft_lock_stats(s.l, &st);
    EXPECT(st.locked == 1 && st.tasks_waiting == 1);
    EXPECT_STR(st.owner, "main");
    EXPECT(atomic_load(&s.next) == 0);
    EXPECT_RC(weft_lock_release(s.l), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT(atomic_load(&s.next) == 1);
    EXPECT(!weft_lock_locked(s.l));
    weft_lock_free(s.l);
    return 0;
}

/* ------------------------------------------------------------ cancellation */

/* The owner, cancelled while it holds the lock: cancellation takes nothing
 * away, it stays the owner (a waiter keeps waiting) until it releases. */
static int cancelled_owner(void *p)
{
    shared_t *s = p;
    weft_scope_t sc;
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    s->scope[0] = &sc;
    EXPECT_RC(weft_lock_acquire(s->l), 0);
    atomic_store(&s->rc[0], 1); /* holding it */
    EXPECT_RC(weft_sleep(10.0), WEFT_ECANCELED);
    EXPECT_RC(weft_lock_try_acquire(s->l), WEFT_EPERM); /* still ours */
    atomic_store(&s->done, 1);
    EXPECT(wt_wait_flag(&s->go, 1, 10.0));
    EXPECT_RC(weft_lock_release(s->l), 0);
    return weft_scope_exit(&sc, WEFT_ECANCELED);
}

static int cancel_keeps_held_lock(void *p)
{
    (void)p;
    shared_t s = {0};
    arg_t a = {&s, 1};
    weft_group_t g;
    weft_lock_stats_t st;
    EXPECT_RC(weft_lock_new(&s.l), 0);
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, cancelled_owner, &s), 0);
    WAIT_FOR(atomic_load(&s.rc[0]) == 1);
    EXPECT_RC(weft_group_spawn(&g, waiter, &a), 0);
    WAIT_FOR(lock_waiting(s.l) == 1);
    weft_scope_cancel(s.scope[0]);
    WAIT_FOR(atomic_load(&s.done) == 1);
    weft_lock_stats(s.l, &st);
    EXPECT(st.locked == 1 && st.tasks_waiting == 1);
    EXPECT_STR(st.owner, "cancelled_owner");
    EXPECT(atomic_load(&s.next) == 0);
    atomic_store(&s.go, 1);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT(atomic_load(&s.next) == 1 && s.order[0] == 1);
    EXPECT(!weft_lock_locked(s.l));
    weft_lock_free(s.l);
    return 0;
}

/* The owner's acquire is WEFT_EPERM (locks are not recursive), but in a
 * cancelled scope it reports the cancellation every time, as any
 * checkpoint; either way the owner still holds the lock, once. */
static int owner_acquire_in_cancelled_scope(void *p)
{
    (void)p;
    weft_lock_t *l;
    weft_scope_t sc;
    EXPECT_RC(weft_lock_new(&l), 0);
    EXPECT_RC(weft_lock_acquire(l), 0);
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    weft_scope_cancel(&sc);
    EXPECT_RC(weft_lock_acquire(l), WEFT_ECANCELED);
    EXPECT_RC(weft_lock_acquire(l), WEFT_ECANCELED);
    EXPECT(weft_lock_locked(l));
    EXPECT_RC(weft_scope_exit(&sc, WEFT_ECANCELED), 0);
    /* A deadline not yet passed: EPERM at once, no waiting for it. */
    weft_fail_after(&sc, 0.01);
    EXPECT_RC(weft_scope_exit(&sc, weft_lock_acquire(l)), WEFT_EPERM);
    EXPECT_RC(weft_lock_release(l), 0);
    EXPECT(!weft_lock_locked(l));
    EXPECT_RC(weft_lock_release(l), WEFT_EPERM);
    weft_lock_free(l);
    return 0;
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

static int deadline_while_waiting(void *p)
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

static int stats(void *p)
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

static void misuse(void)
{
    WT_RUN_OK(misuse_main, NULL, 2);
    weft_lock_t *l;
    assert_rc(weft_lock_new(&l), 0);
    void *res = thread_calls(l);
    assert_null(res);
    weft_lock_free(l);
}

static const wt_case_t cases[] = {
    WT_CASE_ON(mutual_exclusion, WT_W1 | WT_W2 | WT_W4),
    WT_CASE(no_barging),
    WT_CASE_ON(owner_checks, WT_W2),
    WT_CASE(non_owner_release_hands_nothing),
    WT_CASE(cancel_keeps_held_lock),
    WT_CASE_ON(owner_acquire_in_cancelled_scope, WT_W2),
    WT_CASE_ON(deadline_while_waiting, WT_W2),
    WT_CASE_ON(stats, WT_W2),
    WT_TEST(misuse),
};
WT_SUITE(cases)
