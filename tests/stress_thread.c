/* Stress: thread bridges.
 *  - offload storm: many weft_to_thread_run_sync calls from many tasks
 *    through three limiters (1, 4, 16 tokens) with random tiny deadlines,
 *    with and without abandon_on_cancel, while another task changes the
 *    totals at random.  Invariants: per limiter the fns running at once never
 *    exceed the largest total ever set; every fn that started finished, and
 *    ran at most once; a call cancelled before its fn started never runs it;
 *    on_abandoned ran exactly once per abandoned call (with fn's result) and
 *    per abandonable call cancelled before fn started (with WEFT_ECANCELED);
 *    no token is left borrowed at the end.  Once more with a tiny idle
 *    timeout, so that blocking threads exit and start all the time.
 *  - foreign threads: 8 plain threads calling in through a token (run and
 *    run_sync) and through a portal (call, spawn + wait) at once; exact sums.
 *  - token calls racing shutdown: foreign threads keep calling in through a
 *    token while main returns; every call completes, is cancelled or gets
 *    WEFT_EBADF, none hangs, none runs its fn twice.
 *  - shutdown: main returns while abandoned fns still sleep (random tiny idle
 *    timeouts race thread exits too); weft_run returns only after every fn
 *    and every on_abandoned finished and the blocking threads exited.
 * Sizes scale with WEFT_STRESS_SCALE; much smaller under TSan. */
/* WEFT_TEST_TIMEOUT 600 */
#define _GNU_SOURCE
#include "thread_helpers.h"

#include <sched.h>
#include <time.h>

/* ------------------------------------------------------------ offload storm */

#define NLIM 3
#define STORM_TASKS 32
static const unsigned base_tokens[NLIM] = {1, 4, 16};

typedef struct {
    weft_limiter_t *l;
    atomic_int running, max_running;
    atomic_int max_total; /* the largest total ever set (raised before setting) */
    atomic_long calls;
} lim_t;

typedef struct {
    lim_t *L;
    uint64_t seed;
    int ret;
    unsigned char abandon, has_cb;
    atomic_int started, finished, ab_calls;
    int ab_rc;
    int rc;
} rec_t;

typedef struct {
    lim_t lims[NLIM];
    rec_t *recs;
    int rounds;
    atomic_int tasks_done;
    atomic_long total_sets;
} storm_t;

typedef struct {
    storm_t *s;
    int id;
} sarg_t;

static int storm_fn(void *p)
{
    rec_t *c = p;
    lim_t *L = c->L;
    uint64_t r = c->seed;
    wt_mark_thread();
    atomic_fetch_add(&c->started, 1);
    int n = atomic_fetch_add(&L->running, 1) + 1;
    wt_note_max(&L->max_running, n);
    switch ((r >> 8) % 8) {
    case 4:
    case 5:
        sched_yield();
        break;
    case 6:
        usleep((useconds_t)((r >> 16) % 60));
        break;
    case 7:
        /* poll for cancellation a few times */
        for (int i = 0; i < 4; i++) {
            int cc = weft_from_thread_check_cancelled();
            if (cc == WEFT_ECANCELED)
                break;
            if (cc != 0)
                wt_failf(__FILE__, __LINE__, "check_cancelled = %d", cc);
            usleep(10);
        }
        break;
    default:
        break;
    }
    atomic_fetch_sub(&L->running, 1);
    atomic_fetch_add(&L->calls, 1);
    int ret = c->ret;
    atomic_fetch_add(&c->finished, 1);
    return ret;
}

static void storm_abandoned(void *arg, int rc)
{
    rec_t *c = arg;
    c->ab_rc = rc;
    if (atomic_load(&c->started) && atomic_load(&c->finished) != 1)
        wt_failf(__FILE__, __LINE__, "on_abandoned before fn finished");
    atomic_fetch_add(&c->ab_calls, 1);
}

