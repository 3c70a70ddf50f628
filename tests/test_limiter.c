/* Capacity limiters: creation, try_acquire, borrower rules (one token per
 * borrower, release of a token not held, on_behalf_of), FIFO order,
 * cancelled waiters, changing the total, statistics, use from plain threads,
 * the runtime's default thread limiter. */
#define _GNU_SOURCE
#include "thread_helpers.h"

/* ------------------------------------------------------------ creation, misuse */

static void test_new_and_misuse(void **st)
{
    (void)st;
    weft_limiter_t *l = NULL;
    assert_rc(weft_limiter_new(&l, 0), WEFT_EINVAL);
    assert_rc(weft_limiter_new(NULL, 1), WEFT_EINVAL);
    assert_rc(weft_limiter_new(NULL, 0), WEFT_EINVAL);

    assert_rc(weft_limiter_new(&l, 1), 0);
    assert_non_null(l);
    weft_limiter_stats_t s = wt_lstats(l);
    assert_int_equal(s.total_tokens, 1);
    assert_int_equal(s.borrowed_tokens, 0);
    assert_int_equal(s.tasks_waiting, 0);
    assert_rc(weft_limiter_set_total_tokens(l, 0), WEFT_EINVAL);
    assert_int_equal(wt_l_total(l), 1);
    assert_rc(weft_limiter_set_total_tokens(l, 5), 0);
    assert_int_equal(wt_l_total(l), 5);

    /* NULL where an object is required. */
    int dummy;
    assert_rc(weft_limiter_try_acquire(NULL), WEFT_EINVAL);
    assert_rc(weft_limiter_try_acquire_on_behalf_of(NULL, &dummy), WEFT_EINVAL);
    assert_rc(weft_limiter_try_acquire_on_behalf_of(l, NULL), WEFT_EINVAL);
    assert_rc(weft_limiter_release(NULL), WEFT_EINVAL);
    assert_rc(weft_limiter_release_on_behalf_of(NULL, &dummy), WEFT_EINVAL);
    assert_rc(weft_limiter_set_total_tokens(NULL, 3), WEFT_EINVAL);
    assert_int_equal(wt_l_borrowed(l), 0);
    weft_limiter_free(l);
    weft_limiter_free(NULL);

    assert_rc(weft_limiter_new(&l, 1000000), 0);
    assert_int_equal(wt_l_total(l), 1000000);
    weft_limiter_free(l);
}

/* ------------------------------------------------------------ try_acquire from the test thread */

typedef struct {
    weft_limiter_t *l;
    const void *who;
    int rc_try, rc_try2, rc_rel, rc_rel2, rc_acq, rc_acq_obo;
} thr_t;

static void *other_thread(void *p)
{
    thr_t *t = p;
    t->rc_try = weft_limiter_try_acquire(t->l);
    t->rc_try2 = weft_limiter_try_acquire(t->l);
    t->rc_acq = weft_limiter_acquire(t->l); /* [fiber] */
    t->rc_acq_obo = weft_limiter_acquire_on_behalf_of(t->l, &t->rc_acq_obo);
    t->rc_rel = weft_limiter_release(t->l);
    t->rc_rel2 = weft_limiter_release(t->l);
    return NULL;
}

