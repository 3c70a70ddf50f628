/* Stress: cancellation racing with everything else.
 * Round counts scale with WEFT_STRESS_SCALE (default 1); sizes are much
 * smaller under TSan (WT_TSAN_PICK), where every task costs milliseconds.
 * Every potentially blocking wait sits under a safety deadline, so a lost
 * wake-up shows as a failed check instead of a hang. */
/* WEFT_TEST_TIMEOUT 600 */
#define _GNU_SOURCE
#include "helpers.h"

/* ------------------------------------------------------------ nested groups cancelled remotely */

#define NEST_MID 6
#define NEST_LEAVES 8

typedef struct {
    weft_group_t *outer;
    weft_group_t *mids[NEST_MID];
    int mid_rc[NEST_MID];
    int cancel_individually[NEST_MID];
    atomic_int leaves_ready;
    atomic_int leaves_cancelled;
    atomic_int leaves_other;
    int outer_rc;
    uint64_t seed;
} nest_t;

typedef struct {
    nest_t *n;
    int idx;
} mid_arg_t;

static int nest_leaf(void *arg)
{
    nest_t *n = arg;
    atomic_fetch_add(&n->leaves_ready, 1);
    int rc = weft_sleep(WEFT_FOREVER);
    if (rc == WEFT_ECANCELED)
        atomic_fetch_add(&n->leaves_cancelled, 1);
    else
        atomic_fetch_add(&n->leaves_other, 1);
    return rc;
}

static int nest_mid(void *arg)
{
    mid_arg_t *a = arg;
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    a->n->mids[a->idx] = &g;
    for (int i = 0; i < NEST_LEAVES; i++)
        EXPECT_RC(weft_group_spawn(&g, nest_leaf, a->n), 0);
    int rc = weft_group_close(&g, 0);
    a->n->mid_rc[a->idx] = rc;
    return rc;
}

