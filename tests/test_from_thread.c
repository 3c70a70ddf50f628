/* weft_from_thread_*: calling into the runtime from its blocking threads
 * (run as a task, run_sync on a worker), cancellation through the host task,
 * abandoned calls, wrong contexts, tokens from foreign threads (reference
 * counting, use after the runtime finished, token tasks at shutdown). */
#define _GNU_SOURCE
#include "thread_helpers.h"

/* ------------------------------------------------------------ from a blocking thread */

typedef struct {
    weft_event_t *e;
    atomic_int task_ran, sync_ran, never;
    int name_ok, cp_rc, sleep_rc;
    int s_cp, s_sleep, s_run, s_run_sync, s_check, s_event_wait;
    int run_rc, run_sync_rc, run_null, run_sync_null;
} bt_t;

static int as_task(void *p)
{
    bt_t *b = p;
    b->name_ok = weft_current_task_name() != NULL;
    b->cp_rc = weft_checkpoint();
    b->sleep_rc = weft_sleep(0.001);
    atomic_fetch_add(&b->task_ran, 1);
    return -77;
}

static int on_worker(void *p)
{
    bt_t *b = p;
    b->s_cp = weft_checkpoint();
    b->s_sleep = weft_sleep(0.001);
    weft_event_set(b->e);
    b->s_event_wait = weft_event_wait(b->e); /* a checkpoint too */
    /* It runs on a worker: calling back in would wait for itself. */
    b->s_run = weft_from_thread_run(wt_count_fn, &b->never);
    b->s_run_sync = weft_from_thread_run_sync(wt_count_fn, &b->never);
    b->s_check = weft_from_thread_check_cancelled();
    atomic_fetch_add(&b->sync_ran, 1);
    return -88;
}

static int blocking_calls(void *p)
{
    bt_t *b = p;
    b->run_rc = weft_from_thread_run(as_task, b);
    b->run_sync_rc = weft_from_thread_run_sync(on_worker, b);
    b->run_null = weft_from_thread_run(NULL, NULL);
    b->run_sync_null = weft_from_thread_run_sync(NULL, NULL);
    return 0;
}

static int run_from_blocking_thread(void *p)
{
    (void)p;
    for (int i = 0; i < 3; i++) {
        bt_t b;
        memset(&b, 0, sizeof b);
        EXPECT_RC(weft_event_new(&b.e), 0);
        EXPECT_RC(weft_to_thread_run_sync(blocking_calls, &b, NULL), 0);
        EXPECT_RC(b.run_rc, -77);
        EXPECT(atomic_load(&b.task_ran) == 1);
        EXPECT(b.name_ok);
        EXPECT_RC(b.cp_rc, 0);
        EXPECT_RC(b.sleep_rc, 0);
        EXPECT_RC(b.run_sync_rc, -88);
        EXPECT(atomic_load(&b.sync_ran) == 1);
        EXPECT_RC(b.s_cp, WEFT_EPERM);
        EXPECT_RC(b.s_sleep, WEFT_EPERM);
        EXPECT_RC(b.s_event_wait, WEFT_EPERM);
        EXPECT_RC(b.s_run, WEFT_EPERM);
        EXPECT_RC(b.s_run_sync, WEFT_EPERM);
        EXPECT_RC(b.s_check, WEFT_EPERM);
        EXPECT_RC(b.run_null, WEFT_EINVAL);
        EXPECT_RC(b.run_sync_null, WEFT_EINVAL);
        EXPECT(atomic_load(&b.never) == 0);
        EXPECT(weft_event_is_set(b.e));
        EXPECT_RC(weft_event_wait(b.e), 0);
        weft_event_free(b.e);
    }
    return 0;
}

/* run_sync's fn may cancel a scope and spawn into a group. */
typedef struct {
    weft_scope_t *victim;
    weft_group_t *g;
    atomic_int waiting, woken_rc, spawned_ran;
    int spawn_rc;
} ctl_t;