static void test_try_acquire_plain_threads(void **st)
{
    (void)st;
    weft_limiter_t *l;
    assert_rc(weft_limiter_new(&l, 2), 0);
    /* Outside a task the borrower is the calling thread. */
    assert_rc(weft_limiter_release(l), WEFT_EPERM); /* holds nothing */
    assert_rc(weft_limiter_try_acquire(l), 0);
    assert_int_equal(wt_l_borrowed(l), 1);
    assert_rc(weft_limiter_try_acquire(l), WEFT_EPERM); /* already holds one */
    assert_int_equal(wt_l_borrowed(l), 1);

    /* Another thread is another borrower; blocking acquires need a task. */
    thr_t t = {.l = l};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, other_thread, &t), 0);
    pthread_join(th, NULL);
    assert_rc(t.rc_try, 0);
    assert_rc(t.rc_try2, WEFT_EPERM);
    assert_rc(t.rc_acq, WEFT_EPERM);
    assert_rc(t.rc_acq_obo, WEFT_EPERM);
    assert_rc(t.rc_rel, 0);
    assert_rc(t.rc_rel2, WEFT_EPERM);
    assert_int_equal(wt_l_borrowed(l), 1);

    /* Full: a pointer borrower gets EAGAIN. */
    int a, b;
    assert_rc(weft_limiter_try_acquire_on_behalf_of(l, &a), 0);
    assert_int_equal(wt_l_borrowed(l), 2);
    assert_rc(weft_limiter_try_acquire_on_behalf_of(l, &b), WEFT_EAGAIN);
    t = (thr_t){.l = l};
    assert_int_equal(pthread_create(&th, NULL, other_thread, &t), 0);
    pthread_join(th, NULL);
    assert_rc(t.rc_try, WEFT_EAGAIN);
    assert_rc(t.rc_rel, WEFT_EPERM);
    assert_int_equal(wt_l_borrowed(l), 2);

    assert_rc(weft_limiter_release(l), 0);
    assert_rc(weft_limiter_release(l), WEFT_EPERM);
    assert_rc(weft_limiter_release_on_behalf_of(l, &a), 0);
    assert_rc(weft_limiter_release_on_behalf_of(l, &a), WEFT_EPERM);
    assert_int_equal(wt_l_borrowed(l), 0);
    weft_limiter_stats_t s = wt_lstats(l);
    assert_int_equal(s.total_tokens, 2);
    assert_int_equal(s.tasks_waiting, 0);
    weft_limiter_free(l);
}

/* ------------------------------------------------------------ borrower rules in tasks */

typedef struct {
    weft_limiter_t *l;
    atomic_int holding;
    atomic_int go;
    int rc_release_other;
} borrow_t;

static int holder_task(void *p)
{
    borrow_t *b = p;
    EXPECT_RC(weft_limiter_acquire(b->l), 0);
    WT_GATE_TASK(&b->holding, &b->go);
    EXPECT_RC(weft_limiter_release(b->l), 0);
    EXPECT_RC(weft_limiter_release(b->l), WEFT_EPERM);
    atomic_store(&b->holding, 0);
    return 0;
}

static int borrower_rules_main(void *p)
{
    (void)p;
    weft_limiter_t *l;
    int a, b, c;
    char bytes[4];
    EXPECT_RC(weft_limiter_new(&l, 3), 0);

    /* The task as borrower. */
    EXPECT_RC(weft_limiter_release(l), WEFT_EPERM);
    EXPECT_RC(weft_limiter_acquire(l), 0);
    EXPECT_RC(weft_limiter_acquire(l), WEFT_EPERM);
    EXPECT_RC(weft_limiter_try_acquire(l), WEFT_EPERM);
    EXPECT(wt_l_borrowed(l) == 1);

    /* Arbitrary pointers are borrowers distinct from the task and each other. */
    EXPECT_RC(weft_limiter_release_on_behalf_of(l, &a), WEFT_EPERM);
    EXPECT_RC(weft_limiter_acquire_on_behalf_of(l, &a), 0);
    EXPECT_RC(weft_limiter_acquire_on_behalf_of(l, &a), WEFT_EPERM);
    EXPECT_RC(weft_limiter_try_acquire_on_behalf_of(l, &a), WEFT_EPERM);
    EXPECT_RC(weft_limiter_try_acquire_on_behalf_of(l, &bytes[1]), 0);
    EXPECT(wt_l_borrowed(l) == 3);
    EXPECT_RC(weft_limiter_try_acquire_on_behalf_of(l, &b), WEFT_EAGAIN);
    EXPECT_RC(weft_limiter_try_acquire_on_behalf_of(l, &bytes[2]), WEFT_EAGAIN);
    EXPECT_RC(weft_limiter_release_on_behalf_of(l, &c), WEFT_EPERM);
    EXPECT_RC(weft_limiter_release_on_behalf_of(l, &bytes[0]), WEFT_EPERM);
    EXPECT(wt_l_borrowed(l) == 3);

    /* NULL is not a borrower. */
    EXPECT_RC(weft_limiter_acquire_on_behalf_of(l, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_limiter_acquire(NULL), WEFT_EINVAL);

    /* Release the pointer's token; the task still holds its own. */
    EXPECT_RC(weft_limiter_release_on_behalf_of(l, &a), 0);
    EXPECT_RC(weft_limiter_release_on_behalf_of(l, &a), WEFT_EPERM);
    EXPECT(wt_l_borrowed(l) == 2);
    EXPECT_RC(weft_limiter_try_acquire_on_behalf_of(l, &c), 0);
    EXPECT(wt_l_borrowed(l) == 3);
    EXPECT_RC(weft_limiter_release(l), 0);
    EXPECT_RC(weft_limiter_release(l), WEFT_EPERM);
    EXPECT_RC(weft_limiter_try_acquire(l), 0);
    EXPECT_RC(weft_limiter_release(l), 0);

    /* Another task's token is not ours to release. */
    borrow_t bt = {.l = l};
    weft_group_t g;
    EXPECT_RC(weft_limiter_release_on_behalf_of(l, &c), 0);
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, holder_task, &bt), 0);
    WAIT_FOR(atomic_load(&bt.holding) == 1);
    EXPECT(wt_l_borrowed(l) == 2);
    EXPECT_RC(weft_limiter_release(l), WEFT_EPERM);
    EXPECT(wt_l_borrowed(l) == 2);
    atomic_store(&bt.go, 1);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT(atomic_load(&bt.holding) == 0);

    EXPECT_RC(weft_limiter_release_on_behalf_of(l, &bytes[1]), 0);
    weft_limiter_stats_t s = wt_lstats(l);
    EXPECT(s.total_tokens == 3 && s.borrowed_tokens == 0 && s.tasks_waiting == 0);
    weft_limiter_free(l);
    return 0;
}

