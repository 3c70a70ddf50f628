/* weft_to_thread_run_sync: results, blocking threads (other threads, reuse,
 * idle exit, runtime shutdown waits for them), limiter bounds, cancellation
 * before / while waiting for a token / while fn runs (with and without
 * abandon_on_cancel), weft_from_thread_check_cancelled, wrong contexts,
 * nesting through weft_from_thread_run / run_sync, threads alive no more than
 * the calls in flight. */
#define _GNU_SOURCE
#include "thread_helpers.h"

/* ------------------------------------------------------------ result, thread */

typedef struct {
    pthread_t task_thread, fn_thread;
    int ret;
    atomic_int runs;
    int name_null, checkpoint_rc, check_cancelled_rc;
    weft_limiter_t *want_default, *seen_default;
    weft_limiter_t *custom;
    unsigned default_borrowed, custom_borrowed;
    weft_limiter_t *probe_default;
} res_t;

static int result_fn(void *p)
{
    res_t *r = p;
    atomic_fetch_add(&r->runs, 1);
    wt_mark_thread();
    r->fn_thread = pthread_self();
    r->name_null = weft_current_task_name() == NULL;
    r->checkpoint_rc = weft_checkpoint();
    r->check_cancelled_rc = weft_from_thread_check_cancelled();
    r->seen_default = weft_default_thread_limiter();
    r->default_borrowed = r->probe_default ? wt_l_borrowed(r->probe_default) : 0;
    r->custom_borrowed = r->custom ? wt_l_borrowed(r->custom) : 0;
    return r->ret;
}

static int result_main(void *p)
{
    (void)p;
    static const int rets[] = {0, -1234, WEFT_EINVAL, WEFT_ETIMEDOUT, -4000};
    weft_limiter_t *def = weft_default_thread_limiter();
    EXPECT(def != NULL);
    weft_thread_opts_t null_limiter = {0};
    for (size_t i = 0; i < sizeof rets / sizeof rets[0]; i++) {
        res_t r;
        memset(&r, 0, sizeof r);
        r.ret = rets[i];
        r.probe_default = def;
        r.task_thread = pthread_self();
        int rc = weft_to_thread_run_sync(result_fn, &r, i % 2 ? &null_limiter : NULL);
        EXPECT_RC(rc, rets[i]);
        EXPECT(atomic_load(&r.runs) == 1);
        EXPECT(!pthread_equal(r.fn_thread, r.task_thread));
        EXPECT(r.name_null);
        EXPECT_RC(r.checkpoint_rc, WEFT_EPERM);
        EXPECT_RC(r.check_cancelled_rc, 0);
        EXPECT(r.seen_default == def); /* also works on blocking threads */
        EXPECT(r.default_borrowed == 1); /* the default limiter was used */
        EXPECT(wt_l_borrowed(def) == 0);
    }

    /* A custom limiter is used instead of the default one. */
    res_t r;
    memset(&r, 0, sizeof r);
    r.ret = -55;
    r.probe_default = def;
    r.task_thread = pthread_self();
    EXPECT_RC(weft_limiter_new(&r.custom, 2), 0);
    weft_thread_opts_t o = {.limiter = r.custom};
    EXPECT_RC(weft_to_thread_run_sync(result_fn, &r, &o), -55);
    EXPECT(r.custom_borrowed == 1);
    EXPECT(r.default_borrowed == 0);
    EXPECT(wt_l_borrowed(r.custom) == 0);
    /* abandon_on_cancel without a cancellation: just the result. */
    o.abandon_on_cancel = 1;
    r.ret = -56;
    EXPECT_RC(weft_to_thread_run_sync(result_fn, &r, &o), -56);
    EXPECT(atomic_load(&r.runs) == 2);
    EXPECT(wt_l_borrowed(r.custom) == 0);
    weft_limiter_free(r.custom);
    return 0;
}

static void returns_result_on_other_thread(void)
{
    WT_RUN_OK(result_main, NULL, 1);
    WT_RUN_OK(result_main, NULL, 2);
    wt_assert_all_threads_exited();
}

/* ------------------------------------------------------------ reuse */

typedef struct {
    int fresh;
} reuse_t;

static int reuse_fn(void *p)
{
    reuse_t *r = p;
    r->fresh += wt_mark_thread();
    return 0;
}

static int reuse_main(void *p)
{
    (void)p;
    reuse_t r = {0};
    for (int i = 0; i < 20; i++) {
        EXPECT_RC(weft_to_thread_run_sync(reuse_fn, &r, NULL), 0);
        weft_sleep(0.01); /* time for the thread to go idle */
    }
    /* Sequential calls: the first one started a thread, the others found it
     * idle and reused it. */
    EXPECT(r.fresh == 1);
    return 0;
}

static void thread_reuse(void)
{
    WT_RUN_OK(reuse_main, NULL, 1);
    WT_RUN_OK(reuse_main, NULL, 2);
    wt_assert_all_threads_exited();
}

/* ------------------------------------------------------------ bounded by tokens */

typedef struct {
    weft_limiter_t *l; /* NULL: default limiter */
    atomic_int running, max_running, calls;
} bound_t;