static int victim_task(void *p)
{
    ctl_t *c = p;
    weft_scope_t sc;
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    c->victim = &sc;
    atomic_store(&c->waiting, 1);
    int rc = weft_sleep(WEFT_FOREVER);
    atomic_store(&c->woken_rc, rc);
    return weft_scope_exit(&sc, rc);
}

static int spawned_task(void *p)
{
    ctl_t *c = p;
    EXPECT_RC(weft_checkpoint(), 0);
    atomic_fetch_add(&c->spawned_ran, 1);
    return 0;
}

static int cancel_and_spawn(void *p)
{
    ctl_t *c = p;
    weft_scope_cancel(c->victim);
    c->spawn_rc = weft_group_spawn(c->g, spawned_task, c);
    return 0;
}

static int ctl_blocking(void *p)
{
    return weft_from_thread_run_sync(cancel_and_spawn, p);
}

static int run_sync_cancels_and_spawns(void *p)
{
    (void)p;
    ctl_t c;
    memset(&c, 0, sizeof c);
    weft_group_t g;
    c.g = &g;
    atomic_store(&c.woken_rc, 1);
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, victim_task, &c), 0);
    WAIT_FOR(atomic_load(&c.waiting) == 1);
    EXPECT_RC(weft_to_thread_run_sync(ctl_blocking, &c, NULL), 0);
    EXPECT_RC(c.spawn_rc, 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(atomic_load(&c.woken_rc), WEFT_ECANCELED);
    EXPECT(atomic_load(&c.spawned_ran) == 1);
    return 0;
}

/* ------------------------------------------------------------ cancellation through the host */

typedef struct {
    weft_scope_t *host_scope;
    atomic_int sleeper_started, host_returned, release, blk_done;
    atomic_int sleeper_rc, run_rc, host_rc;
    atomic_int late_ran;
    int late_rc;
    int abandon;
} host_t;

static int sleeper(void *p)
{
    host_t *h = p;
    atomic_store(&h->sleeper_started, 1);
    int rc = weft_sleep(WEFT_FOREVER);
    atomic_store(&h->sleeper_rc, rc);
    return rc;
}

static int host_blocking(void *p)
{
    host_t *h = p;
    atomic_store(&h->run_rc, weft_from_thread_run(sleeper, h));
    return -55;
}

static int host_task(void *p)
{
    host_t *h = p;
    weft_scope_t sc;
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    h->host_scope = &sc;
    int rc = weft_to_thread_run_sync(host_blocking, h, NULL);
    atomic_store(&h->host_rc, rc);
    atomic_store(&h->host_returned, 1);
    return weft_scope_exit(&sc, weft_checkpoint());
}

static int run_cancelled_with_host(void *p)
{
    (void)p;
    host_t h;
    memset(&h, 0, sizeof h);
    atomic_store(&h.sleeper_rc, 1);
    atomic_store(&h.run_rc, 1);
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, host_task, &h), 0);
    WAIT_FOR(atomic_load(&h.sleeper_started) == 1);
    weft_sleep(0.01);
    EXPECT(atomic_load(&h.host_returned) == 0);
    weft_scope_cancel(h.host_scope);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(atomic_load(&h.sleeper_rc), WEFT_ECANCELED);
    EXPECT_RC(atomic_load(&h.run_rc), WEFT_ECANCELED);
    EXPECT_RC(atomic_load(&h.host_rc), -55); /* the blocking fn's result */
    return 0;
}

/* The host was cancelled before the blocking thread calls in: the task runs
 * in a cancelled scope (or does not run at all), never succeeds quietly. */
typedef struct {
    weft_scope_t *scope;
    atomic_int started, cancelled, release;
    atomic_int ran;
    int cp_rc, run_rc, host_rc;
} late_t;

