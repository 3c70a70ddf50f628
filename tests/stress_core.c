/* Stress: spawn trees, random sleeps/checkpoints/failures, exact accounting.
 * Round counts scale with WEFT_STRESS_SCALE (default 1); sizes are much
 * smaller under TSan (WT_TSAN_PICK), where every task costs milliseconds.
 * workers = 4 on a 2-core machine forces preemption of workers and stealing. */
/* WEFT_TEST_TIMEOUT 600 */
#define _GNU_SOURCE
#include "helpers.h"

static int has_failure(const weft_group_t *g, int err, const char *name)
{
    size_t n = weft_group_failure_count(g);
    for (size_t i = 0; i < n; i++) {
        int e = 0;
        const char *nm = NULL;
        if (weft_group_failure(g, i, &e, &nm) == 0 && e == err && nm &&
            strcmp(nm, name) == 0)
            return 1;
    }
    return 0;
}

/* ------------------------------------------------------------ trees */

/* A complete `fanout`-ary tree of tasks of height `depth`; node i's children
 * are i*fanout+1 .. i*fanout+fanout.  Every internal node opens a group and
 * spawns its children; leaves may fail with a per-leaf unique error. */
typedef struct tree tree_t;

typedef struct {
    tree_t *t;
    int id;
} node_arg_t;

struct tree {
    int fanout, depth, nnodes, first_leaf;
    uint64_t seed;
    unsigned fail_per_mille;  /* chance of a leaf failing */
    unsigned sleep_per_mille; /* chance of a short sleep */
    node_arg_t *args;
    atomic_int *ran;          /* per node */
    int *ret;                 /* per node: what it returned */
    unsigned char *fails;     /* per node: 1 if it must fail (computed up front) */
    atomic_int total;
};

static int leaf_error(int id)
{
    return -(100000 + id);
}

static int tree_node(void *arg)
{
    node_arg_t *a = arg;
    tree_t *t = a->t;
    int id = a->id;
    uint64_t rng = t->seed ^ ((uint64_t)(id + 1) * 0xD1B54A32D192ED03ull);
    atomic_fetch_add(&t->ran[id], 1);
    atomic_fetch_add(&t->total, 1);

    /* Checkpoints and short sleeps: 0, or ECANCELED once a failure elsewhere
     * cancelled us. */
    int cancelled = 0;
    int ncp = (int)(wt_rand(&rng) % 3);
    for (int i = 0; i < ncp; i++) {
        int rc = weft_checkpoint();
        EXPECT(rc == 0 || rc == WEFT_ECANCELED);
        cancelled |= rc == WEFT_ECANCELED;
    }
    if (wt_rand(&rng) % 1000 < t->sleep_per_mille) {
        int rc = weft_sleep(wt_randf(&rng) * 0.0005);
        EXPECT(rc == 0 || rc == WEFT_ECANCELED);
        cancelled |= rc == WEFT_ECANCELED;
    }

    int rc;
    if (id >= t->first_leaf) {
        rc = t->fails[id] ? leaf_error(id) : (cancelled ? WEFT_ECANCELED : 0);
    } else {
        weft_group_t g;
        EXPECT_RC(weft_group_open(&g), 0);
        int first = id * t->fanout + 1;
        for (int c = 0; c < t->fanout; c++)
            EXPECT_RC(weft_group_spawn(&g, tree_node, &t->args[first + c]), 0);
        rc = weft_group_close(&g, 0);

        /* The group's report must match the children's results. */
        int nfailed = 0, single = 0;
        for (int c = 0; c < t->fanout; c++) {
            int r = t->ret[first + c];
            if (r != 0 && r != WEFT_ECANCELED) {
                nfailed++;
                single = r;
                EXPECT(has_failure(&g, r, "tree_node"));
            }
        }
        EXPECT(weft_group_failure_count(&g) == (size_t)nfailed);
        if (nfailed == 0)
            EXPECT(rc == 0 || rc == WEFT_ECANCELED);
        else if (nfailed == 1)
            EXPECT_RC(rc, single);
        else
            EXPECT_RC(rc, WEFT_EGROUP);
    }
    t->ret[id] = rc;
    return rc;
}

static int tree_run(tree_t *t)
{
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, tree_node, &t->args[0]), 0);
    return weft_group_close(&g, 0);
}