static int nest_canceller(void *arg)
{
    nest_t *n = arg;
    uint64_t rng = n->seed;
    if (!wt_wait_flag(&n->leaves_ready, NEST_MID * NEST_LEAVES, 20.0)) {
        wt_failf(__FILE__, __LINE__, "leaves never got ready");
        weft_group_cancel(n->outer);
        return 0;
    }
    /* Cancel some middle groups one by one (random order, random pauses),
     * then the outer group. */
    int order[NEST_MID];
    for (int i = 0; i < NEST_MID; i++)
        order[i] = i;
    for (int i = NEST_MID - 1; i > 0; i--) {
        int j = (int)(wt_rand(&rng) % (uint64_t)(i + 1));
        int tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    for (int k = 0; k < NEST_MID; k++) {
        int i = order[k];
        if (!n->cancel_individually[i])
            continue;
        weft_group_cancel(n->mids[i]);
        if (wt_rand(&rng) % 2)
            weft_sleep(wt_randf(&rng) * 0.0005);
    }
    weft_group_cancel(n->outer);
    return 0;
}

static void nest_round(nest_t *n)
{
    weft_scope_t safety;
    weft_group_t top, outer;
    mid_arg_t args[NEST_MID];
    weft_move_on_after(&safety, 30.0);
    n->outer = &outer;
    EXPECT_RC(weft_group_open(&top), 0);
    EXPECT_RC(weft_group_open(&outer), 0);
    EXPECT_RC(weft_group_spawn(&top, nest_canceller, n), 0);
    for (int i = 0; i < NEST_MID; i++) {
        args[i].n = n;
        args[i].idx = i;
        EXPECT_RC(weft_group_spawn(&outer, nest_mid, &args[i]), 0);
    }
    n->outer_rc = weft_group_close(&outer, 0);
    EXPECT_RC(weft_group_close(&top, 0), 0);
    EXPECT_RC(weft_scope_exit(&safety, 0), 0);
    EXPECT(!weft_scope_cancel_called(&safety));
}

static int nested_groups_cancelled_remotely(void *arg)
{
    (void)arg;
    int rounds = wt_scaled(WT_TSAN_PICK(40, 15));
    for (int r = 0; r < rounds; r++) {
        nest_t n = {.seed = 31 + (uint64_t)r};
        uint64_t rng = n.seed * 3;
        for (int i = 0; i < NEST_MID; i++)
            n.cancel_individually[i] = (int)(wt_rand(&rng) % 2);
        nest_round(&n);
        EXPECT(atomic_load(&n.leaves_cancelled) == NEST_MID * NEST_LEAVES);
        EXPECT(atomic_load(&n.leaves_other) == 0);
        EXPECT_RC(n.outer_rc, 0);
        for (int i = 0; i < NEST_MID; i++) {
            if (n.cancel_individually[i])
                EXPECT(n.mid_rc[i] == 0 || n.mid_rc[i] == WEFT_ECANCELED);
            else
                EXPECT_RC(n.mid_rc[i], WEFT_ECANCELED);
        }
    }
    return 0;
}

/* ------------------------------------------------------------ deadlines racing completions */

typedef struct {
    atomic_int completed, cancelled, nested_inner, nested_outer;
    int kind_mix;
} race_stats_t;

typedef struct {
    race_stats_t *st;
    double deadline_in, sleep_for, deadline2_in;
    int kind; /* 0 move_on_after, 1 fail_after, 2 nested move_on_after */
} race_arg_t;

static int deadline_racer(void *arg)
{
    race_arg_t *a = arg;
    weft_scope_t s, inner;
    double t0 = weft_now();
    if (a->kind == 1)
        weft_fail_after(&s, a->deadline_in);
    else
        weft_move_on_after(&s, a->deadline_in);
    double deadline = weft_scope_deadline(&s);
    EXPECT(deadline >= t0 + a->deadline_in - 1e-6);
    double deadline2 = WEFT_FOREVER;
    if (a->kind == 2) {
        weft_move_on_after(&inner, a->deadline2_in);
        deadline2 = weft_scope_deadline(&inner);
    }
    double s0 = weft_now();
    int rc = weft_sleep(a->sleep_for);
    double after = weft_now();
    EXPECT(rc == 0 || rc == WEFT_ECANCELED);

    if (rc == 0) {
        EXPECT(after - s0 >= a->sleep_for);
        atomic_fetch_add(&a->st->completed, 1);
    } else {
        /* Cancelled only once a deadline had passed. */
        EXPECT(after >= (deadline < deadline2 ? deadline : deadline2));
        atomic_fetch_add(&a->st->cancelled, 1);
    }

    int caught_inner = 0;
    if (a->kind == 2) {
        int r2 = weft_scope_exit(&inner, rc);
        caught_inner = weft_scope_cancelled_caught(&inner);
        if (caught_inner) {
            EXPECT_RC(r2, 0);
            EXPECT(weft_now() >= deadline2);
        } else {
            EXPECT_RC(r2, rc);
        }
        rc = r2;
    }
    int ex = weft_scope_exit(&s, rc);
    int caught = weft_scope_cancelled_caught(&s);
    if (rc == WEFT_ECANCELED) {
        /* Exactly one scope owns the cancellation. */
        EXPECT(caught);
        EXPECT(weft_now() >= deadline);
        EXPECT(weft_scope_cancel_called(&s));
        EXPECT_RC(ex, a->kind == 1 ? WEFT_ETIMEDOUT : 0);
    } else {
        EXPECT(!caught);
        EXPECT_RC(ex, 0);
    }
    if (a->kind == 2) {
        if (caught_inner)
            atomic_fetch_add(&a->st->nested_inner, 1);
        if (caught)
            atomic_fetch_add(&a->st->nested_outer, 1);
        EXPECT(!(caught && caught_inner));
    }
    /* Not cancelled any more once out of the scopes. */
    EXPECT_RC(weft_checkpoint(), 0);
    return 0;
}

#define NRACERS WT_TSAN_PICK(600, 300)

static void race_round(race_stats_t *st)
{
    static race_arg_t args[600];
    uint64_t rng = (uint64_t)st->kind_mix * 1234567 + 1;
    weft_group_t g;
    weft_scope_t safety;
    weft_move_on_after(&safety, 60.0);
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < NRACERS; i++) {
        race_arg_t *a = &args[i];
        a->st = st;
        a->kind = (int)(wt_rand(&rng) % 3);
        a->sleep_for = wt_randf(&rng) * 0.002;
        a->deadline_in = wt_randf(&rng) * 0.002;
        a->deadline2_in = wt_randf(&rng) * 0.002;
        /* Some certain outcomes among the races. */
        if (i % 50 == 0)
            a->deadline_in = 0, a->deadline2_in = 10.0;
        if (i % 50 == 1)
            a->deadline_in = 10.0, a->deadline2_in = 10.0;
        EXPECT_RC(weft_group_spawn(&g, deadline_racer, a), 0);
    }
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(weft_scope_exit(&safety, 0), 0);
    EXPECT(!weft_scope_cancel_called(&safety));
}