static int storm_task(void *p)
{
    sarg_t *a = p;
    storm_t *s = a->s;
    uint64_t rng = 0x7e57 + (uint64_t)a->id * 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < s->rounds; i++) {
        int idx = a->id * s->rounds + i;
        rec_t *c = &s->recs[idx];
        uint64_t x = wt_rand(&rng);
        c->L = &s->lims[x % NLIM];
        c->abandon = (x >> 4) % 2;
        c->has_cb = (x >> 5) % 4 != 0;
        c->seed = wt_rand(&rng);
        c->ret = -(1000 + idx % 3000);
        weft_thread_opts_t o = {.limiter = c->L->l,
                                .abandon_on_cancel = c->abandon,
                                .on_abandoned = c->has_cb ? storm_abandoned : NULL};
        weft_scope_t sc;
        weft_move_on_after(&sc, wt_tiny_deadline(&rng, 0.3, 0.1));
        int rc = weft_to_thread_run_sync(storm_fn, c, &o);
        c->rc = rc;
        weft_scope_exit(&sc, rc);
    }
    atomic_fetch_add(&s->tasks_done, 1);
    return 0;
}

static int total_changer(void *p)
{
    storm_t *s = p;
    uint64_t rng = 0xc4a9;
    while (atomic_load(&s->tasks_done) < STORM_TASKS) {
        uint64_t x = wt_rand(&rng);
        lim_t *L = &s->lims[x % NLIM];
        unsigned base = base_tokens[x % NLIM];
        int t = 1 + (int)((x >> 8) % (2 * base));
        wt_note_max(&L->max_total, t);
        EXPECT_RC(weft_limiter_set_total_tokens(L->l, (unsigned)t), 0);
        atomic_fetch_add(&s->total_sets, 1);
        weft_sleep(wt_randf(&rng) * 0.001);
    }
    return 0;
}

static int storm_main(void *p)
{
    storm_t *s = p;
    sarg_t args[STORM_TASKS];
    weft_group_t g;
    weft_scope_t safety;
    weft_fail_after(&safety, 300.0);
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, total_changer, s), 0);
    for (int i = 0; i < STORM_TASKS; i++) {
        args[i] = (sarg_t){s, i};
        EXPECT_RC(weft_group_spawn(&g, storm_task, &args[i]), 0);
    }
    EXPECT_RC(weft_scope_exit(&safety, weft_group_close(&g, 0)), 0);
    return 0;
}

static void run_storm(int calls, double idle)
{
    storm_t s;
    memset(&s, 0, sizeof s);
    s.rounds = calls / STORM_TASKS < 1 ? 1 : calls / STORM_TASKS;
    int n = s.rounds * STORM_TASKS;
    s.recs = calloc((size_t)n, sizeof *s.recs);
    assert_non_null(s.recs);
    for (int k = 0; k < NLIM; k++) {
        assert_rc(weft_limiter_new(&s.lims[k].l, base_tokens[k]), 0);
        atomic_store(&s.lims[k].max_total, (int)base_tokens[k]);
    }
    WT_RUN_CFG_OK(storm_main, &s, 4, 0, idle);

    long ran = 0, cancelled_before = 0, abandoned = 0, abandoned_cb = 0, waited = 0;
    for (int i = 0; i < n; i++) {
        rec_t *c = &s.recs[i];
        int started = atomic_load(&c->started), finished = atomic_load(&c->finished);
        int ab = atomic_load(&c->ab_calls);
        if (started > 1 || finished != started) {
            print_error("call %d: started %d, finished %d\n", i, started, finished);
            fail();
        }
        if (c->rc == WEFT_ECANCELED) {
            if (!c->abandon || !started) {
                if (started) {
                    print_error("call %d: cancelled without abandon, yet fn ran\n", i);
                    fail();
                }
                /* Abandonable: arg goes to on_abandoned even when fn never ran. */
                int want = c->abandon && c->has_cb;
                if (ab != want || (want && c->ab_rc != WEFT_ECANCELED)) {
                    print_error("call %d: never started, on_abandoned ran %d times (want %d, "
                                "rc %d)\n", i, ab, want, c->ab_rc);
                    fail();
                }
                cancelled_before++;
            } else {
                abandoned++;
                if (ab != (c->has_cb ? 1 : 0)) {
                    print_error("call %d: abandoned, on_abandoned ran %d times (cb %d)\n", i,
                                ab, c->has_cb);
                    fail();
                }
                if (c->has_cb) {
                    abandoned_cb++;
                    assert_rc(c->ab_rc, c->ret);
                }
            }
        } else {
            if (c->rc != c->ret || started != 1 || ab != 0) {
                print_error("call %d: rc %d (want %d), started %d, on_abandoned %d\n", i,
                            c->rc, c->ret, started, ab);
                fail();
            }
            ran++;
            if (c->abandon)
                waited++;
        }
    }
    for (int k = 0; k < NLIM; k++) {
        lim_t *L = &s.lims[k];
        weft_limiter_stats_t ls = wt_lstats(L->l);
        print_message("limiter %d (base %u): %ld fns, at most %d at once, largest total %d\n",
                      k, base_tokens[k], atomic_load(&L->calls), atomic_load(&L->max_running),
                      atomic_load(&L->max_total));
        assert_true(atomic_load(&L->max_running) <= atomic_load(&L->max_total));
        assert_int_equal(atomic_load(&L->running), 0);
        assert_int_equal(ls.borrowed_tokens, 0);
        assert_int_equal(ls.tasks_waiting, 0);
        weft_limiter_free(L->l);
    }
    print_message("storm: %d calls: %ld returned fn's result, %ld cancelled before fn, "
                  "%ld abandoned (%ld with callback), %ld total changes\n",
                  n, ran, cancelled_before, abandoned, abandoned_cb,
                  atomic_load(&s.total_sets));
    assert_int_equal(ran + cancelled_before + abandoned, n);
    free(s.recs);
    wt_assert_all_threads_exited();
}