static int bound_fn(void *p)
{
    bound_t *b = p;
    int n = atomic_fetch_add(&b->running, 1) + 1;
    wt_note_max(&b->max_running, n);
    usleep(3000);
    atomic_fetch_sub(&b->running, 1);
    atomic_fetch_add(&b->calls, 1);
    return 0;
}

static int bound_task(void *p)
{
    bound_t *b = p;
    weft_thread_opts_t o = {.limiter = b->l};
    for (int i = 0; i < 3; i++)
        EXPECT_RC(weft_to_thread_run_sync(bound_fn, b, &o), 0);
    return 0;
}

static int bound_main(void *p)
{
    bound_t *b = p;
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < 12; i++)
        EXPECT_RC(weft_group_spawn(&g, bound_task, b), 0);
    return weft_group_close(&g, 0);
}

static void threads_bounded_by_tokens(void)
{
    bound_t b;
    memset(&b, 0, sizeof b);
    assert_rc(weft_limiter_new(&b.l, 3), 0);
    WT_RUN_OK(bound_main, &b, 2);
    assert_int_equal(atomic_load(&b.calls), 36);
    assert_true(atomic_load(&b.max_running) <= 3);
    assert_true(atomic_load(&b.max_running) >= 2);
    assert_int_equal(wt_l_borrowed(b.l), 0);
    weft_limiter_free(b.l);

    /* The default limiter, sized by the config. */
    memset(&b, 0, sizeof b);
    WT_RUN_CFG_OK(bound_main, &b, 2, 2, 0);
    assert_int_equal(atomic_load(&b.calls), 36);
    assert_true(atomic_load(&b.max_running) <= 2);
    assert_true(atomic_load(&b.max_running) >= 1);
    memset(&b, 0, sizeof b);
    WT_RUN_CFG_OK(bound_main, &b, 4, 1, 0);
    assert_int_equal(atomic_load(&b.max_running), 1);
    wt_assert_all_threads_exited();
}

/* ------------------------------------------------------------ cancelled before fn starts */

static int cancelled_scope_never_runs(void *p)
{
    (void)p;
    atomic_int ran = 0;
    weft_limiter_t *l;
    weft_scope_t sc;
    EXPECT_RC(weft_limiter_new(&l, 4), 0);
    weft_thread_opts_t o = {.limiter = l};
    weft_thread_opts_t oa = {.limiter = l, .abandon_on_cancel = 1};
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    weft_scope_cancel(&sc);
    EXPECT_RC(weft_to_thread_run_sync(wt_count_fn, &ran, &o), WEFT_ECANCELED);
    EXPECT_RC(weft_to_thread_run_sync(wt_count_fn, &ran, &o), WEFT_ECANCELED);
    EXPECT_RC(weft_to_thread_run_sync(wt_count_fn, &ran, &oa), WEFT_ECANCELED);
    EXPECT_RC(weft_to_thread_run_sync(wt_count_fn, &ran, NULL), WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&sc, WEFT_ECANCELED), 0);
    /* Expired deadline. */
    weft_move_on_after(&sc, 0);
    EXPECT_RC(weft_to_thread_run_sync(wt_count_fn, &ran, &oa), WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&sc, WEFT_ECANCELED), 0);
    weft_sleep(0.05);
    EXPECT(atomic_load(&ran) == 0);
    EXPECT(wt_l_borrowed(l) == 0);
    /* Fine afterwards. */
    EXPECT_RC(weft_to_thread_run_sync(wt_count_fn, &ran, &o), 0);
    EXPECT(atomic_load(&ran) == 1);
    weft_limiter_free(l);
    return 0;
}

/* ------------------------------------------------------------ cancelled while waiting for a token */

typedef struct {
    weft_limiter_t *l;
    atomic_int holding, go, ran, returned;
    atomic_int rc;
    weft_scope_t *scope;
    int abandon;
    double deadline; /* relative; WEFT_FOREVER: cancelled by main */
} tokwait_t;

static int token_holder(void *p)
{
    tokwait_t *t = p;
    EXPECT_RC(weft_limiter_acquire(t->l), 0);
    WT_GATE_TASK(&t->holding, &t->go);
    EXPECT_RC(weft_limiter_release(t->l), 0);
    return 0;
}

static int token_waiter(void *p)
{
    tokwait_t *t = p;
    weft_scope_t sc;
    weft_thread_opts_t o = {.limiter = t->l, .abandon_on_cancel = t->abandon};
    weft_move_on_after(&sc, t->deadline);
    t->scope = &sc;
    int rc = weft_to_thread_run_sync(wt_count_fn, &t->ran, &o);
    atomic_store(&t->rc, rc);
    atomic_store(&t->returned, 1);
    EXPECT(wt_wait_flag(&t->go, 1, 10.0)); /* keep the scope alive */
    return weft_scope_exit(&sc, rc);
}