static int deadlines_race_completions(void *arg)
{
    (void)arg;
    int rounds = wt_scaled(WT_TSAN_PICK(20, 4));
    int completed = 0, cancelled = 0;
    for (int r = 0; r < rounds; r++) {
        race_stats_t st = {.kind_mix = r};
        race_round(&st);
        EXPECT(atomic_load(&st.completed) + atomic_load(&st.cancelled) == NRACERS);
        completed += atomic_load(&st.completed);
        cancelled += atomic_load(&st.cancelled);
    }
    print_message("deadline races: %d completed, %d cancelled\n", completed, cancelled);
    EXPECT(completed > 0);
    EXPECT(cancelled > 0);
    return 0;
}

/* ------------------------------------------------------------ cancel racing group close */

typedef struct {
    weft_group_t *g;
    atomic_int ran;
    atomic_int finished_ok;
    atomic_int finished_cancelled;
    uint64_t seed;
} cc_t;

typedef struct {
    cc_t *c;
    int id;
} cc_arg_t;

static int cc_worker(void *arg)
{
    cc_arg_t *a = arg;
    uint64_t rng = a->c->seed ^ ((uint64_t)(a->id + 1) * 0x9E3779B97F4A7C15ull);
    atomic_fetch_add(&a->c->ran, 1);
    int rc = weft_sleep(wt_randf(&rng) * 0.001);
    EXPECT(rc == 0 || rc == WEFT_ECANCELED);
    if (rc == 0)
        atomic_fetch_add(&a->c->finished_ok, 1);
    else
        atomic_fetch_add(&a->c->finished_cancelled, 1);
    return rc;
}

static int cc_canceller(void *arg)
{
    cc_arg_t *a = arg;
    uint64_t rng = a->c->seed * 17 + 3;
    double d = wt_randf(&rng) * 0.0012;
    if (d > 0.0002)
        weft_sleep(d);
    weft_group_cancel(a->c->g);
    return 0;
}

#define CC_TASKS 20

static int cc_round(cc_t *c)
{
    cc_arg_t args[CC_TASKS + 1];
    weft_group_t g;
    c->g = &g;
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < CC_TASKS; i++) {
        args[i].c = c;
        args[i].id = i;
        EXPECT_RC(weft_group_spawn(&g, cc_worker, &args[i]), 0);
    }
    args[CC_TASKS].c = c;
    args[CC_TASKS].id = CC_TASKS;
    EXPECT_RC(weft_group_spawn(&g, cc_canceller, &args[CC_TASKS]), 0);
    int rc = weft_group_close(&g, 0);
    EXPECT_RC(rc, 0);
    EXPECT(weft_group_failure_count(&g) == 0);
    return rc;
}

typedef struct {
    int rounds;
    atomic_int ran, ok, cancelled;
} cc_total_t;

static int group_cancel_races_close(void *arg)
{
    (void)arg;
    cc_total_t tot = {.rounds = wt_scaled(WT_TSAN_PICK(300, 60))};
    weft_scope_t safety;
    weft_move_on_after(&safety, 60.0);
    for (int r = 0; r < tot.rounds; r++) {
        cc_t c;
        memset(&c, 0, sizeof c);
        c.seed = (uint64_t)r * 2654435761u + 7;
        cc_round(&c);
        EXPECT(atomic_load(&c.ran) == CC_TASKS);
        EXPECT(atomic_load(&c.finished_ok) + atomic_load(&c.finished_cancelled) == CC_TASKS);
        atomic_fetch_add(&tot.ran, atomic_load(&c.ran));
        atomic_fetch_add(&tot.ok, atomic_load(&c.finished_ok));
        atomic_fetch_add(&tot.cancelled, atomic_load(&c.finished_cancelled));
    }
    EXPECT_RC(weft_scope_exit(&safety, 0), 0);
    EXPECT(!weft_scope_cancel_called(&safety));
    EXPECT(atomic_load(&tot.ran) == tot.rounds * CC_TASKS);
    EXPECT(atomic_load(&tot.ok) + atomic_load(&tot.cancelled) == tot.rounds * CC_TASKS);
    return 0;
}

/* An enclosing scope cancelled by a task outside it while the group inside
 * is closing. */