/* 0, or WEFT_ENOMEM (a failed check) when the tree's arrays are not there. */
static int tree_init(tree_t *t, int fanout, int depth, uint64_t seed, unsigned fail_pm,
                     unsigned sleep_pm)
{
    memset(t, 0, sizeof *t);
    t->fanout = fanout;
    t->depth = depth;
    int pow = 1;
    for (int i = 0; i < depth; i++)
        pow *= fanout;
    t->first_leaf = (pow - 1) / (fanout - 1);
    t->nnodes = (pow * fanout - 1) / (fanout - 1);
    t->seed = seed;
    t->fail_per_mille = fail_pm;
    t->sleep_per_mille = sleep_pm;
    t->args = calloc((size_t)t->nnodes, sizeof *t->args);
    t->ran = calloc((size_t)t->nnodes, sizeof *t->ran);
    t->ret = calloc((size_t)t->nnodes, sizeof *t->ret);
    t->fails = calloc((size_t)t->nnodes, 1);
    EXPECT(t->args && t->ran && t->ret && t->fails);
    if (!(t->args && t->ran && t->ret && t->fails))
        return WEFT_ENOMEM;
    uint64_t rng = seed;
    for (int i = 0; i < t->nnodes; i++) {
        t->args[i].t = t;
        t->args[i].id = i;
        atomic_init(&t->ran[i], 0);
        t->ret[i] = 12345; /* "never returned" */
        if (i >= t->first_leaf)
            t->fails[i] = wt_rand(&rng) % 1000 < fail_pm;
    }
    for (int i = t->first_leaf - 1; i >= 0; i--)
        for (int c = 1; c <= fanout; c++)
            t->fails[i] |= t->fails[i * fanout + c];
    return 0;
}

static void tree_free(tree_t *t)
{
    free(t->args);
    free(t->ran);
    free(t->ret);
    free(t->fails);
}

/* Every node ran once and returned what its subtree's failures make it;
 * run_rc is what the whole tree returned.  Stops at the first wrong node. */
static void tree_check(tree_t *t, int run_rc)
{
    EXPECT(atomic_load(&t->total) == t->nnodes);
    int any_fail = t->fails[0];
    for (int i = 0; i < t->nnodes; i++) {
        if (atomic_load(&t->ran[i]) != 1) {
            wt_failf(__FILE__, __LINE__, "node %d ran %d times", i, atomic_load(&t->ran[i]));
            return;
        }
        int r = t->ret[i], want = r;
        if (!t->fails[i]) {
            /* ECANCELED only happens where some failure cancelled things. */
            if (!(r == 0 || (any_fail && r == WEFT_ECANCELED))) {
                wt_failf(__FILE__, __LINE__, "node %d returned %d (%s), expected success", i,
                         r, weft_err_name(r));
                return;
            }
        } else if (i >= t->first_leaf) {
            want = leaf_error(i);
        } else {
            int nfailed = 0, single = 0;
            for (int c = 1; c <= t->fanout; c++)
                if (t->fails[i * t->fanout + c]) {
                    nfailed++;
                    single = t->ret[i * t->fanout + c];
                }
            want = nfailed == 1 ? single : WEFT_EGROUP;
        }
        if (r != want) {
            wt_failf(__FILE__, __LINE__, "node %d returned %d (%s), expected %d (%s)", i, r,
                     weft_err_name(r), want, weft_err_name(want));
            return;
        }
    }
    EXPECT_RC(run_rc, t->fails[0] ? t->ret[0] : 0);
}

static int run_trees(int fanout, int depth, int rounds, uint64_t base_seed)
{
    static const unsigned fail_pm[] = {0, 2, 20, 150};
    for (int r = 0; r < rounds; r++) {
        tree_t t;
        uint64_t seed = base_seed + (uint64_t)r * 7919;
        if (tree_init(&t, fanout, depth, seed, fail_pm[r % 4], 250) == 0)
            tree_check(&t, tree_run(&t));
        tree_free(&t);
        if (atomic_load(&wt_fail_count)) {
            print_error("round %d (seed %llu, fail %u/1000)\n", r, (unsigned long long)seed,
                        fail_pm[r % 4]);
            break;
        }
    }
    return 0;
}

static int spawn_trees_wide(void *arg)
{
    (void)arg;
    /* 1365 tasks, 341 groups per round (TSan: 85 tasks, 21 groups). */
    return run_trees(4, WT_TSAN_PICK(5, 3), wt_scaled(WT_TSAN_PICK(16, 12)), 1);
}

static int spawn_trees_deep(void *arg)
{
    (void)arg;
    /* 2047 tasks, 1023 nested groups, 10 deep (TSan: 127 tasks, 6 deep). */
    return run_trees(2, WT_TSAN_PICK(10, 6), wt_scaled(WT_TSAN_PICK(16, 12)), 99);
}

