/*
 * lock_contention — 8 tasks each acquire and release one weft lock N times
 * (default 100,000), incrementing a counter the lock protects.  Result: wall
 * time of the round / (8*N), in ns/op (median of the repetitions, after one
 * warm-up round).  Checks the counter, and reports how fair the lock was: the
 * lock is FIFO, so the tasks finish close together (the '#' line gives the
 * spread of their finishing times as a fraction of the round).
 *
 * Baseline: 8 pthreads doing the same with a pthread mutex (glibc's default,
 * unfair: a releasing thread may re-take it at once), in ns/op (median of 3
 * rounds of N/4 per thread).
 */
#include "bench.h"

#include <pthread.h>

#define TASKS 8

typedef struct lc_ctx_t {
    long n;
    int reps;
    double *ns;
    double *spread;
} lc_ctx_t;

typedef struct lc_round_t {
    weft_lock_t *l;
    long n;
    long counter;            /* protected by l */
    uint64_t t0;
    uint64_t finished[TASKS];
} lc_round_t;

typedef struct lc_arg_t {
    lc_round_t *r;
    int i;
} lc_arg_t;

static int locker(void *arg)
{
    lc_arg_t *a = arg;
    lc_round_t *r = a->r;
    for (long k = 0; k < r->n; k++) {
        int rc = weft_lock_acquire(r->l);
        if (rc != 0)
            return rc;
        r->counter++;
        if ((rc = weft_lock_release(r->l)) != 0)
            return rc;
    }
    r->finished[a->i] = bench_now_ns();
    return 0;
}

static double lc_round(long n, double *spread)
{
    lc_round_t r = {.n = n};
    lc_arg_t args[TASKS];
    bench_check_rc(weft_lock_new(&r.l), "weft_lock_new");
    weft_group_t g;
    uint64_t t0 = bench_now_ns();
    bench_check_rc(weft_group_open(&g), "weft_group_open");
    for (int i = 0; i < TASKS; i++) {
        args[i] = (lc_arg_t){&r, i};
        bench_check_rc(weft_group_spawn(&g, locker, &args[i]), "weft_group_spawn");
    }
    int rc = weft_group_close(&g, 0);
    uint64_t t1 = bench_now_ns();
    bench_check_close(&g, rc, "weft_group_close");
    if (r.counter != TASKS * n)
        bench_fail("counter %ld, expected %ld", r.counter, TASKS * n);
    if (weft_lock_locked(r.l))
        bench_fail("lock still held after the round");
    weft_lock_free(r.l);
    uint64_t first = UINT64_MAX, last = 0;
    for (int i = 0; i < TASKS; i++) {
        if (r.finished[i] < first)
            first = r.finished[i];
        if (r.finished[i] > last)
            last = r.finished[i];
    }
    if (spread)
        *spread = (double)(last - first) / (double)(t1 - t0);
    return (double)(t1 - t0) / (double)(TASKS * n);
}

static int bench_main(void *arg)
{
    lc_ctx_t *c = arg;
    double warm = lc_round(c->n / 10 > 0 ? c->n / 10 : 1, NULL);
    printf("# warm-up: %.2f ns/op\n", warm);
    for (int i = 0; i < c->reps; i++)
        c->ns[i] = lc_round(c->n, &c->spread[i]);
    return 0;
}

/* ---------------------------------------------------------------- baseline */

typedef struct pt_round_t {
    pthread_mutex_t mu;
    long n, counter;
} pt_round_t;

static void *pt_locker(void *arg)
{
    pt_round_t *r = arg;
    for (long k = 0; k < r->n; k++) {
        pthread_mutex_lock(&r->mu);
        r->counter++;
        pthread_mutex_unlock(&r->mu);
    }
    return NULL;
}

static double pt_round(long n)
{
    pt_round_t r = {.n = n};
    pthread_t th[TASKS];
    pthread_mutex_init(&r.mu, NULL);
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < TASKS; i++) {
        int e = pthread_create(&th[i], NULL, pt_locker, &r);
        if (e)
            bench_fail("pthread_create: %s", strerror(e));
    }
    for (int i = 0; i < TASKS; i++)
        pthread_join(th[i], NULL);
    uint64_t t1 = bench_now_ns();
    if (r.counter != TASKS * n)
        bench_fail("baseline: counter %ld, expected %ld", r.counter, TASKS * n);
    pthread_mutex_destroy(&r.mu);
    return (double)(t1 - t0) / (double)(TASKS * n);
}

int main(int argc, char **argv)
{
    bench_args_t a = {.workers = 2, .n = 100000, .reps = 5};
    bench_parse_args(argc, argv, &a,
                     "  -n N   acquire/release pairs per task, 8 tasks (default 100000)\n"
                     "  -r N   measured rounds after one warm-up (default 5)\n");
    lc_ctx_t c = {.n = a.n, .reps = a.reps};
    c.ns = calloc((size_t)a.reps, sizeof(double));
    c.spread = calloc((size_t)a.reps, sizeof(double));
    if (!c.ns || !c.spread)
        bench_fail("out of memory");
    printf("# lock_contention: %d tasks x %ld acquire/release of one lock, workers=%u, "
           "median of %d rounds after 1 warm-up\n",
           TASKS, a.n, a.workers, a.reps);
    bench_print_line_handoff();
    bench_run(&a, bench_main, &c);
    bench_print_samples("weft rounds", c.ns, (size_t)a.reps, "ns/op");
    bench_print_samples("weft finishing spread", c.spread, (size_t)a.reps, "fraction of round");
    double weft = bench_median(c.ns, (size_t)a.reps);

    long bn = a.n / 4 > 0 ? a.n / 4 : 1;
    double b[3];
    for (int i = 0; i < 3; i++)
        b[i] = pt_round(bn);
    printf("# baseline: %d pthreads x %ld pthread_mutex lock/unlock, median of 3 rounds\n", TASKS,
           bn);
    bench_print_samples("baseline rounds", b, 3, "ns/op");
    double base = bench_median(b, 3);

    bench_result("lock_contention", weft, "ns/op");
    bench_baseline("pthread_mutex", base, "ns/op");
    bench_ratio("lock_contention", weft, base);
    free(c.ns);
    free(c.spread);
    return 0;
}