static void test_borrower_rules(void **st)
{
    (void)st;
    WT_RUN_OK(borrower_rules_main, NULL, 1);
    WT_RUN_OK(borrower_rules_main, NULL, 2);
}

/* Called in a cancelled scope, acquire reports it and takes nothing, even
 * with tokens free; try_acquire is no checkpoint. */
static int cancelled_scope_main(void *p)
{
    (void)p;
    weft_limiter_t *l;
    weft_scope_t sc;
    int x;
    EXPECT_RC(weft_limiter_new(&l, 2), 0);
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    weft_scope_cancel(&sc);
    EXPECT_RC(weft_limiter_acquire(l), WEFT_ECANCELED);
    EXPECT_RC(weft_limiter_acquire(l), WEFT_ECANCELED);
    EXPECT_RC(weft_limiter_acquire_on_behalf_of(l, &x), WEFT_ECANCELED);
    EXPECT(wt_l_borrowed(l) == 0);
    EXPECT_RC(weft_limiter_release(l), WEFT_EPERM);
    EXPECT_RC(weft_limiter_release_on_behalf_of(l, &x), WEFT_EPERM);
    EXPECT_RC(weft_scope_exit(&sc, WEFT_ECANCELED), 0);
    EXPECT(wt_l_borrowed(l) == 0);
    weft_limiter_free(l);
    return 0;
}

static void test_acquire_in_cancelled_scope(void **st)
{
    (void)st;
    WT_RUN_OK(cancelled_scope_main, NULL, 1);
}

/* ------------------------------------------------------------ FIFO */

#define NW 6

typedef struct {
    weft_limiter_t *l;
    int use_obo;
    atomic_int order[NW];
    atomic_int next;
    weft_scope_t *scope[NW];
    atomic_int rc[NW];
    atomic_int got;
    atomic_int done;
    atomic_int release[NW];
    atomic_int go;
} lim_shared_t;

typedef struct {
    lim_shared_t *s;
    int i;
} larg_t;

static int fifo_waiter(void *p)
{
    larg_t *a = p;
    lim_shared_t *s = a->s;
    int rc = s->use_obo ? weft_limiter_acquire_on_behalf_of(s->l, a)
                        : weft_limiter_acquire(s->l);
    EXPECT_RC(rc, 0);
    s->order[atomic_fetch_add(&s->next, 1)] = a->i;
    weft_sleep(0.001); /* hold it a little: others must keep waiting */
    EXPECT_RC(s->use_obo ? weft_limiter_release_on_behalf_of(s->l, a)
                         : weft_limiter_release(s->l),
              0);
    return 0;
}