static void token_wait_variant(int variant)
{
    tokwait_t t;
    memset(&t, 0, sizeof t);
    t.abandon = variant & 1;
    t.deadline = variant & 2 ? 0.03 : WEFT_FOREVER;
    weft_group_t g;
    EXPECT_RC(weft_limiter_new(&t.l, 1), 0);
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, token_holder, &t), 0);
    WAIT_FOR(atomic_load(&t.holding) == 1);
    EXPECT_RC(weft_group_spawn(&g, token_waiter, &t), 0);
    WAIT_FOR(wt_l_waiting(t.l) == 1 || atomic_load(&t.returned));
    if (t.deadline == WEFT_FOREVER) {
        EXPECT(atomic_load(&t.returned) == 0);
        weft_scope_cancel(t.scope);
    }
    WAIT_FOR(atomic_load(&t.returned) == 1);
    EXPECT_RC(atomic_load(&t.rc), WEFT_ECANCELED);
    EXPECT(wt_l_waiting(t.l) == 0);
    EXPECT(wt_l_borrowed(t.l) == 1); /* still the holder's only */
    atomic_store(&t.go, 1);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    weft_sleep(0.02);
    EXPECT(atomic_load(&t.ran) == 0);
    EXPECT(wt_l_borrowed(t.l) == 0);
    weft_thread_opts_t o = {.limiter = t.l};
    EXPECT_RC(weft_to_thread_run_sync(wt_count_fn, &t.ran, &o), 0);
    EXPECT(atomic_load(&t.ran) == 1);
    weft_limiter_free(t.l);
}

/* Cancelled by the caller or by a deadline, abandonable or not. */
static int cancel_while_waiting_for_token(void *p)
{
    (void)p;
    for (int v = 0; v < 4; v++)
        token_wait_variant(v);
    return 0;
}

/* ------------------------------------------------------------ cancelled while fn runs, no abandon */

typedef struct {
    atomic_int started, release, fn_done, returned, cancelled;
    atomic_int task_rc;
    int cc_before, cc_after, cc_polled;
    weft_scope_t *scope;
    int abandon;
    weft_limiter_t *l;
    /* abandon bookkeeping */
    pthread_t fn_thread, ab_thread;
    void *ab_arg;
    atomic_int ab_calls;
    int ab_rc;
    unsigned borrowed_in_ab;
    int fn_ret;
} run_t;

/* Blocks until main sets `release`; reports what check_cancelled said. */
static int blocking_fn(void *p)
{
    run_t *r = p;
    r->fn_thread = pthread_self();
    r->cc_before = weft_from_thread_check_cancelled();
    WT_GATE_THREAD(&r->started, &r->release, "blocking_fn was never released");
    r->cc_after = weft_from_thread_check_cancelled();
    atomic_store(&r->fn_done, 1);
    return r->fn_ret;
}

static int running_waiter(void *p)
{
    run_t *r = p;
    weft_scope_t sc;
    weft_thread_opts_t o = {.limiter = r->l};
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    r->scope = &sc;
    int rc = weft_to_thread_run_sync(blocking_fn, r, &o);
    atomic_store(&r->task_rc, rc);
    EXPECT(atomic_load(&r->fn_done) == 1); /* waited for fn */
    atomic_store(&r->returned, 1);
    /* The cancellation shows at the next checkpoint. */
    int cp = weft_checkpoint();
    EXPECT_RC(cp, WEFT_ECANCELED);
    return weft_scope_exit(&sc, cp);
}

static int cancel_while_running_waits(void *p)
{
    (void)p;
    run_t r;
    memset(&r, 0, sizeof r);
    r.fn_ret = -1234;
    weft_group_t g;
    EXPECT_RC(weft_limiter_new(&r.l, 1), 0);
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, running_waiter, &r), 0);
    WAIT_FOR(atomic_load(&r.started) == 1);
    weft_scope_cancel(r.scope);
    weft_sleep(0.05);
    EXPECT(atomic_load(&r.returned) == 0); /* still waiting for fn */
    EXPECT(wt_l_borrowed(r.l) == 1);
    atomic_store(&r.release, 1);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT(atomic_load(&r.returned) == 1);
    EXPECT_RC(atomic_load(&r.task_rc), -1234); /* fn's result */
    EXPECT_RC(r.cc_before, 0);
    EXPECT_RC(r.cc_after, WEFT_ECANCELED);
    EXPECT(wt_l_borrowed(r.l) == 0);
    weft_limiter_free(r.l);
    return 0;
}

/* ------------------------------------------------------------ check_cancelled polling */

typedef struct {
    atomic_int started, saw_cancel, cancelled_by_main, returned;
    int cc_first, cc_after_main_cancel;
    double deadline;   /* relative deadline of the waiter's scope */
    int shielded;      /* to_thread in a shielded scope inside the cancelled one */
    weft_scope_t *outer;
} poll_t;