/* ------------------------------------------------------------ flat group, many failures */

static const char *const flat_names[] = {"alpha", "beta", "gamma", "delta",
                                         "epsilon", "zeta", "eta", "theta"};

typedef struct {
    int n;
    uint64_t seed;
    unsigned fail_pm;
    atomic_int *ran;
    unsigned char *fails;
    int nfail_expected;
    int close_rc;
    size_t nrecorded;
    unsigned char *seen; /* per id: recorded how often */
    int bad_records;
    atomic_int ecanceled;
} flat_t;

typedef struct {
    flat_t *f;
    int id;
} flat_arg_t;

static int flat_task(void *arg)
{
    flat_arg_t *a = arg;
    flat_t *f = a->f;
    uint64_t rng = f->seed ^ ((uint64_t)(a->id + 1) * 0x9E3779B97F4A7C15ull);
    atomic_fetch_add(&f->ran[a->id], 1);
    int rc = 0;
    switch (wt_rand(&rng) % 4) {
    case 0:
        rc = weft_checkpoint();
        break;
    case 1:
        rc = weft_sleep(wt_randf(&rng) * 0.001);
        break;
    default:
        break;
    }
    EXPECT(rc == 0 || rc == WEFT_ECANCELED);
    if (rc == WEFT_ECANCELED)
        atomic_fetch_add(&f->ecanceled, 1);
    if (f->fails[a->id])
        return -(200000 + a->id);
    return rc;
}

static int flat_round(flat_t *f)
{
    flat_arg_t *args = calloc((size_t)f->n, sizeof *args);
    if (!args)
        return WEFT_ENOMEM;
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < f->n; i++) {
        args[i].f = f;
        args[i].id = i;
        EXPECT_RC(weft_group_spawn_named(&g, flat_task, &args[i], flat_names[i % 8]), 0);
        if (i % 64 == 0) {
            int rc = weft_checkpoint();
            EXPECT(rc == 0 || rc == WEFT_ECANCELED);
        }
    }
    f->close_rc = weft_group_close(&g, 0);
    f->nrecorded = weft_group_failure_count(&g);
    for (size_t i = 0; i < f->nrecorded; i++) {
        int e = 0;
        const char *nm = NULL;
        if (weft_group_failure(&g, i, &e, &nm) != 0) {
            f->bad_records++;
            continue;
        }
        int id = -e - 200000;
        if (id < 0 || id >= f->n || !f->fails[id] || nm == NULL ||
            strcmp(nm, flat_names[id % 8]) != 0) {
            f->bad_records++;
            continue;
        }
        f->seen[id]++;
    }
    free(args);
    return 0;
}

static int flat_group_random_failures(void *arg)
{
    (void)arg;
    static const unsigned fail_pm[] = {0, 1, 5, 300, 1000};
    int rounds = wt_scaled(WT_TSAN_PICK(10, 5));
    for (int r = 0; r < rounds; r++) {
        flat_t f = {.n = WT_TSAN_PICK(3000, 300), .seed = 1000 + (uint64_t)r,
                    .fail_pm = fail_pm[r % 5]};
        f.ran = calloc((size_t)f.n, sizeof *f.ran);
        f.fails = calloc((size_t)f.n, 1);
        f.seen = calloc((size_t)f.n, 1);
        EXPECT(f.ran && f.fails && f.seen);
        if (!(f.ran && f.fails && f.seen)) {
            free(f.ran);
            free(f.fails);
            free(f.seen);
            return WEFT_ENOMEM;
        }
        uint64_t rng = f.seed * 31;
        int single = 0;
        for (int i = 0; i < f.n; i++) {
            f.fails[i] = wt_rand(&rng) % 1000 < f.fail_pm;
            if (f.fails[i]) {
                f.nfail_expected++;
                single = -(200000 + i);
            }
        }
        EXPECT_RC(flat_round(&f), 0);
        for (int i = 0; i < f.n; i++)
            EXPECT(atomic_load(&f.ran[i]) == 1);
        EXPECT(f.bad_records == 0);
        EXPECT(f.nrecorded == (size_t)f.nfail_expected);
        for (int i = 0; i < f.n; i++)
            EXPECT(f.seen[i] == f.fails[i]);
        if (f.nfail_expected == 0) {
            EXPECT_RC(f.close_rc, 0);
            EXPECT(atomic_load(&f.ecanceled) == 0);
        } else if (f.nfail_expected == 1) {
            EXPECT_RC(f.close_rc, single);
        } else {
            EXPECT_RC(f.close_rc, WEFT_EGROUP);
        }
        free(f.ran);
        free(f.fails);
        free(f.seen);
    }
    return 0;
}