static int fifo_main(void *p)
{
    int use_obo = *(int *)p;
    lim_shared_t s;
    memset(&s, 0, sizeof s);
    s.use_obo = use_obo;
    larg_t args[NW];
    weft_group_t g;
    int newcomer;
    EXPECT_RC(weft_limiter_new(&s.l, 1), 0);
    EXPECT_RC(weft_limiter_acquire(s.l), 0); /* main holds the only token */
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < NW; i++) {
        args[i] = (larg_t){&s, i};
        EXPECT_RC(weft_group_spawn(&g, fifo_waiter, &args[i]), 0);
        WAIT_FOR(wt_l_waiting(s.l) == (unsigned)i + 1);
    }
    weft_limiter_stats_t ls = wt_lstats(s.l);
    EXPECT(ls.total_tokens == 1 && ls.borrowed_tokens == 1 && ls.tasks_waiting == NW);
    EXPECT_RC(weft_limiter_release(s.l), 0);
    /* Handed over to the longest waiter: no newcomer overtakes. */
    EXPECT_RC(weft_limiter_try_acquire_on_behalf_of(s.l, &newcomer), WEFT_EAGAIN);
    EXPECT(wt_l_borrowed(s.l) == 1);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT(atomic_load(&s.next) == NW);
    for (int i = 0; i < NW; i++)
        EXPECT(s.order[i] == i);
    ls = wt_lstats(s.l);
    EXPECT(ls.total_tokens == 1 && ls.borrowed_tokens == 0 && ls.tasks_waiting == 0);
    weft_limiter_free(s.l);
    return 0;
}

static void test_fifo_order(void **st)
{
    (void)st;
    int obo = 0;
    WT_RUN_OK(fifo_main, &obo, 1);
    WT_RUN_OK(fifo_main, &obo, 2);
    WT_RUN_OK(fifo_main, &obo, 4);
    obo = 1;
    WT_RUN_OK(fifo_main, &obo, 1);
    WT_RUN_OK(fifo_main, &obo, 4);
}

/* ------------------------------------------------------------ cancellation */

static int cancellable_waiter(void *p)
{
    larg_t *a = p;
    lim_shared_t *s = a->s;
    weft_scope_t sc;
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    s->scope[a->i] = &sc;
    int rc = weft_limiter_acquire(s->l);
    s->rc[a->i] = rc;
    if (rc == 0) {
        s->order[atomic_fetch_add(&s->next, 1)] = a->i;
        atomic_fetch_add(&s->got, 1);
    } else {
        EXPECT_RC(rc, WEFT_ECANCELED);
    }
    atomic_fetch_add(&s->done, 1);
    EXPECT(wt_wait_flag(&s->go, 1, 10.0));
    /* Holds a token exactly when the acquire succeeded. */
    EXPECT_RC(weft_limiter_release(s->l), rc == 0 ? 0 : WEFT_EPERM);
    return weft_scope_exit(&sc, rc);
}

static int cancel_main(void *p)
{
    (void)p;
    lim_shared_t s;
    memset(&s, 0, sizeof s);
    larg_t args[3];
    weft_group_t g;
    EXPECT_RC(weft_limiter_new(&s.l, 1), 0);
    EXPECT_RC(weft_limiter_acquire(s.l), 0);
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < 3; i++) {
        args[i] = (larg_t){&s, i};
        EXPECT_RC(weft_group_spawn(&g, cancellable_waiter, &args[i]), 0);
        WAIT_FOR(wt_l_waiting(s.l) == (unsigned)i + 1);
    }
    weft_scope_cancel(s.scope[0]);
    WAIT_FOR(atomic_load(&s.done) == 1);
    weft_limiter_stats_t ls = wt_lstats(s.l);
    EXPECT(ls.borrowed_tokens == 1); /* the cancelled waiter took nothing */
    EXPECT(ls.tasks_waiting == 2);
    EXPECT_RC(s.rc[0], WEFT_ECANCELED);
    /* The next waiter gets the token. */
    EXPECT_RC(weft_limiter_release(s.l), 0);
    WAIT_FOR(atomic_load(&s.got) == 1);
    EXPECT(s.order[0] == 1);
    ls = wt_lstats(s.l);
    EXPECT(ls.borrowed_tokens == 1 && ls.tasks_waiting == 1);
    atomic_store(&s.go, 1); /* waiter 1 releases, waiter 2 gets it, releases */
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(s.rc[1], 0);
    EXPECT_RC(s.rc[2], 0);
    EXPECT(atomic_load(&s.got) == 2);
    EXPECT(s.order[1] == 2);
    ls = wt_lstats(s.l);
    EXPECT(ls.borrowed_tokens == 0 && ls.tasks_waiting == 0);
    weft_limiter_free(s.l);
    return 0;
}