static int polling_fn(void *p)
{
    poll_t *q = p;
    q->cc_first = weft_from_thread_check_cancelled();
    atomic_store(&q->started, 1);
    if (q->shielded) {
        /* The host is shielded: cancelling the outer scope does not reach it. */
        if (!wt_spin_until(&q->cancelled_by_main, 1, 10.0))
            wt_failf(__FILE__, __LINE__, "never cancelled");
        usleep(5000);
        q->cc_after_main_cancel = weft_from_thread_check_cancelled();
        return -77;
    }
    double end = weft_now() + 10.0;
    while (weft_now() < end) {
        int rc = weft_from_thread_check_cancelled();
        if (rc == WEFT_ECANCELED) {
            atomic_store(&q->saw_cancel, 1);
            /* Level: it stays so. */
            if (weft_from_thread_check_cancelled() != WEFT_ECANCELED)
                wt_failf(__FILE__, __LINE__, "check_cancelled not level");
            return -77;
        }
        if (rc != 0) {
            wt_failf(__FILE__, __LINE__, "check_cancelled = %d", rc);
            return rc;
        }
        usleep(200);
    }
    wt_failf(__FILE__, __LINE__, "polling_fn never saw the cancellation");
    return -78;
}

static int polling_waiter(void *p)
{
    poll_t *q = p;
    weft_scope_t outer, inner;
    weft_move_on_after(&outer, q->deadline);
    q->outer = &outer;
    weft_scope_enter(&inner, WEFT_FOREVER, q->shielded ? WEFT_SHIELD : 0);
    int rc = weft_to_thread_run_sync(polling_fn, q, NULL);
    EXPECT_RC(rc, -77);
    rc = weft_scope_exit(&inner, 0);
    EXPECT_RC(rc, 0);
    atomic_store(&q->returned, 1);
    weft_checkpoint();
    return weft_scope_exit(&outer, 0);
}

static void polling_variant(int variant)
{
    poll_t q;
    memset(&q, 0, sizeof q);
    q.deadline = variant == 1 ? 0.2 : WEFT_FOREVER;
    q.shielded = variant == 2;
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, polling_waiter, &q), 0);
    WAIT_FOR(atomic_load(&q.started) == 1);
    if (variant != 1) {
        weft_sleep(0.02);
        EXPECT(atomic_load(&q.saw_cancel) == 0);
        weft_scope_cancel(q.outer);
        atomic_store(&q.cancelled_by_main, 1);
    }
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT(atomic_load(&q.returned) == 1);
    EXPECT_RC(q.cc_first, 0);
    if (q.shielded) {
        EXPECT_RC(q.cc_after_main_cancel, 0);
        EXPECT(atomic_load(&q.saw_cancel) == 0);
    } else {
        EXPECT(atomic_load(&q.saw_cancel) == 1);
    }
}

/* Cancelled by the caller, by a deadline, or shielded from it. */
static int check_cancelled_polling(void *p)
{
    (void)p;
    for (int v = 0; v < 3; v++)
        polling_variant(v);
    return 0;
}

/* ------------------------------------------------------------ abandon_on_cancel */

static void on_abandoned(void *arg, int rc)
{
    run_t *r = arg;
    r->ab_thread = pthread_self();
    r->ab_arg = arg;
    r->ab_rc = rc;
    r->borrowed_in_ab = r->l ? wt_l_borrowed(r->l) : 0;
    atomic_fetch_add(&r->ab_calls, 1);
}

static int abandon_waiter(void *p)
{
    run_t *r = p;
    weft_scope_t sc;
    weft_thread_opts_t o = {.limiter = r->l, .abandon_on_cancel = 1,
                            .on_abandoned = on_abandoned};
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    r->scope = &sc;
    int rc = weft_to_thread_run_sync(blocking_fn, r, &o);
    atomic_store(&r->task_rc, rc);
    atomic_store(&r->returned, 1);
    return weft_scope_exit(&sc, rc);
}

static int abandon_on_cancel(void *p)
{
    (void)p;
    run_t r;
    memset(&r, 0, sizeof r);
    r.fn_ret = -4321;
    weft_group_t g;
    EXPECT_RC(weft_limiter_new(&r.l, 1), 0);
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, abandon_waiter, &r), 0);
    WAIT_FOR(atomic_load(&r.started) == 1);
    double t0 = weft_now();
    weft_scope_cancel(r.scope);
    WAIT_FOR(atomic_load(&r.returned) == 1);
    EXPECT(weft_now() - t0 < 0.05 + WT_SLACK); /* promptly */
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(atomic_load(&r.task_rc), WEFT_ECANCELED);
    /* fn still blocked, still holding the token, no callback yet. */
    EXPECT(atomic_load(&r.fn_done) == 0);
    EXPECT(wt_l_borrowed(r.l) == 1);
    EXPECT(atomic_load(&r.ab_calls) == 0);
    /* Another call on this limiter waits for the token. */
    {
        weft_scope_t sc;
        atomic_int ran = 0;
        weft_thread_opts_t o = {.limiter = r.l};
        weft_move_on_after(&sc, 0.03);
        int rc = weft_to_thread_run_sync(wt_count_fn, &ran, &o);
        EXPECT_RC(rc, WEFT_ECANCELED);
        weft_scope_exit(&sc, rc);
        EXPECT(atomic_load(&ran) == 0);
    }
    atomic_store(&r.release, 1);
    WAIT_FOR(atomic_load(&r.ab_calls) == 1);
    EXPECT(atomic_load(&r.fn_done) == 1);
    EXPECT(r.ab_arg == &r);
    EXPECT_RC(r.ab_rc, -4321);
    EXPECT(pthread_equal(r.ab_thread, r.fn_thread));
    EXPECT(r.borrowed_in_ab == 0); /* released when fn returned */
    EXPECT_RC(r.cc_before, 0);
    EXPECT_RC(r.cc_after, WEFT_ECANCELED); /* the call was abandoned */
    EXPECT(wt_l_borrowed(r.l) == 0);
    weft_sleep(0.02);
    EXPECT(atomic_load(&r.ab_calls) == 1);
    weft_limiter_free(r.l);
    return 0;
}