static void offload_storm(void)
{
    run_storm(wt_scaled(WT_TSAN_PICK(100000, 40000)), 0);
}

/* The same with blocking threads that exit after 0.5 ms idle: thread exits
 * race new work all the time. */
static void offload_storm_idle_churn(void)
{
    int before = atomic_load(&wt_threads_started);
    run_storm(wt_scaled(WT_TSAN_PICK(30000, 10000)), 0.0005);
    print_message("idle churn: %d blocking threads started\n",
                  atomic_load(&wt_threads_started) - before);
}

/* ------------------------------------------------------------ foreign threads */

#define NFOREIGN 8

typedef struct {
    weft_token_t *t;
    weft_portal_t *p;
    int rounds;
    atomic_long token_sum, sync_sum, call_sum, spawn_sum;
    atomic_int bad;
    atomic_int done;
} fx_t;

typedef struct {
    fx_t *x;
    int id;
} fxarg_t;

typedef struct {
    atomic_long *sum;
    long v;
} add_t;

static int add_task(void *p)
{
    add_t *a = p;
    if (weft_checkpoint() != 0)
        return WEFT_EINVAL;
    atomic_fetch_add(a->sum, a->v);
    return -(int)(a->v % 5);
}

static int add_sync(void *p)
{
    add_t *a = p;
    atomic_fetch_add(a->sum, a->v);
    return -(int)(a->v % 5);
}

static void *fx_thread(void *p)
{
    fxarg_t *a = p;
    fx_t *x = a->x;
    for (int i = 0; i < x->rounds; i++) {
        long v = (long)a->id * 100000 + i;
        int want = -(int)(v % 5);
        int rc;
        switch (i % 4) {
        case 0: {
            add_t ad = {&x->token_sum, v};
            rc = weft_from_thread_run_token(x->t, add_task, &ad);
            break;
        }
        case 1: {
            add_t ad = {&x->sync_sum, v};
            rc = weft_from_thread_run_sync_token(x->t, add_sync, &ad);
            break;
        }
        case 2: {
            add_t ad = {&x->call_sum, v};
            rc = weft_portal_call(x->p, add_task, &ad);
            break;
        }
        default: {
            add_t ad = {&x->spawn_sum, v};
            weft_future_t *f = NULL;
            rc = weft_portal_spawn(x->p, add_task, &ad, &f);
            if (rc == 0) {
                rc = weft_future_wait(f);
                weft_future_free(f);
            } else {
                want = 0;
            }
            break;
        }
        }
        if (rc != want)
            atomic_fetch_add(&x->bad, 1);
    }
    atomic_fetch_add(&x->done, 1);
    return NULL;
}