static void test_cancelled_waiter_takes_nothing(void **st)
{
    (void)st;
    WT_RUN_OK(cancel_main, NULL, 1);
    WT_RUN_OK(cancel_main, NULL, 2);
}

/* A release and the cancellation of the first waiter at the same moment:
 * whichever wins, no token is lost or duplicated and the second waiter gets
 * one. */
static int race_main(void *p)
{
    (void)p;
    lim_shared_t s;
    memset(&s, 0, sizeof s);
    larg_t args[2];
    weft_group_t g;
    EXPECT_RC(weft_limiter_new(&s.l, 1), 0);
    EXPECT_RC(weft_limiter_acquire(s.l), 0);
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < 2; i++) {
        atomic_store(&s.rc[i], 1); /* not returned yet */
        args[i] = (larg_t){&s, i};
        EXPECT_RC(weft_group_spawn(&g, cancellable_waiter, &args[i]), 0);
        WAIT_FOR(wt_l_waiting(s.l) == (unsigned)i + 1);
    }
    EXPECT_RC(weft_limiter_release(s.l), 0);
    weft_scope_cancel(s.scope[0]);
    WAIT_FOR(atomic_load(&s.rc[0]) != 1);
    WAIT_FOR(atomic_load(&s.got) == 1);
    if (s.rc[0] == WEFT_ECANCELED) {
        EXPECT(s.order[0] == 1); /* the token went to the next waiter */
        EXPECT(wt_l_borrowed(s.l) == 1);
    } else {
        EXPECT_RC(s.rc[0], 0);
        EXPECT(s.order[0] == 0);
        EXPECT(wt_l_borrowed(s.l) == 1);
        EXPECT(wt_l_waiting(s.l) == 1);
    }
    atomic_store(&s.go, 1);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(s.rc[1], 0);
    weft_limiter_stats_t ls = wt_lstats(s.l);
    EXPECT(ls.borrowed_tokens == 0 && ls.tasks_waiting == 0);
    weft_limiter_free(s.l);
    return 0;
}

static void test_release_cancel_race(void **st)
{
    (void)st;
    for (int i = 0; i < 20; i++) {
        WT_RUN_OK(race_main, NULL, 1);
        WT_RUN_OK(race_main, NULL, 2);
    }
}

/* A deadline expiring while waiting: WEFT_ECANCELED caught by the scope. */
static int deadline_main(void *p)
{
    (void)p;
    weft_limiter_t *l;
    int other;
    weft_scope_t sc;
    EXPECT_RC(weft_limiter_new(&l, 1), 0);
    EXPECT_RC(weft_limiter_try_acquire_on_behalf_of(l, &other), 0);
    double t0 = weft_now();
    weft_move_on_after(&sc, 0.03);
    int rc = weft_limiter_acquire(l);
    EXPECT_RC(rc, WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&sc, rc), 0);
    EXPECT(weft_scope_cancelled_caught(&sc));
    EXPECT(weft_now() - t0 >= 0.025);
    EXPECT(weft_now() - t0 < 0.03 + WT_SLACK);
    weft_limiter_stats_t ls = wt_lstats(l);
    EXPECT(ls.borrowed_tokens == 1 && ls.tasks_waiting == 0);
    EXPECT_RC(weft_limiter_release(l), WEFT_EPERM);
    EXPECT_RC(weft_limiter_release_on_behalf_of(l, &other), 0);
    EXPECT_RC(weft_limiter_acquire(l), 0);
    EXPECT_RC(weft_limiter_release(l), 0);
    weft_limiter_free(l);
    return 0;
}