/* A deadline abandons a call; no on_abandoned given; the default limiter. */
typedef struct {
    atomic_int fn_done;
    atomic_int ab_calls;
} sleepy_t;

static int sleepy_fn(void *p)
{
    sleepy_t *s = p;
    usleep(200000);
    atomic_store(&s->fn_done, 1);
    return -9;
}

static void sleepy_abandoned(void *arg, int rc)
{
    sleepy_t *s = arg;
    if (rc != -9)
        wt_failf(__FILE__, __LINE__, "on_abandoned rc %d, expected -9", rc);
    if (!atomic_load(&s->fn_done))
        wt_failf(__FILE__, __LINE__, "on_abandoned before fn returned");
    atomic_fetch_add(&s->ab_calls, 1);
}

static int abandon_by_deadline(void *p)
{
    (void)p;
    sleepy_t s[2] = {0};
    weft_scope_t sc;
    weft_thread_opts_t o = {.abandon_on_cancel = 1};
    weft_limiter_t *def = weft_default_thread_limiter();
    weft_move_on_after(&sc, 0.03);
    int rc = weft_to_thread_run_sync(sleepy_fn, &s[0], &o);
    EXPECT_RC(rc, WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&sc, rc), 0);
    EXPECT(atomic_load(&s[0].fn_done) == 0); /* returned before fn did */
    EXPECT(wt_l_borrowed(def) == 1);
    /* Now with a callback. */
    o.on_abandoned = sleepy_abandoned;
    weft_move_on_after(&sc, 0.03);
    rc = weft_to_thread_run_sync(sleepy_fn, &s[1], &o);
    EXPECT_RC(rc, WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&sc, rc), 0);
    EXPECT(wt_l_borrowed(def) == 2);
    WAIT_FOR(atomic_load(&s[0].fn_done) == 1 && atomic_load(&s[1].ab_calls) == 1);
    WAIT_FOR(wt_l_borrowed(def) == 0);
    EXPECT(atomic_load(&s[0].ab_calls) == 0);
    EXPECT(atomic_load(&s[1].ab_calls) == 1);
    return 0;
}

/* An abandoned call keeps its limiter alive until its function returns:
 * freeing the limiter meanwhile is allowed (it is not "in use" by anyone
 * who could still release into it), unlike freeing one a task borrows from
 * (tests/test_death.c). */
static int free_limiter_of_abandoned_call(void *p)
{
    (void)p;
    sleepy_t s = {0};
    weft_limiter_t *l;
    EXPECT_RC(weft_limiter_new(&l, 1), 0);
    weft_scope_t sc;
    weft_thread_opts_t o = {.limiter = l, .abandon_on_cancel = 1, .on_abandoned = sleepy_abandoned};
    weft_move_on_after(&sc, 0.03);
    int rc = weft_to_thread_run_sync(sleepy_fn, &s, &o);
    EXPECT_RC(weft_scope_exit(&sc, rc), 0);
    EXPECT_RC(rc, WEFT_ECANCELED);
    EXPECT(wt_l_borrowed(l) == 1); /* the thread still runs fn with the token */
    weft_limiter_free(l);          /* no abort; freed once fn returns (LSan) */
    WAIT_FOR(atomic_load(&s.ab_calls) == 1);
    return 0;
}

/* ------------------------------------------------------------ idle exit */

typedef struct {
    int expect_exit;
} idle_t;

static int fresh_fn(void *p)
{
    *(int *)p = wt_mark_thread();
    return 0;
}

static int idle_main(void *p)
{
    idle_t *c = p;
    int fresh = 0;
    int base_started = atomic_load(&wt_threads_started);
    int base_exited = atomic_load(&wt_threads_exited);
    EXPECT(base_started == base_exited); /* no leftovers */
    EXPECT_RC(weft_to_thread_run_sync(fresh_fn, &fresh, NULL), 0);
    EXPECT(fresh == 1);
    EXPECT(atomic_load(&wt_threads_started) == base_started + 1);
    weft_sleep(0.3);
    if (c->expect_exit) {
        WAIT_FOR(atomic_load(&wt_threads_exited) == base_exited + 1);
        /* The next call needs a new thread. */
        EXPECT_RC(weft_to_thread_run_sync(fresh_fn, &fresh, NULL), 0);
        EXPECT(fresh == 1);
        EXPECT(atomic_load(&wt_threads_started) == base_started + 2);
    } else {
        /* Default idle timeout (10 s): still there, and reused. */
        EXPECT(atomic_load(&wt_threads_exited) == base_exited);
        EXPECT_RC(weft_to_thread_run_sync(fresh_fn, &fresh, NULL), 0);
        EXPECT(fresh == 0);
        EXPECT(atomic_load(&wt_threads_started) == base_started + 1);
    }
    return 0;
}