static int fx_main(void *p)
{
    fx_t *x = p;
    pthread_t th[NFOREIGN];
    fxarg_t args[NFOREIGN];
    x->t = WT_CURRENT_TOKEN();
    if (!x->t)
        return 0;
    for (int i = 0; i < NFOREIGN; i++) {
        args[i] = (fxarg_t){x, i};
        WT_THREAD_START(&th[i], fx_thread, &args[i]);
    }
    WT_THREADS_FINISH(th, NFOREIGN, &x->done, NFOREIGN, 300.0);
    weft_token_release(x->t);
    return 0;
}

static void foreign_threads(void)
{
    fx_t x;
    memset(&x, 0, sizeof x);
    x.rounds = wt_scaled(WT_TSAN_PICK(4000, 500));
    x.p = wt_portal_start(2);
    WT_RUN_OK(fx_main, &x, 2);
    wt_portal_stop_free(x.p, 0);
    assert_int_equal(atomic_load(&x.bad), 0);
    long want[4] = {0, 0, 0, 0};
    for (int t = 0; t < NFOREIGN; t++)
        for (int i = 0; i < x.rounds; i++)
            want[i % 4] += (long)t * 100000 + i;
    assert_int_equal(atomic_load(&x.token_sum), want[0]);
    assert_int_equal(atomic_load(&x.sync_sum), want[1]);
    assert_int_equal(atomic_load(&x.call_sum), want[2]);
    assert_int_equal(atomic_load(&x.spawn_sum), want[3]);
    print_message("foreign: %d threads x %d calls\n", NFOREIGN, x.rounds);
}

/* ------------------------------------------------------------ token calls racing shutdown */

/* Foreign threads keep calling in through a token (run and run_sync) while
 * main returns after a random short time.  Each call either completes (its
 * fn ran once), is cancelled (run: the token task is cancelled by the end of
 * main) or is refused with WEFT_EBADF (fn never ran); no call hangs, and the
 * threads stop at their first WEFT_EBADF. */
#define RACERS 4

typedef struct {
    weft_token_t *t;
    atomic_long sync_sum, task_sum;
    atomic_int bad;
    atomic_long completed, cancelled;
} race_t;

typedef struct {
    race_t *r;
    int id;
    long want_sync, want_task; /* sums of the calls that returned success */
    int last_rc;
} racer_t;

static int race_task(void *p)
{
    add_t *a = p;
    int rc = weft_checkpoint();
    if (rc != 0)
        return rc;
    atomic_fetch_add(a->sum, a->v);
    return -(int)(a->v % 5);
}

static void *racer_thread(void *p)
{
    racer_t *rc_ = p;
    race_t *r = rc_->r;
    for (long i = 0;; i++) {
        long v = (long)rc_->id * 10000000 + i;
        int want = -(int)(v % 5);
        int rc;
        if (i % 2) {
            add_t ad = {&r->sync_sum, v};
            rc = weft_from_thread_run_sync_token(r->t, add_sync, &ad);
            if (rc == want)
                rc_->want_sync += v;
        } else {
            add_t ad = {&r->task_sum, v};
            rc = weft_from_thread_run_token(r->t, race_task, &ad);
            if (rc == want)
                rc_->want_task += v;
        }
        if (rc == want) {
            atomic_fetch_add(&r->completed, 1);
        } else if (rc == WEFT_ECANCELED && !(i % 2)) {
            atomic_fetch_add(&r->cancelled, 1);
        } else if (rc == WEFT_EBADF) {
            rc_->last_rc = rc;
            return NULL;
        } else {
            atomic_fetch_add(&r->bad, 1);
            rc_->last_rc = rc;
            return NULL;
        }
    }
}

typedef struct {
    race_t *r;
    pthread_t th[RACERS];
    racer_t args[RACERS];
    int created[RACERS];
    double delay;
} race_run_t;