static void test_deadline_while_waiting(void **st)
{
    (void)st;
    WT_RUN_OK(deadline_main, NULL, 1);
}

/* ------------------------------------------------------------ changing the total */

static int total_waiter(void *p)
{
    larg_t *a = p;
    lim_shared_t *s = a->s;
    EXPECT_RC(weft_limiter_acquire(s->l), 0);
    s->order[atomic_fetch_add(&s->next, 1)] = a->i;
    atomic_fetch_add(&s->got, 1);
    EXPECT(wt_wait_flag(&s->release[a->i], 1, 10.0));
    EXPECT_RC(weft_limiter_release(s->l), 0);
    atomic_fetch_add(&s->done, 1);
    return 0;
}

static int set_total_main(void *p)
{
    (void)p;
    lim_shared_t s;
    memset(&s, 0, sizeof s);
    larg_t args[3];
    weft_group_t g;
    weft_limiter_stats_t ls;
    EXPECT_RC(weft_limiter_new(&s.l, 1), 0);
    EXPECT_RC(weft_limiter_acquire(s.l), 0);
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < 3; i++) {
        args[i] = (larg_t){&s, i};
        EXPECT_RC(weft_group_spawn(&g, total_waiter, &args[i]), 0);
        WAIT_FOR(wt_l_waiting(s.l) == (unsigned)i + 1);
    }
    /* Raising wakes waiters, first come first served. */
    EXPECT_RC(weft_limiter_set_total_tokens(s.l, 3), 0);
    WAIT_FOR(atomic_load(&s.got) == 2);
    ls = wt_lstats(s.l);
    EXPECT(ls.total_tokens == 3 && ls.borrowed_tokens == 3 && ls.tasks_waiting == 1);
    /* The two longest waiters got them (they may run in either order). */
    EXPECT((s.order[0] == 0 && s.order[1] == 1) || (s.order[0] == 1 && s.order[1] == 0));

    /* Lowering revokes nothing. */
    EXPECT_RC(weft_limiter_set_total_tokens(s.l, 1), 0);
    ls = wt_lstats(s.l);
    EXPECT(ls.total_tokens == 1 && ls.borrowed_tokens == 3 && ls.tasks_waiting == 1);
    /* Releases do not admit the waiter until borrowed < total. */
    EXPECT_RC(weft_limiter_release(s.l), 0);
    weft_sleep(0.02);
    EXPECT(atomic_load(&s.got) == 2);
    ls = wt_lstats(s.l);
    EXPECT(ls.borrowed_tokens == 2 && ls.tasks_waiting == 1);
    atomic_store(&s.release[0], 1);
    WAIT_FOR(atomic_load(&s.done) == 1);
    weft_sleep(0.02);
    EXPECT(atomic_load(&s.got) == 2);
    ls = wt_lstats(s.l);
    EXPECT(ls.borrowed_tokens == 1 && ls.tasks_waiting == 1);
    /* A try_acquire cannot get in either. */
    int x;
    EXPECT_RC(weft_limiter_try_acquire_on_behalf_of(s.l, &x), WEFT_EAGAIN);
    atomic_store(&s.release[1], 1);
    WAIT_FOR(atomic_load(&s.got) == 3);
    EXPECT(s.order[2] == 2);
    ls = wt_lstats(s.l);
    EXPECT(ls.total_tokens == 1 && ls.borrowed_tokens == 1 && ls.tasks_waiting == 0);
    atomic_store(&s.release[2], 1);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    ls = wt_lstats(s.l);
    EXPECT(ls.total_tokens == 1 && ls.borrowed_tokens == 0 && ls.tasks_waiting == 0);

    /* Raising with no waiter just makes tokens available. */
    EXPECT_RC(weft_limiter_set_total_tokens(s.l, 2), 0);
    int y;
    EXPECT_RC(weft_limiter_try_acquire_on_behalf_of(s.l, &x), 0);
    EXPECT_RC(weft_limiter_try_acquire_on_behalf_of(s.l, &y), 0);
    EXPECT_RC(weft_limiter_try_acquire(s.l), WEFT_EAGAIN);
    EXPECT_RC(weft_limiter_release_on_behalf_of(s.l, &x), 0);
    EXPECT_RC(weft_limiter_release_on_behalf_of(s.l, &y), 0);
    weft_limiter_free(s.l);
    return 0;
}