static void idle_exit(void)
{
    idle_t c = {.expect_exit = 1};
    WT_RUN_CFG_OK(idle_main, &c, 2, 0, 0.05);
    wt_assert_all_threads_exited();
    c.expect_exit = 0;
    WT_RUN_CFG_OK(idle_main, &c, 2, 0, 0);
    wt_assert_all_threads_exited();
}

/* ------------------------------------------------------------ weft_run waits for blocking threads */

typedef struct {
    atomic_int fn_started, fn_done, ab_done, ab_calls;
    int ab_rc;
    weft_scope_t *scope;
} late_t;

static int late_fn(void *p)
{
    late_t *l = p;
    wt_mark_thread();
    atomic_store(&l->fn_started, 1);
    usleep(200000);
    atomic_store(&l->fn_done, 1);
    return -31;
}

static void late_abandoned(void *arg, int rc)
{
    late_t *l = arg;
    l->ab_rc = rc;
    usleep(20000);
    atomic_fetch_add(&l->ab_calls, 1);
    atomic_store(&l->ab_done, 1);
}

/* Abandons the call once fn runs (a deadline could pass before a thread
 * took it, on a busy machine: then fn would never run). */
static int cancel_once_started(void *p)
{
    late_t *l = p;
    EXPECT(wt_wait_flag(&l->fn_started, 1, 30.0));
    weft_scope_cancel(l->scope);
    return 0;
}

static int late_main(void *p)
{
    late_t *l = p;
    weft_scope_t sc;
    weft_group_t g;
    weft_thread_opts_t o = {.abandon_on_cancel = 1, .on_abandoned = late_abandoned};
    l->scope = &sc;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, cancel_once_started, l), 0);
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    int rc = weft_to_thread_run_sync(late_fn, l, &o);
    EXPECT_RC(rc, WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&sc, rc), 0);
    EXPECT(atomic_load(&l->fn_done) == 0);
    return weft_group_close(&g, 0);
}

static void run_waits_for_blocking_threads(void)
{
    for (int i = 0; i < 3; i++) {
        late_t l;
        memset(&l, 0, sizeof l);
        double t0 = weft_now();
        WT_RUN_OK(late_main, &l, i + 1);
        assert_int_equal(atomic_load(&l.fn_done), 1);
        assert_int_equal(atomic_load(&l.ab_done), 1);
        assert_int_equal(atomic_load(&l.ab_calls), 1);
        assert_rc(l.ab_rc, -31);
        assert_true(weft_now() - t0 >= 0.19);
        wt_assert_all_threads_exited();
    }
}

/* ------------------------------------------------------------ wrong contexts */

typedef struct {
    int nested_rc;
    atomic_int ran;
} ctx_t;

static int nested_to_thread_fn(void *p)
{
    ctx_t *c = p;
    /* A blocking thread is no task. */
    c->nested_rc = weft_to_thread_run_sync(wt_count_fn, &c->ran, NULL);
    return 0;
}

static int wrong_context_main(void *p)
{
    ctx_t *c = p;
    EXPECT_RC(weft_to_thread_run_sync(NULL, NULL, NULL), WEFT_EINVAL);
    weft_thread_opts_t o = {.abandon_on_cancel = 1};
    EXPECT_RC(weft_to_thread_run_sync(NULL, c, &o), WEFT_EINVAL);
    EXPECT_RC(weft_to_thread_run_sync(nested_to_thread_fn, c, NULL), 0);
    EXPECT_RC(c->nested_rc, WEFT_EPERM);
    EXPECT(atomic_load(&c->ran) == 0);
    EXPECT(wt_l_borrowed(weft_default_thread_limiter()) == 0);
    return 0;
}

static void wrong_context(void)
{
    ctx_t c;
    memset(&c, 0, sizeof c);
    assert_rc(weft_to_thread_run_sync(wt_count_fn, &c.ran, NULL), WEFT_EPERM);
    weft_limiter_t *l;
    assert_rc(weft_limiter_new(&l, 1), 0);
    weft_thread_opts_t o = {.limiter = l};
    assert_rc(weft_to_thread_run_sync(wt_count_fn, &c.ran, &o), WEFT_EPERM);
    assert_int_equal(wt_l_borrowed(l), 0);
    weft_limiter_free(l);
    assert_int_equal(atomic_load(&c.ran), 0);
    WT_RUN_OK(wrong_context_main, &c, 1);
    assert_rc(weft_from_thread_check_cancelled(), WEFT_EPERM);
}

/* ------------------------------------------------------------ nesting */

typedef struct {
    int value;
    pthread_t a_thread, c_thread;
    int b_named, a_unnamed, c_unnamed;
} nest_t;

