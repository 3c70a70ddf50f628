/* Conditions: wait releases and re-takes the lock (also when cancelled),
 * notify(n) in FIFO order, notify_all, cancelled waiters use up no
 * notification, notify from a plain thread, statistics, misuse. */
#define _GNU_SOURCE
#include "helpers.h"

#include <pthread.h>
#include <unistd.h>

static size_t cond_waiting(weft_cond_t *c)
{
    weft_cond_stats_t st;
    weft_cond_stats(c, &st);
    return st.tasks_waiting;
}

#define NW 5

typedef struct {
    weft_lock_t *l;
    weft_cond_t *c;
    atomic_int order[NW];
    atomic_int next;
    atomic_int rc[NW];
    weft_scope_t *scope[NW];
    atomic_int done;
    atomic_int go; /* waiters keep their scope alive until main set it */
} shared_t;

typedef struct {
    shared_t *s;
    int i;
} arg_t;

/* Wait once (cancellably); record how it ended; check the lock is ours. */
static int waiter(void *p)
{
    arg_t *a = p;
    shared_t *s = a->s;
    weft_scope_t sc;
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    s->scope[a->i] = &sc;
    EXPECT_RC(weft_lock_acquire(s->l), 0);
    int rc = weft_cond_wait(s->c);
    s->rc[a->i] = rc;
    /* Holds the lock again, whatever happened. */
    EXPECT_RC(weft_lock_try_acquire(s->l), WEFT_EPERM);
    weft_lock_stats_t ls;
    weft_lock_stats(s->l, &ls);
    EXPECT(ls.locked == 1);
    EXPECT_STR(ls.owner, "waiter");
    if (rc == 0)
        s->order[atomic_fetch_add(&s->next, 1)] = a->i;
    else
        EXPECT_RC(rc, WEFT_ECANCELED);
    atomic_fetch_add(&s->done, 1);
    EXPECT_RC(weft_lock_release(s->l), 0);
    EXPECT(wt_wait_flag(&s->go, 1, 10.0));
    return weft_scope_exit(&sc, rc);
}

static int spawn_waiters(shared_t *s, weft_group_t *g, arg_t *args, int n)
{
    atomic_store(&s->go, 0);
    for (int i = 0; i < n; i++) {
        args[i] = (arg_t){s, i};
        EXPECT_RC(weft_group_spawn(g, waiter, &args[i]), 0);
        WAIT_FOR(cond_waiting(s->c) == (size_t)i + 1);
    }
    return 0;
}

static void setup(shared_t *s)
{
    memset(s, 0, sizeof *s);
    EXPECT_RC(weft_lock_new(&s->l), 0);
    EXPECT_RC(weft_cond_new(&s->c, s->l), 0);
}

static void teardown(shared_t *s)
{
    EXPECT(!weft_lock_locked(s->l));
    weft_cond_free(s->c);
    weft_lock_free(s->l);
}

/* ------------------------------------------------------------ notify */

static int notify_fifo(void *p)
{
    (void)p;
    shared_t s;
    arg_t args[NW];
    weft_group_t g;
    setup(&s);
    EXPECT_RC(weft_group_open(&g), 0);
    spawn_waiters(&s, &g, args, NW);
    EXPECT(!weft_lock_locked(s.l)); /* every waiter released it */
    EXPECT_RC(weft_lock_acquire(s.l), 0);
    weft_cond_notify(s.c, 2);
    EXPECT(cond_waiting(s.c) == NW - 2);
    EXPECT_RC(weft_lock_release(s.l), 0);
    WAIT_FOR(atomic_load(&s.done) == 2);
    /* The two longest waiters (which of them re-takes the lock first is up
     * to the scheduler). */
    EXPECT(s.order[0] + s.order[1] == 1 && s.order[0] * s.order[1] == 0);
    weft_cond_notify(s.c, 1); /* without holding the lock */
    WAIT_FOR(atomic_load(&s.done) == 3);
    EXPECT(s.order[2] == 2);
    weft_cond_notify(s.c, 0);
    EXPECT(cond_waiting(s.c) == 2);
    weft_cond_notify_all(s.c);
    EXPECT(cond_waiting(s.c) == 0);
    atomic_store(&s.go, 1);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    for (int i = 0; i < NW; i++)
        EXPECT_RC(s.rc[i], 0);
    EXPECT(atomic_load(&s.next) == NW);
    weft_cond_notify_all(s.c); /* nobody waits: nothing happens */
    weft_cond_notify(s.c, 3);
    teardown(&s);
    return 0;
}

/* ------------------------------------------------------------ cancellation */

/* A cancelled wait returns WEFT_ECANCELED holding the lock, waiting for it
 * if another task holds it at that moment. */