static int late_task(void *p)
{
    late_t *l = p;
    atomic_fetch_add(&l->ran, 1);
    l->cp_rc = weft_checkpoint();
    return l->cp_rc;
}

static int late_blocking(void *p)
{
    late_t *l = p;
    WT_GATE_THREAD(&l->started, &l->cancelled, "never cancelled");
    l->run_rc = weft_from_thread_run(late_task, l);
    return -56;
}

static int late_host(void *p)
{
    late_t *l = p;
    weft_scope_t sc;
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    l->scope = &sc;
    l->host_rc = weft_to_thread_run_sync(late_blocking, l, NULL);
    return weft_scope_exit(&sc, weft_checkpoint());
}

static int run_in_cancelled_host(void *p)
{
    (void)p;
    late_t l;
    memset(&l, 0, sizeof l);
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, late_host, &l), 0);
    WAIT_FOR(atomic_load(&l.started) == 1);
    weft_scope_cancel(l.scope);
    atomic_store(&l.cancelled, 1);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(l.host_rc, -56);
    EXPECT_RC(l.run_rc, WEFT_ECANCELED);
    if (atomic_load(&l.ran))
        EXPECT_RC(l.cp_rc, WEFT_ECANCELED);
    return 0;
}

/* Once the host abandoned the call, run returns WEFT_ECANCELED without
 * running fn. */
typedef struct {
    weft_scope_t *scope;
    atomic_int started, release, done, host_returned;
    atomic_int ran;
    int run_rc, check_rc;
    atomic_int host_rc;
} ab_t;

static int ab_blocking(void *p)
{
    ab_t *a = p;
    WT_GATE_THREAD(&a->started, &a->release, "never released");
    a->check_rc = weft_from_thread_check_cancelled();
    a->run_rc = weft_from_thread_run(wt_count_fn, &a->ran);
    atomic_store(&a->done, 1);
    return 0;
}

static int ab_host(void *p)
{
    ab_t *a = p;
    weft_scope_t sc;
    weft_thread_opts_t o = {.abandon_on_cancel = 1};
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    a->scope = &sc;
    int rc = weft_to_thread_run_sync(ab_blocking, a, &o);
    atomic_store(&a->host_rc, rc);
    atomic_store(&a->host_returned, 1);
    return weft_scope_exit(&sc, rc);
}

static int run_after_abandon(void *p)
{
    (void)p;
    ab_t a;
    memset(&a, 0, sizeof a);
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, ab_host, &a), 0);
    WAIT_FOR(atomic_load(&a.started) == 1);
    weft_scope_cancel(a.scope);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT(atomic_load(&a.host_returned) == 1);
    EXPECT_RC(atomic_load(&a.host_rc), WEFT_ECANCELED);
    EXPECT(atomic_load(&a.done) == 0);
    atomic_store(&a.release, 1);
    WAIT_FOR(atomic_load(&a.done) == 1);
    EXPECT_RC(a.check_rc, WEFT_ECANCELED);
    EXPECT_RC(a.run_rc, WEFT_ECANCELED);
    weft_sleep(0.01);
    EXPECT(atomic_load(&a.ran) == 0);
    return 0;
}

/* ------------------------------------------------------------ wrong contexts */

typedef struct {
    atomic_int ran;
    int plain_run, plain_run_sync, plain_check;
    weft_token_t *plain_token;
    atomic_int done;
} wrong_t;

static void plain_calls(wrong_t *w)
{
    w->plain_run = weft_from_thread_run(wt_count_fn, &w->ran);
    w->plain_run_sync = weft_from_thread_run_sync(wt_count_fn, &w->ran);
    w->plain_check = weft_from_thread_check_cancelled();
    w->plain_token = weft_current_token();
}

static void *plain_thread(void *p)
{
    wrong_t *w = p;
    plain_calls(w);
    atomic_store(&w->done, 1);
    return NULL;
}