/* ------------------------------------------------------------ checkpoint storm */

typedef struct {
    int per_task;
    atomic_long total;
} storm_t;

static int storm_task(void *arg)
{
    storm_t *s = arg;
    for (int i = 0; i < s->per_task; i++) {
        EXPECT_RC(weft_checkpoint(), 0);
        atomic_fetch_add(&s->total, 1);
    }
    return 0;
}

static int checkpoint_storm(void *arg)
{
    (void)arg;
    storm_t s = {.per_task = wt_scaled(WT_TSAN_PICK(2000, 500))};
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < 64; i++)
        EXPECT_RC(weft_group_spawn(&g, storm_task, &s), 0);
    int rc = weft_group_close(&g, 0);
    EXPECT(atomic_load(&s.total) == 64L * s.per_task);
    return rc;
}

/* ------------------------------------------------------------ siblings spawning siblings */

typedef struct {
    weft_group_t *g;
    int budget;
    atomic_int reserved;
    atomic_int *ran;
    uint64_t seed;
} sib_t;

typedef struct {
    sib_t *s;
    int id;
} sib_arg_t;

static sib_arg_t *sib_args;

static int sibling_task(void *arg)
{
    sib_arg_t *a = arg;
    sib_t *s = a->s;
    uint64_t rng = s->seed ^ ((uint64_t)(a->id + 1) * 0x9E3779B97F4A7C15ull);
    atomic_fetch_add(&s->ran[a->id], 1);
    int want = 1 + (int)(wt_rand(&rng) % 3);
    for (int k = 0; k < want; k++) {
        int id = atomic_fetch_add(&s->reserved, 1);
        if (id >= s->budget)
            break;
        EXPECT_RC(weft_group_spawn(s->g, sibling_task, &sib_args[id]), 0);
        if (wt_rand(&rng) % 4 == 0)
            EXPECT_RC(weft_checkpoint(), 0);
    }
    if (wt_rand(&rng) % 8 == 0)
        EXPECT_RC(weft_sleep(wt_randf(&rng) * 0.0003), 0);
    return 0;
}

static int sibling_round(sib_t *s)
{
    weft_group_t g;
    s->g = &g;
    EXPECT_RC(weft_group_open(&g), 0);
    int id = atomic_fetch_add(&s->reserved, 1);
    EXPECT_RC(weft_group_spawn(&g, sibling_task, &sib_args[id]), 0);
    return weft_group_close(&g, 0);
}

static int siblings_spawn_siblings(void *arg)
{
    (void)arg;
    int rounds = wt_scaled(WT_TSAN_PICK(10, 4));
    for (int r = 0; r < rounds; r++) {
        sib_t s = {.budget = WT_TSAN_PICK(5000, 400), .seed = 77 + (uint64_t)r};
        s.ran = calloc((size_t)s.budget, sizeof *s.ran);
        sib_args = calloc((size_t)s.budget, sizeof *sib_args);
        EXPECT(s.ran && sib_args);
        if (s.ran && sib_args) {
            for (int i = 0; i < s.budget; i++) {
                sib_args[i].s = &s;
                sib_args[i].id = i;
            }
            EXPECT_RC(sibling_round(&s), 0);
            for (int i = 0; i < s.budget; i++)
                EXPECT(atomic_load(&s.ran[i]) == 1);
        }
        free(s.ran);
        free(sib_args);
        sib_args = NULL;
    }
    return 0;
}

/* ------------------------------------------------------------ timers under load */

typedef struct {
    atomic_int done;
    atomic_int early;
    uint64_t seed;
} timers_t;

typedef struct {
    timers_t *t;
    double delay;
} timer_arg_t;

static int timed_sleeper(void *arg)
{
    timer_arg_t *a = arg;
    double t0 = weft_now();
    EXPECT_RC(weft_sleep(a->delay), 0);
    if (weft_now() - t0 < a->delay)
        atomic_fetch_add(&a->t->early, 1);
    atomic_fetch_add(&a->t->done, 1);
    return 0;
}

#define NTIMERS WT_TSAN_PICK(2000, 300)