static int nest_d(void *p) /* run_sync: on a worker */
{
    nest_t *n = p;
    n->value *= 7;
    return -4;
}

static int nest_c(void *p) /* blocking thread */
{
    nest_t *n = p;
    n->c_thread = pthread_self();
    n->c_unnamed = weft_current_task_name() == NULL;
    int rc = weft_from_thread_run_sync(nest_d, n);
    if (rc != -4)
        wt_failf(__FILE__, __LINE__, "run_sync = %d, expected -4", rc);
    n->value += 1;
    return -3;
}

static int nest_b(void *p) /* a task */
{
    nest_t *n = p;
    n->b_named = weft_current_task_name() != NULL;
    EXPECT_RC(weft_checkpoint(), 0);
    EXPECT_RC(weft_to_thread_run_sync(nest_c, n, NULL), -3);
    n->value *= 10;
    return -2;
}

static int nest_a(void *p) /* blocking thread */
{
    nest_t *n = p;
    n->a_thread = pthread_self();
    n->a_unnamed = weft_current_task_name() == NULL;
    int rc = weft_from_thread_run(nest_b, n);
    if (rc != -2)
        wt_failf(__FILE__, __LINE__, "from_thread_run = %d, expected -2", rc);
    n->value += 5;
    return -1;
}

static int nest_main(void *p)
{
    (void)p;
    for (int i = 0; i < 5; i++) {
        nest_t n;
        memset(&n, 0, sizeof n);
        n.value = 3;
        EXPECT_RC(weft_to_thread_run_sync(nest_a, &n, NULL), -1);
        EXPECT(n.value == ((3 * 7) + 1) * 10 + 5);
        EXPECT(n.b_named && n.a_unnamed && n.c_unnamed);
        EXPECT(!pthread_equal(n.a_thread, n.c_thread)); /* a's thread was busy */
    }
    EXPECT(wt_l_borrowed(weft_default_thread_limiter()) == 0);
    return 0;
}

static void nesting(void)
{
    WT_RUN_OK(nest_main, NULL, 1);
    WT_RUN_OK(nest_main, NULL, 2);
    wt_assert_all_threads_exited();
}

/* An abandonable call that ends in WEFT_ECANCELED before fn ran still hands
 * arg to on_abandoned (on the calling task, before it returns), so that
 * the caller never has to guess who frees arg. */
typedef struct {
    atomic_int calls, rc, fn_ran;
    const char *on_task; /* the task on_abandoned ran on, if any */
} handoff_t;

static int handoff_fn(void *p)
{
    atomic_store(&((handoff_t *)p)->fn_ran, 1);
    return 0;
}

static void handoff_abandoned(void *p, int rc)
{
    handoff_t *h = p;
    h->on_task = weft_current_task_name();
    atomic_store(&h->rc, rc);
    atomic_fetch_add(&h->calls, 1);
}

static int abandonable_handoff_before_start(void *p)
{
    (void)p;
    weft_limiter_t *l;
    EXPECT_RC(weft_limiter_new(&l, 1), 0);
    weft_thread_opts_t o = {.limiter = l, .abandon_on_cancel = 1,
                            .on_abandoned = handoff_abandoned};
    /* Cancelled at the call: fn never runs. */
    handoff_t h1;
    memset(&h1, 0, sizeof h1);
    weft_scope_t sc;
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    weft_scope_cancel(&sc);
    EXPECT_RC(weft_to_thread_run_sync(handoff_fn, &h1, &o), WEFT_ECANCELED);
    weft_scope_exit(&sc, WEFT_ECANCELED);
    EXPECT(atomic_load(&h1.calls) == 1 && atomic_load(&h1.rc) == WEFT_ECANCELED);
    EXPECT(!atomic_load(&h1.fn_ran) && h1.on_task != NULL); /* on the calling task */
    /* Cancelled while waiting for the limiter's only token. */
    EXPECT_RC(weft_limiter_acquire(l), 0);
    handoff_t h2;
    memset(&h2, 0, sizeof h2);
    weft_move_on_after(&sc, 0.02);
    int rc = weft_to_thread_run_sync(handoff_fn, &h2, &o);
    EXPECT_RC(rc, WEFT_ECANCELED);
    weft_scope_exit(&sc, rc);
    EXPECT(atomic_load(&h2.calls) == 1 && atomic_load(&h2.rc) == WEFT_ECANCELED);
    EXPECT(!atomic_load(&h2.fn_ran));
    EXPECT_RC(weft_limiter_release(l), 0);
    /* Not cancelled: the caller keeps arg, on_abandoned never runs. */
    handoff_t h3;
    memset(&h3, 0, sizeof h3);
    EXPECT_RC(weft_to_thread_run_sync(handoff_fn, &h3, &o), 0);
    EXPECT(atomic_load(&h3.calls) == 0 && atomic_load(&h3.fn_ran));
    weft_limiter_free(l);
    return 0;
}