static int wrong_contexts_in_task(void *p)
{
    (void)p;
    wrong_t w;
    memset(&w, 0, sizeof w);
    weft_token_t *t = WT_CURRENT_TOKEN();
    /* From a task every form would wait for itself. */
    EXPECT_RC(weft_from_thread_run(wt_count_fn, &w.ran), WEFT_EPERM);
    EXPECT_RC(weft_from_thread_run_sync(wt_count_fn, &w.ran), WEFT_EPERM);
    EXPECT_RC(weft_from_thread_run_token(t, wt_count_fn, &w.ran), WEFT_EPERM);
    EXPECT_RC(weft_from_thread_run_sync_token(t, wt_count_fn, &w.ran), WEFT_EPERM);
    EXPECT_RC(weft_from_thread_check_cancelled(), WEFT_EPERM);
    weft_token_release(t);
    /* A plain thread of our own, no token: not a blocking thread. */
    pthread_t th;
    w.plain_token = (weft_token_t *)1;
    WT_THREAD_START(&th, plain_thread, &w);
    WT_THREADS_FINISH(&th, 1, &w.done, 1, 5.0);
    EXPECT_RC(w.plain_run, WEFT_EPERM);
    EXPECT_RC(w.plain_run_sync, WEFT_EPERM);
    EXPECT_RC(w.plain_check, WEFT_EPERM);
    EXPECT(w.plain_token == NULL);
    EXPECT(atomic_load(&w.ran) == 0);
    return 0;
}

/* A plain test: the calls from the test's thread come first. */
static void wrong_contexts(void)
{
    wrong_t w;
    memset(&w, 0, sizeof w);
    /* The test thread: no runtime at all. */
    plain_calls(&w);
    assert_rc(w.plain_run, WEFT_EPERM);
    assert_rc(w.plain_run_sync, WEFT_EPERM);
    assert_rc(w.plain_check, WEFT_EPERM);
    assert_null(w.plain_token);
    assert_rc(weft_from_thread_run_token(NULL, wt_count_fn, &w.ran), WEFT_EINVAL);
    assert_rc(weft_from_thread_run_sync_token(NULL, wt_count_fn, &w.ran), WEFT_EINVAL);
    assert_int_equal(atomic_load(&w.ran), 0);
    WT_RUN_OK(wrong_contexts_in_task, NULL, 1);
    WT_RUN_OK(wrong_contexts_in_task, NULL, 2);
}

/* ------------------------------------------------------------ tokens from foreign threads */

typedef struct {
    weft_token_t *t;
    weft_event_t *e;
    atomic_int done;
    atomic_int task_ran;
    int name_ok, cp_rc;
    int run_rc, run_sync_rc, null_fn_run, null_fn_sync, plain_run, check_rc;
    int s_cp;
} tok_t;

static int tok_task(void *p)
{
    tok_t *k = p;
    k->name_ok = weft_current_task_name() != NULL;
    k->cp_rc = weft_sleep(0.001);
    atomic_fetch_add(&k->task_ran, 1);
    return -21;
}

static int tok_set_event(void *p)
{
    tok_t *k = p;
    k->s_cp = weft_checkpoint();
    weft_event_set(k->e);
    return -22;
}

static void *foreign_thread(void *p)
{
    tok_t *k = p;
    k->run_rc = weft_from_thread_run_token(k->t, tok_task, k);
    k->null_fn_run = weft_from_thread_run_token(k->t, NULL, NULL);
    k->null_fn_sync = weft_from_thread_run_sync_token(k->t, NULL, NULL);
    k->plain_run = weft_from_thread_run(tok_task, k); /* no token: EPERM */
    k->check_rc = weft_from_thread_check_cancelled();
    usleep(10000);
    k->run_sync_rc = weft_from_thread_run_sync_token(k->t, tok_set_event, k);
    atomic_store(&k->done, 1);
    return NULL;
}