typedef struct {
    weft_scope_t *scope;
    atomic_int scope_ready;
    atomic_int cancel_done;
    uint64_t seed;
    int close_rc, exit_rc, caught, cancel_called_at_close;
    atomic_int kids_ok, kids_cancelled;
} oc_t;

static int oc_kid(void *arg)
{
    oc_t *o = arg;
    uint64_t rng = o->seed ^ (uint64_t)(uintptr_t)&rng;
    int rc = weft_sleep(wt_randf(&rng) * 0.001);
    EXPECT(rc == 0 || rc == WEFT_ECANCELED);
    atomic_fetch_add(rc == 0 ? &o->kids_ok : &o->kids_cancelled, 1);
    return rc;
}

static int oc_host(void *arg)
{
    oc_t *o = arg;
    weft_scope_t s;
    weft_group_t g;
    weft_scope_enter(&s, WEFT_FOREVER, 0);
    o->scope = &s;
    atomic_store(&o->scope_ready, 1);
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < 10; i++)
        EXPECT_RC(weft_group_spawn(&g, oc_kid, o), 0);
    int rc = weft_group_close(&g, 0);
    o->close_rc = rc;
    o->cancel_called_at_close = weft_scope_cancel_called(&s);
    /* Keep the scope alive until the canceller is done with it. */
    EXPECT(wt_wait_flag(&o->cancel_done, 1, 20.0));
    o->exit_rc = weft_scope_exit(&s, rc);
    o->caught = weft_scope_cancelled_caught(&s);
    return 0;
}

static int oc_canceller(void *arg)
{
    oc_t *o = arg;
    uint64_t rng = o->seed * 5 + 1;
    if (wt_wait_flag(&o->scope_ready, 1, 20.0)) {
        double d = wt_randf(&rng) * 0.0015;
        if (d > 0.0003)
            weft_sleep(d);
        weft_scope_cancel(o->scope);
    }
    atomic_store(&o->cancel_done, 1);
    return 0;
}

static int scope_cancel_races_inner_close(void *arg)
{
    (void)arg;
    int rounds = wt_scaled(WT_TSAN_PICK(150, 50));
    int propagated = 0;
    for (int r = 0; r < rounds; r++) {
        oc_t o = {.seed = 11 + (uint64_t)r};
        weft_group_t g;
        EXPECT_RC(weft_group_open(&g), 0);
        EXPECT_RC(weft_group_spawn(&g, oc_host, &o), 0);
        EXPECT_RC(weft_group_spawn(&g, oc_canceller, &o), 0);
        EXPECT_RC(weft_group_close(&g, 0), 0);
        EXPECT(atomic_load(&o.kids_ok) + atomic_load(&o.kids_cancelled) == 10);
        EXPECT_RC(o.exit_rc, 0);
        if (o.close_rc == WEFT_ECANCELED) {
            /* Propagated: the scope must really have been cancelled before. */
            EXPECT(o.cancel_called_at_close);
            EXPECT(o.caught);
            propagated++;
        } else {
            EXPECT_RC(o.close_rc, 0);
            EXPECT(!o.caught);
        }
        /* Kids cancelled => the scope was cancelled => close propagates. */
        if (atomic_load(&o.kids_cancelled) > 0)
            EXPECT_RC(o.close_rc, WEFT_ECANCELED);
    }
    print_message("scope cancel vs close: %d of %d closes propagated ECANCELED\n", propagated,
                  rounds);
    return 0;
}

/* ------------------------------------------------------------ blocked tasks woken repeatedly */

#define WAKE_PAIRS 4

typedef struct {
    weft_scope_t *target;
    atomic_int ready;
    double cancel_at, woke_at;
    int sleep_rc, exit_rc, caught;
    uint64_t seed;
} wake_t;

static int wake_sleeper(void *arg)
{
    wake_t *w = arg;
    weft_scope_t safety, s;
    weft_move_on_after(&safety, 20.0);
    weft_scope_enter(&s, WEFT_FOREVER, 0);
    w->target = &s;
    atomic_store(&w->ready, 1);
    w->sleep_rc = weft_sleep(WEFT_FOREVER);
    w->woke_at = weft_now();
    w->exit_rc = weft_scope_exit(&s, w->sleep_rc);
    w->caught = weft_scope_cancelled_caught(&s);
    EXPECT_RC(weft_scope_exit(&safety, 0), 0);
    return 0;
}