static int race_main(void *p)
{
    race_run_t *rr = p;
    rr->r->t = WT_CURRENT_TOKEN();
    if (!rr->r->t)
        return 0;
    for (int i = 0; i < RACERS; i++) {
        rr->args[i] = (racer_t){.r = rr->r, .id = i};
        rr->created[i] = WT_THREAD_START(&rr->th[i], racer_thread, &rr->args[i]);
    }
    weft_sleep(rr->delay);
    return 0; /* the racers are still calling in */
}

static void token_calls_racing_shutdown(void)
{
    int runs = wt_scaled(WT_TSAN_PICK(200, 40));
    uint64_t rng = 0x7ace;
    long completed = 0, cancelled = 0;
    for (int k = 0; k < runs; k++) {
        race_t r;
        race_run_t rr;
        memset(&r, 0, sizeof r);
        memset(&rr, 0, sizeof rr);
        rr.r = &r;
        rr.delay = wt_randf(&rng) * 0.003;
        WT_RUN_OK(race_main, &rr, 1 + (unsigned)(k % 3));
        long want_sync = 0, want_task = 0;
        for (int i = 0; i < RACERS; i++) {
            if (!rr.created[i])
                continue;
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 30;
            if (pthread_timedjoin_np(rr.th[i], NULL, &ts) != 0) {
                print_error("run %d: a foreign caller hangs after the runtime finished\n", k);
                fail();
            }
            assert_rc(rr.args[i].last_rc, WEFT_EBADF);
            want_sync += rr.args[i].want_sync;
            want_task += rr.args[i].want_task;
        }
        weft_token_release(r.t);
        assert_int_equal(atomic_load(&r.bad), 0);
        assert_int_equal(atomic_load(&r.sync_sum), want_sync);
        assert_int_equal(atomic_load(&r.task_sum), want_task);
        completed += atomic_load(&r.completed);
        cancelled += atomic_load(&r.cancelled);
    }
    print_message("token race: %d runs, %ld calls completed, %ld token tasks cancelled\n", runs,
                  completed, cancelled);
}

/* ------------------------------------------------------------ shutdown with abandoned fns */

#define SD_TASKS 16
#define SD_CALLS 4

typedef struct {
    uint64_t seed;
    int abandon, has_cb, ret, rc;
    atomic_int started, finished, ab_calls;
} sdrec_t;

typedef struct {
    sdrec_t recs[SD_TASKS * SD_CALLS];
    weft_limiter_t *l; /* NULL: default */
    uint64_t seed;
    int unfinished; /* fns still running when main returned */
} sd_t;

typedef struct {
    sd_t *s;
    int id;
} sdarg_t;

static int sd_fn(void *p)
{
    sdrec_t *c = p;
    wt_mark_thread();
    atomic_fetch_add(&c->started, 1);
    usleep((useconds_t)(c->seed % 20000));
    int ret = c->ret;
    atomic_fetch_add(&c->finished, 1);
    return ret;
}

static void sd_abandoned(void *arg, int rc)
{
    sdrec_t *c = arg;
    int want = atomic_load(&c->started) ? c->ret : WEFT_ECANCELED; /* fn never ran */
    if (rc != want)
        wt_failf(__FILE__, __LINE__, "on_abandoned rc %d, expected %d", rc, want);
    usleep((useconds_t)((c->seed >> 20) % 3000));
    atomic_fetch_add(&c->ab_calls, 1);
}

static int sd_task(void *p)
{
    sdarg_t *a = p;
    sd_t *s = a->s;
    uint64_t rng = s->seed ^ ((uint64_t)(a->id + 1) * 0xD1B54A32D192ED03ull);
    for (int i = 0; i < SD_CALLS; i++) {
        sdrec_t *c = &s->recs[a->id * SD_CALLS + i];
        c->seed = wt_rand(&rng);
        c->abandon = (c->seed >> 40) % 4 != 0;
        c->has_cb = (c->seed >> 42) % 2;
        c->ret = -(2000 + a->id * SD_CALLS + i);
        weft_thread_opts_t o = {.limiter = s->l,
                                .abandon_on_cancel = c->abandon,
                                .on_abandoned = c->has_cb ? sd_abandoned : NULL};
        weft_scope_t sc;
        weft_move_on_after(&sc, wt_randf(&rng) * 0.002);
        int rc = weft_to_thread_run_sync(sd_fn, c, &o);
        c->rc = rc;
        weft_scope_exit(&sc, rc);
    }
    return 0;
}