static int token_main(void *p)
{
    (void)p;
    tok_t k;
    memset(&k, 0, sizeof k);
    weft_token_t *t2;
    k.t = WT_CURRENT_TOKEN();
    t2 = WT_CURRENT_TOKEN(); /* a second reference */
    if (!k.t || !t2)
        return 0;
    weft_token_release(k.t); /* drop the first: the second still works */
    k.t = t2;
    EXPECT_RC(weft_event_new(&k.e), 0);
    pthread_t th;
    WT_THREAD_START(&th, foreign_thread, &k);
    weft_scope_t sc;
    weft_fail_after(&sc, 5.0);
    EXPECT_RC(weft_scope_exit(&sc, weft_event_wait(k.e)), 0);
    WT_THREADS_FINISH(&th, 1, &k.done, 1, 5.0);
    EXPECT_RC(k.run_rc, -21);
    EXPECT(atomic_load(&k.task_ran) == 1);
    EXPECT(k.name_ok);
    EXPECT_RC(k.cp_rc, 0);
    EXPECT_RC(k.null_fn_run, WEFT_EINVAL);
    EXPECT_RC(k.null_fn_sync, WEFT_EINVAL);
    EXPECT_RC(k.plain_run, WEFT_EPERM);
    EXPECT_RC(k.check_rc, WEFT_EPERM);
    EXPECT_RC(k.run_sync_rc, -22);
    EXPECT_RC(k.s_cp, WEFT_EPERM);
    weft_token_release(k.t);
    weft_event_free(k.e);
    return 0;
}

/* A plain test: what weft_run leaves on its caller's thread (no token once
 * it returned) is under test too, so the second run calls weft_run
 * directly, not through the runner (which runs it on a thread of its own). */
static void token_from_foreign_thread(void)
{
    WT_RUN_OK(token_main, NULL, 1);
    weft_config_t cfg = {.workers = 2};
    int rc = weft_run(token_main, NULL, &cfg);
    WT_ASSERT_CLEAN();
    assert_rc(rc, 0);
    assert_null(weft_current_token());
}

/* A token kept past the end of its runtime: WEFT_EBADF, then released. */
static int keep_token_main(void *p)
{
    weft_token_t **out = p;
    out[0] = WT_CURRENT_TOKEN();
    out[1] = WT_CURRENT_TOKEN();
    return 0;
}

static void *use_dead_token(void *p)
{
    weft_token_t *t = p;
    atomic_int ran = 0;
    int a, b;
    wt_token_call_both(t, wt_count_fn, &ran, &a, &b);
    return (void *)(intptr_t)(a == WEFT_EBADF && b == WEFT_EBADF && atomic_load(&ran) == 0);
}

static void token_after_run(void)
{
    weft_token_t *t[2] = {NULL, NULL};
    atomic_int ran = 0;
    WT_RUN_OK(keep_token_main, t, 2);
    assert_non_null(t[0]);
    assert_non_null(t[1]);
    assert_rc(weft_from_thread_run_token(t[0], wt_count_fn, &ran), WEFT_EBADF);
    assert_rc(weft_from_thread_run_sync_token(t[0], wt_count_fn, &ran), WEFT_EBADF);
    weft_token_release(t[0]);
    /* The other reference, from another thread. */
    pthread_t th;
    void *ok = NULL;
    assert_int_equal(pthread_create(&th, NULL, use_dead_token, t[1]), 0);
    pthread_join(th, &ok);
    assert_true(ok == (void *)1);
    assert_rc(weft_from_thread_run_sync_token(t[1], wt_count_fn, &ran), WEFT_EBADF);
    weft_token_release(t[1]);
    assert_int_equal(atomic_load(&ran), 0);
}

/* main returns while a foreign thread's token task sleeps forever: weft_run
 * still returns (the task is cancelled), and later calls see WEFT_EBADF. */