/* A call queued right behind a short one, while the thread that ran the
 * short one is stuck in a call that blocks until the queued one has run:
 * the pool bets that a thread cycling through short calls will take the
 * new one, and must notice when the bet loses (else this deadlocks). */
typedef struct {
    atomic_int blocker_running, released, short_calls;
} stuck_t;

static int release_blocker(void *p)
{
    atomic_store(&((stuck_t *)p)->released, 1);
    return 0;
}

static int blocker(void *p)
{
    stuck_t *s = p;
    atomic_store(&s->blocker_running, 1);
    double give_up = weft_now() + 10.0;
    while (!atomic_load(&s->released))
        if (weft_now() > give_up)
            return -ETIMEDOUT;
    return 0;
}

static int cycle_then_block(void *p)
{
    stuck_t *s = p;
    for (int i = 0; i < 50; i++)
        EXPECT_RC(weft_to_thread_run_sync(wt_count_fn, &s->short_calls, NULL), 0);
    EXPECT(atomic_load(&s->short_calls) == 50);
    return weft_to_thread_run_sync(blocker, p, NULL);
}

static int submit_releaser(void *p)
{
    stuck_t *s = p;
    while (!atomic_load(&s->blocker_running))
        weft_checkpoint();
    return weft_to_thread_run_sync(release_blocker, s, NULL);
}

static int queued_behind_stuck_thread(void *p)
{
    (void)p;
    for (int round = 0; round < 20; round++) {
        stuck_t s;
        memset(&s, 0, sizeof s);
        weft_group_t g;
        EXPECT_RC(weft_group_open(&g), 0);
        weft_group_spawn(&g, cycle_then_block, &s);
        weft_group_spawn(&g, submit_releaser, &s);
        EXPECT_RC(weft_group_close(&g, 0), 0);
    }
    return 0;
}

/* Blocking threads alive follow the calls in flight: ten tasks calling one
 * after another keep at most ten threads busy, so the pool never needs more
 * than ten (plus the two its contract allows for the moments around a
 * hand-over).  A thread that finished its call and is on its way back to the
 * queue, or a sleeper woken and not yet run by the kernel, is one the next
 * call will get: before the pool counted those, it kept 18-28 threads here
 * (and 60-90 for 40 callers). */
#define IN_FLIGHT_CALLERS 10

typedef struct {
    atomic_int callers_done;
    unsigned max_alive;
} in_flight_t;

static int short_sleep_fn(void *p)
{
    (void)p;
    usleep(20);
    return 0;
}

static int in_flight_caller(void *p)
{
    in_flight_t *f = p;
    for (int i = 0; i < 300; i++)
        EXPECT_RC(weft_to_thread_run_sync(short_sleep_fn, NULL, NULL), 0);
    atomic_fetch_add(&f->callers_done, 1);
    return 0;
}

static int in_flight_sampler(void *p)
{
    in_flight_t *f = p;
    while (atomic_load(&f->callers_done) < IN_FLIGHT_CALLERS) {
        weft_runtime_stats_t st;
        EXPECT_RC(weft_runtime_stats(&st), 0);
        if (st.threads_alive > f->max_alive)
            f->max_alive = st.threads_alive;
        EXPECT_RC(weft_sleep(0.001), 0);
    }
    return 0;
}

static int threads_follow_calls_in_flight(void *p)
{
    (void)p;
    in_flight_t f = {0};
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < IN_FLIGHT_CALLERS; i++)
        EXPECT_RC(weft_group_spawn(&g, in_flight_caller, &f), 0);
    EXPECT_RC(weft_group_spawn(&g, in_flight_sampler, &f), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    weft_runtime_stats_t st;
    EXPECT_RC(weft_runtime_stats(&st), 0);
    if (st.threads_alive > f.max_alive)
        f.max_alive = st.threads_alive;
    if (f.max_alive > IN_FLIGHT_CALLERS + 2)
        fprintf(stderr, "%u blocking threads alive for %d calls in flight\n", f.max_alive,
                IN_FLIGHT_CALLERS);
    EXPECT(f.max_alive >= 1 && f.max_alive <= IN_FLIGHT_CALLERS + 2);
    return 0;
}

static const wt_case_t cases[] = {
    WT_TEST(returns_result_on_other_thread),
    WT_TEST(thread_reuse),
    WT_TEST(threads_bounded_by_tokens),
    WT_CASE(cancelled_scope_never_runs),
    WT_CASE(cancel_while_waiting_for_token),
    WT_CASE(cancel_while_running_waits),
    WT_CASE(check_cancelled_polling),
    WT_CASE(abandon_on_cancel),
    WT_CASE_ON(abandon_by_deadline, WT_W2),
    WT_CASE(free_limiter_of_abandoned_call),
    WT_TEST(idle_exit),
    WT_TEST(run_waits_for_blocking_threads),
    WT_TEST(wrong_context),
    WT_TEST(nesting),
    WT_CASE_ON(queued_behind_stuck_thread, WT_W2),
    WT_CASE_ON(abandonable_handoff_before_start, WT_W2),
    WT_CASE_ON(threads_follow_calls_in_flight, WT_W2),
};
WT_SUITE(cases)