static void test_set_total_tokens(void **st)
{
    (void)st;
    WT_RUN_OK(set_total_main, NULL, 1);
    WT_RUN_OK(set_total_main, NULL, 2);
}

/* set_total_tokens from a plain thread wakes a waiting task. */
typedef struct {
    weft_limiter_t *l;
    int rc;
} raise_t;

static void *raise_later(void *p)
{
    raise_t *r = p;
    usleep(20000);
    r->rc = weft_limiter_set_total_tokens(r->l, 2);
    return NULL;
}

static int raise_from_thread_main(void *p)
{
    (void)p;
    raise_t r = {0};
    int other;
    EXPECT_RC(weft_limiter_new(&r.l, 1), 0);
    EXPECT_RC(weft_limiter_try_acquire_on_behalf_of(r.l, &other), 0);
    pthread_t th;
    WT_THREAD_START(&th, raise_later, &r);
    weft_scope_t sc;
    weft_fail_after(&sc, 5.0);
    EXPECT_RC(weft_scope_exit(&sc, weft_limiter_acquire(r.l)), 0);
    pthread_join(th, NULL);
    EXPECT_RC(r.rc, 0);
    weft_limiter_stats_t ls = wt_lstats(r.l);
    EXPECT(ls.total_tokens == 2 && ls.borrowed_tokens == 2 && ls.tasks_waiting == 0);
    EXPECT_RC(weft_limiter_release(r.l), 0);
    EXPECT_RC(weft_limiter_release_on_behalf_of(r.l, &other), 0);
    weft_limiter_free(r.l);
    return 0;
}

static void test_raise_from_thread(void **st)
{
    (void)st;
    WT_RUN_OK(raise_from_thread_main, NULL, 1);
    WT_RUN_OK(raise_from_thread_main, NULL, 2);
}

/* ------------------------------------------------------------ release from a plain thread */

typedef struct {
    weft_limiter_t *l;
    const void *borrower;
    int rc, rc2;
} rel_t;

static void *release_later(void *p)
{
    rel_t *r = p;
    usleep(20000);
    r->rc = weft_limiter_release_on_behalf_of(r->l, r->borrower);
    r->rc2 = weft_limiter_release_on_behalf_of(r->l, r->borrower);
    return NULL;
}

static int thread_release_main(void *p)
{
    (void)p;
    static const char borrower_obj[] = "borrowed by a request";
    rel_t r = {.borrower = borrower_obj};
    EXPECT_RC(weft_limiter_new(&r.l, 1), 0);
    EXPECT_RC(weft_limiter_acquire_on_behalf_of(r.l, borrower_obj), 0);
    pthread_t th;
    WT_THREAD_START(&th, release_later, &r);
    /* The task waits; the thread's release hands the token over. */
    weft_scope_t sc;
    weft_fail_after(&sc, 5.0);
    EXPECT_RC(weft_scope_exit(&sc, weft_limiter_acquire(r.l)), 0);
    pthread_join(th, NULL);
    EXPECT_RC(r.rc, 0);
    EXPECT_RC(r.rc2, WEFT_EPERM);
    weft_limiter_stats_t ls = wt_lstats(r.l);
    EXPECT(ls.borrowed_tokens == 1 && ls.tasks_waiting == 0);
    EXPECT_RC(weft_limiter_release(r.l), 0);
    EXPECT(wt_l_borrowed(r.l) == 0);
    weft_limiter_free(r.l);
    return 0;
}

static void test_release_from_thread(void **st)
{
    (void)st;
    WT_RUN_OK(thread_release_main, NULL, 1);
    WT_RUN_OK(thread_release_main, NULL, 2);
}