static int sd_main(void *p)
{
    sd_t *s = p;
    sdarg_t args[SD_TASKS];
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < SD_TASKS; i++) {
        args[i] = (sdarg_t){s, i};
        EXPECT_RC(weft_group_spawn(&g, sd_task, &args[i]), 0);
    }
    EXPECT_RC(weft_group_close(&g, 0), 0);
    for (int i = 0; i < SD_TASKS * SD_CALLS; i++)
        s->unfinished += atomic_load(&s->recs[i].started) - atomic_load(&s->recs[i].finished);
    return 0; /* abandoned fns may still be sleeping */
}

static void shutdown_with_abandoned(void)
{
    int runs = wt_scaled(WT_TSAN_PICK(100, 30));
    uint64_t rng = 0x5d5d;
    long abandoned = 0, unfinished = 0;
    sd_t *s = calloc(1, sizeof *s);
    assert_non_null(s);
    for (int r = 0; r < runs; r++) {
        memset(s, 0, sizeof *s);
        s->seed = wt_rand(&rng);
        uint64_t x = wt_rand(&rng);
        double idle = x % 3 == 0 ? 0 : wt_randf(&rng) * 0.005; /* 0 = 10 s */
        unsigned tokens = (unsigned)(1 + (x >> 8) % 8);
        if ((x >> 16) % 2)
            assert_rc(weft_limiter_new(&s->l, 1 + (unsigned)((x >> 20) % 6)), 0);
        WT_RUN_CFG_OK(sd_main, s, 1 + (unsigned)((x >> 24) % 3), tokens, idle);
        /* Everything finished before weft_run returned. */
        for (int i = 0; i < SD_TASKS * SD_CALLS; i++) {
            sdrec_t *c = &s->recs[i];
            int started = atomic_load(&c->started), finished = atomic_load(&c->finished);
            int ab = atomic_load(&c->ab_calls);
            if (started > 1 || finished != started) {
                print_error("run %d call %d: started %d, finished %d\n", r, i, started,
                            finished);
                fail();
            }
            int was_abandoned = c->rc == WEFT_ECANCELED && c->abandon && started;
            if (c->rc == WEFT_ECANCELED && !c->abandon && started) {
                print_error("run %d call %d: cancelled without abandon, yet fn ran\n", r, i);
                fail();
            }
            if (c->rc != WEFT_ECANCELED && c->rc != c->ret) {
                print_error("run %d call %d: rc %d, want %d\n", r, i, c->rc, c->ret);
                fail();
            }
            /* Abandonable calls hand arg to on_abandoned whenever they end in
             * WEFT_ECANCELED, fn started or not. */
            int handed = c->rc == WEFT_ECANCELED && c->abandon && c->has_cb;
            if (ab != handed) {
                print_error("run %d call %d: on_abandoned ran %d times\n", r, i, ab);
                fail();
            }
            abandoned += was_abandoned;
        }
        if (s->l) {
            weft_limiter_stats_t ls = wt_lstats(s->l);
            assert_int_equal(ls.borrowed_tokens, 0);
            assert_int_equal(ls.tasks_waiting, 0);
            weft_limiter_free(s->l);
        }
        wt_assert_all_threads_exited();
        unfinished += s->unfinished;
    }
    print_message("shutdown: %d runs, %ld abandoned calls, %ld fns still running when "
                  "main returned\n",
                  runs, abandoned, unfinished);
    free(s);
}

/* Plain tests all: each checks what is left after its runtimes ended (blocking
 * threads, limiters, foreign callers), and most need configs or a portal. */
static const wt_case_t cases[] = {
    WT_TEST(offload_storm),
    WT_TEST(offload_storm_idle_churn),
    WT_TEST(foreign_threads),
    WT_TEST(token_calls_racing_shutdown),
    WT_TEST(shutdown_with_abandoned),
};
WT_SUITE(cases)