static int cancelled_wait_holds_lock(void *p)
{
    (void)p;
    shared_t s;
    arg_t args[2];
    weft_group_t g;
    setup(&s);
    EXPECT_RC(weft_group_open(&g), 0);
    spawn_waiters(&s, &g, args, 2);
    EXPECT_RC(weft_lock_acquire(s.l), 0);
    weft_scope_cancel(s.scope[0]);
    weft_sleep(0.01);
    EXPECT(atomic_load(&s.done) == 0); /* woken, but waiting for the lock */
    weft_lock_stats_t ls;
    weft_lock_stats(s.l, &ls);
    EXPECT(ls.tasks_waiting == 1);
    EXPECT(cond_waiting(s.c) == 1);
    /* The cancelled waiter uses up no notification: task 1 gets this one. */
    weft_cond_notify(s.c, 1);
    EXPECT(cond_waiting(s.c) == 0);
    EXPECT_RC(weft_lock_release(s.l), 0);
    atomic_store(&s.go, 1);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(s.rc[0], WEFT_ECANCELED);
    EXPECT_RC(s.rc[1], 0);

    /* Cancelled and notified at once (before the waiter ran): a cancellation
     * that came first wins, and the notification goes to the next one. */
    memset((void *)s.rc, 0, sizeof s.rc);
    s.done = 0;
    s.next = 0;
    EXPECT_RC(weft_group_open(&g), 0);
    spawn_waiters(&s, &g, args, 2);
    weft_scope_cancel(s.scope[0]);
    weft_cond_notify(s.c, 1);
    atomic_store(&s.go, 1);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(s.rc[0], WEFT_ECANCELED);
    EXPECT_RC(s.rc[1], 0);

    /* Notified, then cancelled before it ran: the wait succeeded. */
    memset((void *)s.rc, 0, sizeof s.rc);
    EXPECT_RC(weft_group_open(&g), 0);
    spawn_waiters(&s, &g, args, 1);
    weft_cond_notify(s.c, 1);
    weft_scope_cancel(s.scope[0]);
    atomic_store(&s.go, 1);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(s.rc[0], 0);
    teardown(&s);
    return 0;
}

static int wait_in_cancelled_scope(void *p)
{
    (void)p;
    shared_t s;
    setup(&s);
    weft_scope_t sc;
    EXPECT_RC(weft_lock_acquire(s.l), 0);
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    weft_scope_cancel(&sc);
    EXPECT_RC(weft_cond_wait(s.c), WEFT_ECANCELED);
    EXPECT_RC(weft_lock_try_acquire(s.l), WEFT_EPERM); /* still ours */
    EXPECT(cond_waiting(s.c) == 0);
    EXPECT_RC(weft_scope_exit(&sc, WEFT_ECANCELED), 0);
    /* A deadline while waiting. */
    weft_fail_after(&sc, 0.01);
    EXPECT_RC(weft_scope_exit(&sc, weft_cond_wait(s.c)), WEFT_ETIMEDOUT);
    EXPECT_RC(weft_lock_release(s.l), 0);
    teardown(&s);
    return 0;
}

/* ------------------------------------------------------------ from a thread */

static void *notify_later(void *p)
{
    usleep(20000);
    weft_cond_notify_all(p);
    return NULL;
}

static int notify_from_thread(void *p)
{
    (void)p;
    shared_t s;
    setup(&s);
    EXPECT_RC(weft_lock_acquire(s.l), 0);
    pthread_t th;
    EXPECT(pthread_create(&th, NULL, notify_later, s.c) == 0);
    weft_scope_t sc;
    weft_fail_after(&sc, 5.0);
    EXPECT_RC(weft_scope_exit(&sc, weft_cond_wait(s.c)), 0);
    pthread_join(th, NULL);
    EXPECT_RC(weft_lock_release(s.l), 0);
    teardown(&s);
    return 0;
}

/* ------------------------------------------------------------ stats, misuse */

static int stats(void *p)
{
    (void)p;
    shared_t s;
    arg_t args[2];
    weft_group_t g;
    weft_cond_stats_t cs;
    setup(&s);
    EXPECT_RC(weft_group_open(&g), 0);
    spawn_waiters(&s, &g, args, 2);
    EXPECT_RC(weft_lock_acquire(s.l), 0);
    weft_cond_stats(s.c, &cs);
    EXPECT(cs.tasks_waiting == 2);
    EXPECT(cs.lock.locked == 1 && cs.lock.tasks_waiting == 0);
    EXPECT_STR(cs.lock.owner, "main");
    EXPECT_RC(weft_lock_release(s.l), 0);
    weft_cond_notify_all(s.c);
    atomic_store(&s.go, 1);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    weft_cond_stats(s.c, &cs);
    EXPECT(cs.tasks_waiting == 0 && cs.lock.locked == 0);
    teardown(&s);
    return 0;
}

static int misuse_main(void *p)
{
    (void)p;
    shared_t s;
    setup(&s);
    EXPECT_RC(weft_cond_wait(NULL), WEFT_EINVAL);
    EXPECT_RC(weft_cond_wait(s.c), WEFT_EPERM); /* lock not held */
    EXPECT(cond_waiting(s.c) == 0);
    teardown(&s);
    return 0;
}

static void misuse(void)
{
    weft_cond_t *c;
    weft_lock_t *l;
    weft_cond_stats_t cs;
    assert_rc(weft_cond_new(NULL, NULL), WEFT_EINVAL);
    assert_rc(weft_cond_new(&c, NULL), WEFT_EINVAL);
    weft_cond_free(NULL);
    weft_cond_notify(NULL, 1);
    weft_cond_notify_all(NULL);
    weft_cond_stats(NULL, NULL);
    memset(&cs, 0xff, sizeof cs);
    weft_cond_stats(NULL, &cs);
    assert_int_equal(cs.tasks_waiting, 0);
    assert_null(cs.lock.owner);
    assert_rc(weft_lock_new(&l), 0);
    assert_rc(weft_cond_new(&c, l), 0);
    assert_rc(weft_cond_wait(c), WEFT_EPERM); /* not a task */
    weft_cond_notify(c, 1);
    weft_cond_free(c);
    weft_lock_free(l);
    WT_RUN_OK(misuse_main, NULL, 1);
}

static const wt_case_t cases[] = {
    WT_CASE(notify_fifo),
    WT_CASE(cancelled_wait_holds_lock),
    WT_CASE_ON(wait_in_cancelled_scope, WT_W1),
    WT_CASE(notify_from_thread),
    WT_CASE_ON(stats, WT_W2),
    WT_TEST(misuse),
};
WT_SUITE(cases)