static int wake_canceller(void *arg)
{
    wake_t *w = arg;
    uint64_t rng = w->seed;
    if (!wt_wait_flag(&w->ready, 1, 20.0))
        return 0;
    /* Sometimes cancel before the sleeper blocked, mostly after. */
    double d = wt_randf(&rng) * 0.002;
    if (wt_rand(&rng) % 4 != 0)
        weft_sleep(d);
    w->cancel_at = weft_now();
    weft_scope_cancel(w->target);
    return 0;
}

typedef struct {
    int rounds;
    double max_latency;
    atomic_int woken;
} wake_total_t;

static int blocked_tasks_woken_repeatedly(void *arg)
{
    (void)arg;
    wake_total_t tot = {.rounds = wt_scaled(WT_TSAN_PICK(200, 100))};
    for (int r = 0; r < tot.rounds; r++) {
        wake_t w[WAKE_PAIRS];
        memset(w, 0, sizeof w);
        weft_group_t g;
        EXPECT_RC(weft_group_open(&g), 0);
        for (int i = 0; i < WAKE_PAIRS; i++) {
            w[i].seed = (uint64_t)r * 131 + (uint64_t)i;
            EXPECT_RC(weft_group_spawn(&g, wake_sleeper, &w[i]), 0);
            EXPECT_RC(weft_group_spawn(&g, wake_canceller, &w[i]), 0);
        }
        EXPECT_RC(weft_group_close(&g, 0), 0);
        for (int i = 0; i < WAKE_PAIRS; i++) {
            EXPECT_RC(w[i].sleep_rc, WEFT_ECANCELED);
            EXPECT_RC(w[i].exit_rc, 0);
            EXPECT(w[i].caught);
            double lat = w[i].woke_at - w[i].cancel_at;
            if (lat > tot.max_latency)
                tot.max_latency = lat;
            if (w[i].sleep_rc == WEFT_ECANCELED)
                atomic_fetch_add(&tot.woken, 1);
        }
    }
    EXPECT(atomic_load(&tot.woken) == tot.rounds * WAKE_PAIRS);
    if (!(tot.max_latency < 2.0))
        wt_failf(__FILE__, __LINE__, "worst wake-up latency %.3f s", tot.max_latency);
    return 0;
}

/* ------------------------------------------------------------ many cancellers, one group */

typedef struct {
    weft_group_t *g;
    atomic_int sleepers_cancelled;
    atomic_int sleepers_other;
    uint64_t seed;
} storm_t;

static int storm_sleeper(void *arg)
{
    storm_t *s = arg;
    int rc = weft_sleep(WEFT_FOREVER);
    atomic_fetch_add(rc == WEFT_ECANCELED ? &s->sleepers_cancelled : &s->sleepers_other, 1);
    return rc;
}

static int storm_canceller(void *arg)
{
    storm_t *s = arg;
    uint64_t rng = s->seed ^ (uint64_t)(uintptr_t)&rng;
    if (wt_rand(&rng) % 2)
        weft_sleep(wt_randf(&rng) * 0.0005);
    else
        weft_checkpoint();
    weft_group_cancel(s->g);
    weft_group_cancel(s->g);
    return 0;
}

static void storm_round(storm_t *s)
{
    weft_scope_t safety;
    weft_group_t g;
    weft_move_on_after(&safety, 30.0);
    s->g = &g;
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < 50; i++)
        EXPECT_RC(weft_group_spawn(&g, storm_sleeper, s), 0);
    for (int i = 0; i < 16; i++)
        EXPECT_RC(weft_group_spawn(&g, storm_canceller, s), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(weft_scope_exit(&safety, 0), 0);
    EXPECT(!weft_scope_cancel_called(&safety));
}

static int concurrent_cancels_of_one_group(void *arg)
{
    (void)arg;
    int rounds = wt_scaled(WT_TSAN_PICK(100, 15));
    for (int r = 0; r < rounds; r++) {
        storm_t s = {.seed = 555 + (uint64_t)r};
        storm_round(&s);
        EXPECT(atomic_load(&s.sleepers_cancelled) == 50);
        EXPECT(atomic_load(&s.sleepers_other) == 0);
    }
    return 0;
}

/* ------------------------------------------------------------ deadlines moved while expiring */

#define NMOVERS WT_TSAN_PICK(100, 30)

typedef struct {
    weft_scope_t *target;
    atomic_int ready;
    atomic_int mover_done;
    double last_set;
    uint64_t seed;
    int sleep_rc, exit_rc, caught, cancel_called;
    double final_deadline;
} mv_t;