typedef struct {
    weft_token_t *t;
    atomic_int started;
    atomic_int task_rc;
    int call_rc, later_run, later_sync;
    atomic_int ran;
} forever_t;

static int forever_task(void *p)
{
    forever_t *f = p;
    atomic_store(&f->started, 1);
    int rc = weft_sleep(WEFT_FOREVER);
    atomic_store(&f->task_rc, rc);
    return rc;
}

static void *forever_caller(void *p)
{
    forever_t *f = p;
    f->call_rc = weft_from_thread_run_token(f->t, forever_task, f);
    wt_token_call_both(f->t, wt_count_fn, &f->ran, &f->later_run, &f->later_sync);
    weft_token_release(f->t);
    return NULL;
}

static pthread_t forever_thread;

static int forever_main(void *p)
{
    forever_t *f = p;
    f->t = WT_CURRENT_TOKEN();
    WT_THREAD_START(&forever_thread, forever_caller, f);
    WAIT_FOR(atomic_load(&f->started) == 1);
    return 0;
}

/* A plain test: the token task and the foreign thread end with the runtime. */
static void token_task_at_shutdown(void)
{
    for (unsigned w = 1; w <= 2; w++) {
        forever_t f;
        memset(&f, 0, sizeof f);
        atomic_store(&f.task_rc, 1);
        WT_RUN_OK(forever_main, &f, w);
        pthread_join(forever_thread, NULL);
        assert_rc(atomic_load(&f.task_rc), WEFT_ECANCELED);
        assert_true(f.call_rc == WEFT_ECANCELED || f.call_rc == WEFT_EBADF);
        assert_rc(f.later_run, WEFT_EBADF);
        assert_rc(f.later_sync, WEFT_EBADF);
        assert_int_equal(atomic_load(&f.ran), 0);
    }
}

/* ------------------------------------------------------------ many blocking threads calling in */

#define NB 8
#define NCALLS 50

typedef struct {
    atomic_int tasks, syncs;
} many_t;

static int many_task(void *p)
{
    many_t *m = p;
    EXPECT_RC(weft_checkpoint(), 0);
    atomic_fetch_add(&m->tasks, 1);
    return 0;
}

static int many_sync(void *p)
{
    many_t *m = p;
    atomic_fetch_add(&m->syncs, 1);
    return -3;
}

static int many_blocking(void *p)
{
    many_t *m = p;
    for (int i = 0; i < NCALLS; i++) {
        int rc = weft_from_thread_run(many_task, m);
        if (rc != 0)
            wt_failf(__FILE__, __LINE__, "run = %d", rc);
        rc = weft_from_thread_run_sync(many_sync, m);
        if (rc != -3)
            wt_failf(__FILE__, __LINE__, "run_sync = %d", rc);
    }
    return 0;
}

static int many_host(void *p)
{
    EXPECT_RC(weft_to_thread_run_sync(many_blocking, p, NULL), 0);
    return 0;
}

static int many_blocking_threads_call_in(void *p)
{
    (void)p;
    many_t m;
    memset(&m, 0, sizeof m);
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < NB; i++)
        EXPECT_RC(weft_group_spawn(&g, many_host, &m), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT(atomic_load(&m.tasks) == NB * NCALLS);
    EXPECT(atomic_load(&m.syncs) == NB * NCALLS);
    return 0;
}

static const wt_case_t cases[] = {
    WT_CASE(run_from_blocking_thread),
    WT_CASE(run_sync_cancels_and_spawns),
    WT_CASE(run_cancelled_with_host),
    WT_CASE(run_in_cancelled_host),
    WT_CASE(run_after_abandon),
    WT_TEST(wrong_contexts),
    WT_TEST(token_from_foreign_thread),
    WT_TEST(token_after_run),
    WT_TEST(token_task_at_shutdown),
    WT_CASE_ON(many_blocking_threads_call_in, WT_W1 | WT_W2 | WT_W4),
};
WT_SUITE(cases)