static int timers_round(timers_t *t)
{
    static timer_arg_t args[2000];
    uint64_t rng = t->seed;
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < NTIMERS; i++) {
        args[i].t = t;
        args[i].delay = wt_randf(&rng) * 0.005;
        EXPECT_RC(weft_group_spawn(&g, timed_sleeper, &args[i]), 0);
    }
    return weft_group_close(&g, 0);
}

static int many_timers(void *arg)
{
    (void)arg;
    int rounds = wt_scaled(WT_TSAN_PICK(10, 3));
    for (int r = 0; r < rounds; r++) {
        timers_t t = {.seed = 5 + (uint64_t)r};
        EXPECT_RC(timers_round(&t), 0);
        EXPECT(atomic_load(&t.done) == NTIMERS);
        EXPECT(atomic_load(&t.early) == 0);
    }
    return 0;
}

/* ------------------------------------------------------------ runtime churn */

typedef struct {
    atomic_int count;
    uint64_t seed;
} churn_t;

static int churn_task(void *arg)
{
    churn_t *c = arg;
    EXPECT_RC(weft_checkpoint(), 0);
    atomic_fetch_add(&c->count, 1);
    return 0;
}

#define CHURN_TASKS WT_TSAN_PICK(100, 30)

static int churn_main(void *arg)
{
    churn_t *c = arg;
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < CHURN_TASKS; i++)
        EXPECT_RC(weft_group_spawn(&g, churn_task, c), 0);
    EXPECT_RC(weft_sleep(0.0002), 0);
    return weft_group_close(&g, 0);
}

/* A plain test: a fresh runtime per round (on 1 to 4 workers) is the point. */
static void runtime_churn(void)
{
    int rounds = wt_scaled(WT_TSAN_PICK(60, 12));
    for (int r = 0; r < rounds; r++) {
        churn_t c;
        memset(&c, 0, sizeof c);
        WT_RUN_OK(churn_main, &c, (unsigned)(1 + r % 4));
        assert_int_equal(atomic_load(&c.count), CHURN_TASKS);
    }
}

/* ------------------------------------------------------------ record churn */

/* One task spawns round after round of short tasks on 2 workers; the other
 * worker steals most of them and ends them there.  Task records then cross
 * workers at a high rate: the finisher's cache overflows into the runtime's
 * pool while the spawner's cache runs dry and refills from it, which is
 * where a read of the pool outside its lock once raced (TSan). */
typedef struct {
    atomic_int ran;
} records_t;

static atomic_uint record_sink; /* keeps the work from being optimised away */

static int record_child(void *arg)
{
    records_t *c = arg;
    unsigned x = 0;
    for (unsigned i = 0; i < 2000; i++)
        x += i; /* a little work, so that a thief gets there first */
    atomic_store_explicit(&record_sink, x, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->ran, 1, memory_order_relaxed);
    return weft_checkpoint();
}

enum { RECORD_ROUNDS = 20, RECORD_TASKS = 2000 };

static int record_spawner(void *arg)
{
    records_t *c = arg;
    for (int round = 0; round < RECORD_ROUNDS; round++) {
        weft_group_t g;
        EXPECT_RC(weft_group_open(&g), 0);
        for (int i = 0; i < RECORD_TASKS; i++) {
            int rc = weft_group_spawn(&g, record_child, c);
            if (rc)
                return weft_group_close(&g, rc);
            if (i % 64 == 0)
                EXPECT_RC(weft_checkpoint(), 0);
        }
        int rc = weft_group_close(&g, 0);
        if (rc)
            return rc;
    }
    return 0;
}

/* A plain test, a runtime per run: one run takes half a minute under TSan,
 * so that WEFT_STRESS_SCALE runs in one body would outlast a case's time. */
static void records_cross_workers(void)
{
    int runs = wt_scaled(WT_TSAN_PICK(5, 1));
    for (int r = 0; r < runs; r++) {
        records_t c;
        memset(&c, 0, sizeof c);
        WT_RUN_OK(record_spawner, &c, 2);
        assert_int_equal(atomic_load(&c.ran), RECORD_ROUNDS * RECORD_TASKS);
    }
}

static const wt_case_t cases[] = {
    WT_CASE_ON(spawn_trees_wide, WT_W4),
    WT_CASE_ON(spawn_trees_deep, WT_W4),
    WT_CASE_ON(flat_group_random_failures, WT_W4),
    WT_CASE_ON(checkpoint_storm, WT_W4),
    WT_CASE_ON(siblings_spawn_siblings, WT_W4),
    WT_CASE_ON(many_timers, WT_W4),
    WT_TEST(runtime_churn),
    WT_TEST(records_cross_workers),
};
WT_SUITE(cases)
