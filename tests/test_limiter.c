/* Capacity limiters: creation, try_acquire, borrower rules (one token per
 * borrower, release of a token not held, on_behalf_of), borrowers in
 * cancelled scopes and cancelled waits, FIFO order for pointer borrowers,
 * changing the total, statistics, use from plain threads, the runtime's
 * default thread limiter.  The rules every waiting primitive shares (FIFO,
 * cancelled and granted waits) are test_waiting_contract.c's. */
#define _GNU_SOURCE
#include "thread_helpers.h"

/* ------------------------------------------------------------ creation, misuse */

static void new_and_misuse(void)
{
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

static void try_acquire_plain_threads(void)
{
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

static int borrower_rules(void *p)
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

/* Called in a cancelled scope, acquire_on_behalf_of reports it and takes
 * nothing for its borrower, even with tokens free; try_acquire is no
 * checkpoint: it still borrows there. */
static int on_behalf_of_in_cancelled_scope(void *p)
{
    (void)p;
    weft_limiter_t *l;
    weft_scope_t sc;
    int x;
    EXPECT_RC(weft_limiter_new(&l, 2), 0);
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    weft_scope_cancel(&sc);
    EXPECT_RC(weft_limiter_acquire_on_behalf_of(l, &x), WEFT_ECANCELED);
    EXPECT_RC(weft_limiter_acquire_on_behalf_of(l, &x), WEFT_ECANCELED);
    EXPECT(wt_l_borrowed(l) == 0);
    EXPECT_RC(weft_limiter_release(l), WEFT_EPERM);
    EXPECT_RC(weft_limiter_release_on_behalf_of(l, &x), WEFT_EPERM);
    EXPECT_RC(weft_limiter_try_acquire_on_behalf_of(l, &x), 0);
    EXPECT(wt_l_borrowed(l) == 1);
    EXPECT_RC(weft_limiter_release_on_behalf_of(l, &x), 0);
    EXPECT_RC(weft_scope_exit(&sc, WEFT_ECANCELED), 0);
    EXPECT(wt_l_borrowed(l) == 0);
    weft_limiter_free(l);
    return 0;
}

/* ------------------------------------------------------------ waiters */

#define NW 6

typedef struct {
    weft_limiter_t *l;
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
    int obo; /* borrows on behalf of this record, not as its task */
} larg_t;

static int borrow(larg_t *a)
{
    weft_limiter_t *l = a->s->l;
    return a->obo ? weft_limiter_acquire_on_behalf_of(l, a) : weft_limiter_acquire(l);
}

static int give_back(larg_t *a)
{
    weft_limiter_t *l = a->s->l;
    return a->obo ? weft_limiter_release_on_behalf_of(l, a) : weft_limiter_release(l);
}

/* Borrow, record the order of service, hold the token a little, return it. */
static int fifo_waiter(void *p)
{
    larg_t *a = p;
    lim_shared_t *s = a->s;
    EXPECT_RC(borrow(a), 0);
    s->order[atomic_fetch_add(&s->next, 1)] = a->i;
    weft_sleep(0.001); /* hold it a little: others must keep waiting */
    EXPECT_RC(give_back(a), 0);
    return 0;
}

/* Waiters borrowing on behalf of pointers are served in order too (each
 * handed its token with its borrower recorded), and a token released goes
 * to the longest waiter: no newcomer overtakes. */
static int fifo_order_on_behalf_of(void *p)
{
    (void)p;
    lim_shared_t s;
    memset(&s, 0, sizeof s);
    larg_t args[NW];
    weft_group_t g;
    int newcomer;
    EXPECT_RC(weft_limiter_new(&s.l, 1), 0);
    EXPECT_RC(weft_limiter_acquire(s.l), 0); /* main holds the only token */
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < NW; i++) {
        args[i] = (larg_t){&s, i, 1};
        EXPECT_RC(weft_group_spawn(&g, fifo_waiter, &args[i]), 0);
        WAIT_FOR(wt_l_waiting(s.l) == (unsigned)i + 1);
    }
    weft_limiter_stats_t ls = wt_lstats(s.l);
    EXPECT(ls.total_tokens == 1 && ls.borrowed_tokens == 1 && ls.tasks_waiting == NW);
    EXPECT_RC(weft_limiter_release(s.l), 0);
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

/* ------------------------------------------------------------ cancellation */

static int cancellable_waiter(void *p)
{
    larg_t *a = p;
    lim_shared_t *s = a->s;
    weft_scope_t sc;
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    s->scope[a->i] = &sc;
    int rc = borrow(a);
    if (rc == 0 && weft_scope_cancel_called(&sc))
        EXPECT_RC(weft_checkpoint(), WEFT_ECANCELED); /* granted: the next checkpoint says so */
    else if (rc != 0)
        EXPECT_RC(rc, WEFT_ECANCELED);
    s->rc[a->i] = rc;
    atomic_fetch_add(&s->done, 1);
    EXPECT(wt_wait_flag(&s->go, 1, 10.0));
    /* Holds a token exactly when the acquire succeeded. */
    EXPECT_RC(give_back(a), rc == 0 ? 0 : WEFT_EPERM);
    return weft_scope_exit(&sc, rc);
}

/* A waiter for a borrower pointer, cancelled at the moment a token is
 * released: the token goes to the next waiter (a task) and nothing of that
 * borrower is left behind (it holds nothing, may borrow again at once). */
static int cancelled_borrower_takes_nothing(void *p)
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
        args[i] = (larg_t){&s, i, i == 0};
        EXPECT_RC(weft_group_spawn(&g, cancellable_waiter, &args[i]), 0);
        WAIT_FOR(wt_l_waiting(s.l) == (unsigned)i + 1);
    }
    weft_scope_cancel(s.scope[0]);
    EXPECT_RC(weft_limiter_release(s.l), 0);
    WAIT_FOR(atomic_load(&s.done) == 2);
    EXPECT_RC(s.rc[0], WEFT_ECANCELED);
    EXPECT_RC(s.rc[1], 0);
    EXPECT_RC(weft_limiter_release_on_behalf_of(s.l, &args[0]), WEFT_EPERM);
    weft_limiter_stats_t ls = wt_lstats(s.l);
    EXPECT(ls.borrowed_tokens == 1 && ls.tasks_waiting == 0);
    atomic_store(&s.go, 1);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(weft_limiter_try_acquire_on_behalf_of(s.l, &args[0]), 0);
    EXPECT_RC(weft_limiter_release_on_behalf_of(s.l, &args[0]), 0);
    ls = wt_lstats(s.l);
    EXPECT(ls.borrowed_tokens == 0 && ls.tasks_waiting == 0);
    weft_limiter_free(s.l);
    return 0;
}

