/* Events: set wakes every waiter, level semantics, cancellation, setting from
 * a plain thread, statistics, misuse. */
#define _GNU_SOURCE
#include "helpers.h"

#include <pthread.h>
#include <unistd.h>

static size_t ev_waiting(weft_event_t *e)
{
    weft_event_stats_t st;
    weft_event_stats(e, &st);
    return st.tasks_waiting;
}

typedef struct {
    weft_event_t *e;
    atomic_int woken;
    atomic_int cancelled;
    weft_scope_t *scope;
    atomic_int go; /* the waiter keeps its scope alive until main cancelled it */
} ev_t;

static int waiter(void *p)
{
    ev_t *s = p;
    int rc = weft_event_wait(s->e);
    EXPECT_RC(rc, 0);
    EXPECT(weft_event_is_set(s->e));
    atomic_fetch_add(&s->woken, 1);
    return 0;
}

/* Every waiter wakes on one set; waiting on a set event returns at once. */
static int set_wakes_all(void *p)
{
    (void)p;
    ev_t s = {0};
    weft_group_t g;
    EXPECT_RC(weft_event_new(&s.e), 0);
    EXPECT(!weft_event_is_set(s.e));
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < 10; i++)
        EXPECT_RC(weft_group_spawn(&g, waiter, &s), 0);
    WAIT_FOR(ev_waiting(s.e) == 10);
    EXPECT(atomic_load(&s.woken) == 0);
    weft_event_set(s.e);
    weft_event_set(s.e); /* idempotent */
    EXPECT(weft_event_is_set(s.e));
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT(atomic_load(&s.woken) == 10);
    EXPECT(ev_waiting(s.e) == 0);
    for (int i = 0; i < 100; i++)
        EXPECT_RC(weft_event_wait(s.e), 0);
    weft_event_free(s.e);
    return 0;
}

/* ------------------------------------------------------------ cancellation */

static int cancellable_waiter(void *p)
{
    ev_t *s = p;
    weft_scope_t sc;
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    s->scope = &sc;
    int rc = weft_event_wait(s->e);
    if (rc == WEFT_ECANCELED)
        atomic_fetch_add(&s->cancelled, 1);
    else
        atomic_fetch_add(&s->woken, 1);
    EXPECT(wt_wait_flag(&s->go, 1, 10.0));
    return weft_scope_exit(&sc, rc);
}

static int cancelled_wait(void *p)
{
    (void)p;
    ev_t s = {0};
    weft_group_t g;
    EXPECT_RC(weft_event_new(&s.e), 0);
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, cancellable_waiter, &s), 0);
    WAIT_FOR(ev_waiting(s.e) == 1);
    weft_scope_cancel(s.scope);
    atomic_store(&s.go, 1);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT(atomic_load(&s.cancelled) == 1 && atomic_load(&s.woken) == 0);
    EXPECT(ev_waiting(s.e) == 0);
    EXPECT(!weft_event_is_set(s.e));

    /* Level: a cancelled scope reports on a set event too, every time. */
    weft_scope_t sc;
    weft_event_set(s.e);
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    weft_scope_cancel(&sc);
    EXPECT_RC(weft_event_wait(s.e), WEFT_ECANCELED);
    EXPECT_RC(weft_event_wait(s.e), WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&sc, WEFT_ECANCELED), 0);
    weft_event_free(s.e);
    return 0;
}

/* Set, then cancel before the waiter ran: the wait succeeded. */
static int set_then_cancel(void)
{
    ev_t s = {0};
    weft_group_t g;
    EXPECT_RC(weft_event_new(&s.e), 0);
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, cancellable_waiter, &s), 0);
    WAIT_FOR(ev_waiting(s.e) == 1);
    weft_event_set(s.e);
    weft_scope_cancel(s.scope);
    atomic_store(&s.go, 1);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT(atomic_load(&s.woken) == 1 && atomic_load(&s.cancelled) == 0);
    weft_event_free(s.e);
    return 0;
}

static int set_wins_over_cancel(void *p)
{
    (void)p;
    int rc = 0;
    for (int i = 0; i < 20 && rc == 0; i++)
        rc = set_then_cancel();
    return rc;
}

/* ------------------------------------------------------------ from a thread */

static void *set_later(void *p)
{
    usleep(20000);
    weft_event_set(p);
    return NULL;
}

static int set_from_thread(void *p)
{
    (void)p;
    weft_event_t *e;
    EXPECT_RC(weft_event_new(&e), 0);
    pthread_t th;
    EXPECT(pthread_create(&th, NULL, set_later, e) == 0);
    weft_scope_t sc;
    weft_fail_after(&sc, 5.0);
    EXPECT_RC(weft_scope_exit(&sc, weft_event_wait(e)), 0);
    pthread_join(th, NULL);
    weft_event_free(e);
    return 0;
}

/* ------------------------------------------------------------ misuse */

static void misuse(void)
{
    weft_event_stats_t es;
    assert_rc(weft_event_new(NULL), WEFT_EINVAL);
    weft_event_set(NULL);
    weft_event_free(NULL);
    assert_int_equal(weft_event_is_set(NULL), 0);
    weft_event_stats(NULL, NULL);
    memset(&es, 0xff, sizeof es);
    weft_event_stats(NULL, &es);
    assert_int_equal(es.tasks_waiting, 0);
    weft_event_t *e;
    assert_rc(weft_event_new(&e), 0);
    assert_rc(weft_event_wait(e), WEFT_EPERM); /* not a task */
    weft_event_set(e);
    assert_rc(weft_event_wait(e), WEFT_EPERM);
    assert_int_equal(weft_event_is_set(e), 1);
    weft_event_free(e);
}

static int null_wait(void *p)
{
    (void)p;
    EXPECT_RC(weft_event_wait(NULL), WEFT_EINVAL);
    return 0;
}

static const wt_case_t cases[] = {
    WT_CASE_ON(set_wakes_all, WT_W1 | WT_W4),
    WT_CASE(cancelled_wait),
    WT_CASE(set_wins_over_cancel),
    WT_CASE(set_from_thread),
    WT_TEST(misuse),
    WT_CASE_ON(null_wait, WT_W1),
};
WT_SUITE(cases)