/* A limiter outlives runtimes and is shared by them. */
static int use_shared(void *p)
{
    weft_limiter_t *l = p;
    EXPECT_RC(weft_limiter_acquire(l), 0);
    EXPECT_RC(weft_limiter_acquire_on_behalf_of(l, l), 0);
    EXPECT_RC(weft_limiter_release(l), 0);
    return 0;
}

static void test_shared_across_runtimes(void **st)
{
    (void)st;
    weft_limiter_t *l;
    assert_rc(weft_limiter_new(&l, 2), 0);
    WT_RUN_OK(use_shared, l, 1);
    /* The on_behalf_of token survives the runtime. */
    assert_int_equal(wt_l_borrowed(l), 1);
    assert_rc(weft_limiter_release_on_behalf_of(l, l), 0);
    WT_RUN_OK(use_shared, l, 2);
    assert_rc(weft_limiter_release_on_behalf_of(l, l), 0);
    assert_int_equal(wt_l_borrowed(l), 0);
    weft_limiter_free(l);
}

/* ------------------------------------------------------------ default thread limiter */

typedef struct {
    unsigned want_total;
    weft_limiter_t *seen;
    weft_limiter_t *from_thread;
    atomic_int thread_done;
} def_t;

static void *default_from_plain(void *p)
{
    def_t *d = p;
    d->from_thread = weft_default_thread_limiter();
    atomic_store(&d->thread_done, 1);
    return NULL;
}

static int default_main(void *p)
{
    def_t *d = p;
    weft_limiter_t *l = weft_default_thread_limiter();
    EXPECT(l != NULL);
    if (!l)
        return 0;
    d->seen = l;
    EXPECT(weft_default_thread_limiter() == l);
    weft_limiter_stats_t ls = wt_lstats(l);
    EXPECT(ls.total_tokens == d->want_total);
    EXPECT(ls.borrowed_tokens == 0 && ls.tasks_waiting == 0);
    /* An ordinary limiter otherwise. */
    EXPECT_RC(weft_limiter_acquire(l), 0);
    EXPECT(wt_l_borrowed(l) == 1);
    EXPECT_RC(weft_limiter_release(l), 0);
    /* A plain thread that is no blocking thread of this runtime: NULL. */
    pthread_t th;
    d->from_thread = (weft_limiter_t *)1;
    WT_THREAD_START(&th, default_from_plain, d);
    WT_THREADS_FINISH(&th, 1, &d->thread_done, 1, 5.0);
    EXPECT(d->from_thread == NULL);
    return 0;
}

static void test_default_thread_limiter(void **st)
{
    (void)st;
    assert_null(weft_default_thread_limiter()); /* outside a runtime */
    def_t d = {.want_total = 7};
    assert_rc(wt_run_cfg(default_main, &d, 2, 7, 0), 0);
    WT_ASSERT_CLEAN();
    d = (def_t){.want_total = 40};
    assert_rc(wt_run_cfg(default_main, &d, 2, 0, 0), 0);
    WT_ASSERT_CLEAN();
    d = (def_t){.want_total = 1};
    assert_rc(wt_run_cfg(default_main, &d, 1, 1, 0), 0);
    WT_ASSERT_CLEAN();
    d = (def_t){.want_total = 40};
    atomic_store(&wt_fail_count, 0);
    assert_rc(weft_run(default_main, &d, NULL), 0);
    WT_ASSERT_CLEAN();
    assert_null(weft_default_thread_limiter());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_and_misuse),
        cmocka_unit_test(test_try_acquire_plain_threads),
        cmocka_unit_test(test_borrower_rules),
        cmocka_unit_test(test_acquire_in_cancelled_scope),
        cmocka_unit_test(test_fifo_order),
        cmocka_unit_test(test_cancelled_waiter_takes_nothing),
        cmocka_unit_test(test_release_cancel_race),
        cmocka_unit_test(test_deadline_while_waiting),
        cmocka_unit_test(test_set_total_tokens),
        cmocka_unit_test(test_raise_from_thread),
        cmocka_unit_test(test_release_from_thread),
        cmocka_unit_test(test_shared_across_runtimes),
        cmocka_unit_test(test_default_thread_limiter),
    };
    wt_apply_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