static int mv_sleeper(void *arg)
{
    mv_t *m = arg;
    uint64_t rng = m->seed;
    weft_scope_t s;
    weft_move_on_after(&s, wt_randf(&rng) * 0.002);
    m->target = &s;
    atomic_store(&m->ready, 1);
    m->sleep_rc = weft_sleep(wt_randf(&rng) * 0.003);
    EXPECT(m->sleep_rc == 0 || m->sleep_rc == WEFT_ECANCELED);
    /* The mover may still be using the scope: keep it until it is done. */
    EXPECT(wt_wait_flag(&m->mover_done, 1, 20.0));
    m->final_deadline = weft_scope_deadline(&s);
    m->cancel_called = weft_scope_cancel_called(&s);
    m->exit_rc = weft_scope_exit(&s, m->sleep_rc);
    m->caught = weft_scope_cancelled_caught(&s);
    return 0;
}

static int mv_mover(void *arg)
{
    mv_t *m = arg;
    uint64_t rng = m->seed * 7 + 1;
    if (wt_wait_flag(&m->ready, 1, 20.0)) {
        int moves = 1 + (int)(wt_rand(&rng) % 4);
        for (int i = 0; i < moves; i++) {
            double d;
            switch (wt_rand(&rng) % 3) {
            case 0:
                d = weft_now() + wt_randf(&rng) * 0.002;
                break;
            case 1:
                d = weft_now() + 10.0;
                break;
            default:
                d = WEFT_FOREVER;
                break;
            }
            weft_scope_set_deadline(m->target, d);
            m->last_set = d;
            if (wt_rand(&rng) % 2)
                weft_checkpoint();
        }
    }
    atomic_store(&m->mover_done, 1);
    return 0;
}

static void mv_round(mv_t *ms)
{
    weft_scope_t safety;
    weft_group_t g;
    weft_move_on_after(&safety, 60.0);
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < NMOVERS; i++) {
        EXPECT_RC(weft_group_spawn(&g, mv_sleeper, &ms[i]), 0);
        EXPECT_RC(weft_group_spawn(&g, mv_mover, &ms[i]), 0);
    }
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(weft_scope_exit(&safety, 0), 0);
    EXPECT(!weft_scope_cancel_called(&safety));
}

static int deadlines_moved_while_expiring(void *arg)
{
    (void)arg;
    int rounds = wt_scaled(WT_TSAN_PICK(20, 5));
    static mv_t ms[100];
    for (int r = 0; r < rounds; r++) {
        memset(ms, 0, sizeof ms);
        for (int i = 0; i < NMOVERS; i++)
            ms[i].seed = (uint64_t)r * 1000 + (uint64_t)i + 1;
        mv_round(ms);
        for (int i = 0; i < NMOVERS; i++) {
            mv_t *m = &ms[i];
            if (m->exit_rc != 0 || m->caught != (m->sleep_rc == WEFT_ECANCELED))
                wt_failf(__FILE__, __LINE__,
                         "round %d task %d: sleep %s, cancel_called %d, exit %s, caught %d, "
                         "last deadline set %+.6f (now %+.6f), read back %+.6f",
                         r, i, weft_err_name(m->sleep_rc), m->cancel_called,
                         weft_err_name(m->exit_rc), m->caught, m->last_set, weft_now(),
                         m->final_deadline);
            if (m->caught)
                EXPECT(m->cancel_called);
            /* The deadline reads back as last set (a cancelled scope keeps
             * its deadline; cancellation is sticky). */
            if (isinf(m->last_set))
                EXPECT(isinf(m->final_deadline));
            else
                EXPECT_NEAR(m->final_deadline, m->last_set, 1e-6);
        }
    }
    return 0;
}

static const wt_case_t cases[] = {
    WT_CASE_ON(nested_groups_cancelled_remotely, WT_W4),
    WT_CASE_ON(deadlines_race_completions, WT_W4),
    WT_CASE_ON(group_cancel_races_close, WT_W4),
    WT_CASE_ON(scope_cancel_races_inner_close, WT_W4),
    WT_CASE_ON(blocked_tasks_woken_repeatedly, WT_W4),
    WT_CASE_ON(concurrent_cancels_of_one_group, WT_W4),
    WT_CASE_ON(deadlines_moved_while_expiring, WT_W4),
};
WT_SUITE(cases)