/* A token added by raising the total is handed over like a released one:
 * given to the waiter, whose scope is then cancelled before it ran, it is
 * the waiter's (the wait returns 0, its next checkpoint reports the
 * cancellation). */
static int raised_total_beats_cancel(void *p)
{
    (void)p;
    for (int round = 0; round < 20; round++) {
        lim_shared_t s;
        memset(&s, 0, sizeof s);
        larg_t a = {&s, 0, 0};
        weft_group_t g;
        EXPECT_RC(weft_limiter_new(&s.l, 1), 0);
        EXPECT_RC(weft_limiter_acquire(s.l), 0);
        EXPECT_RC(weft_group_open(&g), 0);
        EXPECT_RC(weft_group_spawn(&g, cancellable_waiter, &a), 0);
        WAIT_FOR(wt_l_waiting(s.l) == 1);
        EXPECT_RC(weft_limiter_set_total_tokens(s.l, 2), 0);
        weft_scope_cancel(s.scope[0]);
        WAIT_FOR(atomic_load(&s.done) == 1);
        EXPECT_RC(s.rc[0], 0);
        EXPECT(wt_l_borrowed(s.l) == 2);
        atomic_store(&s.go, 1);
        EXPECT_RC(weft_group_close(&g, 0), 0);
        EXPECT(wt_l_borrowed(s.l) == 1);
        EXPECT_RC(weft_limiter_release(s.l), 0);
        weft_limiter_free(s.l);
    }
    return 0;
}

/* A deadline expiring while waiting: WEFT_ECANCELED caught by the scope. */
static int deadline_while_waiting(void *p)
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

static int set_total_tokens(void *p)
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
        args[i] = (larg_t){&s, i, 0};
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

static int raise_from_thread(void *p)
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

static int release_from_thread(void *p)
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

/* A limiter outlives runtimes and is shared by them. */
static int use_shared(void *p)
{
    weft_limiter_t *l = p;
    EXPECT_RC(weft_limiter_acquire(l), 0);
    EXPECT_RC(weft_limiter_acquire_on_behalf_of(l, l), 0);
    EXPECT_RC(weft_limiter_release(l), 0);
    return 0;
}

static void shared_across_runtimes(void)
{
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

static void default_thread_limiter(void)
{
    assert_null(weft_default_thread_limiter()); /* outside a runtime */
    def_t d = {.want_total = 7};
    WT_RUN_CFG_OK(default_main, &d, 2, 7, 0);
    d = (def_t){.want_total = 40};
    WT_RUN_CFG_OK(default_main, &d, 2, 0, 0);
    d = (def_t){.want_total = 1};
    WT_RUN_CFG_OK(default_main, &d, 1, 1, 0);
    d = (def_t){.want_total = 40};
    WT_RUN_CONFIG_OK(default_main, &d, NULL); /* no config at all */
    assert_null(weft_default_thread_limiter());
}

static const wt_case_t cases[] = {
    WT_TEST(new_and_misuse),
    WT_TEST(try_acquire_plain_threads),
    WT_CASE(borrower_rules),
    WT_CASE_ON(on_behalf_of_in_cancelled_scope, WT_W1),
    WT_CASE_ON(fifo_order_on_behalf_of, WT_W1 | WT_W4),
    WT_CASE(cancelled_borrower_takes_nothing),
    WT_CASE(raised_total_beats_cancel),
    WT_CASE_ON(deadline_while_waiting, WT_W1),
    WT_CASE(set_total_tokens),
    WT_CASE(raise_from_thread),
    WT_CASE(release_from_thread),
    WT_TEST(shared_across_runtimes),
    WT_TEST(default_thread_limiter),
};
WT_SUITE(cases)
