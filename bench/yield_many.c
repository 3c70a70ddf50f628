/*
 * yield_many — 200 tasks in one group, each calling weft_checkpoint() N times
 * (default 1,000).  Result: total wall time of the round (open, spawn, all the
 * checkpoints, close) divided by 200*N, in ns/yield (median of the repetitions,
 * after one warm-up round).
 *
 * Baseline: 2 pthreads each calling sched_yield() 100*N times (the same
 * 200*N yields in total), wall time / total yields, in ns/yield (median of 3).
 */
#include "bench.h"

#include <pthread.h>
#include <sched.h>


#define YIELD_TASKS 200

typedef struct yield_ctx_t {
    long per_task;
    int reps;
    double *ns_per_yield;
} yield_ctx_t;

static long g_per_task;
/* Tasks migrate between workers at checkpoints, so a plain shared atomic
 * (200 adds per round) rather than the per-thread tally. */
static _Atomic uint64_t g_done;

static int yield_task(void *arg)
{
    (void)arg;
    long k = g_per_task;
    for (long i = 0; i < k; i++) {
        int rc = weft_checkpoint();
        if (rc != 0)
            return rc; /* recorded by the group, reported by close */
    }
    atomic_fetch_add_explicit(&g_done, (uint64_t)k, memory_order_relaxed);
    return 0;
}

static double yield_round(long per_task)
{
    weft_group_t g;
    g_per_task = per_task;
    atomic_store(&g_done, 0);
    uint64_t t0 = bench_now_ns();
    bench_check_rc(weft_group_open(&g), "weft_group_open");
    for (int i = 0; i < YIELD_TASKS; i++) {
        int rc = weft_group_spawn(&g, yield_task, NULL);
        if (rc != 0)
            bench_fail("weft_group_spawn #%d returned %d (%s)", i, rc, weft_err_name(rc));
    }
    int rc = weft_group_close(&g, 0);
    uint64_t t1 = bench_now_ns();
    bench_check_close(&g, rc, "weft_group_close");
    uint64_t total = (uint64_t)YIELD_TASKS * (uint64_t)per_task;
    uint64_t done = atomic_load(&g_done);
    if (done != total)
        bench_fail("%llu of %llu checkpoints done", (unsigned long long)done,
                   (unsigned long long)total);
    return (double)(t1 - t0) / (double)total;
}

static int bench_main(void *arg)
{
    yield_ctx_t *c = arg;
    double warm = yield_round(c->per_task);
    printf("# warm-up: %.2f ns/yield\n", warm);
    for (int r = 0; r < c->reps; r++)
        c->ns_per_yield[r] = yield_round(c->per_task);
    return 0;
}

/* ---------------------------------------------------------------- baseline */

static atomic_long sched_yields;

static void *yield_thread(void *arg)
{
    long k = *(const long *)arg;
    for (long i = 0; i < k; i++)
        sched_yield();
    atomic_fetch_add(&sched_yields, k);
    return NULL;
}

static double sched_yield_round(long per_thread)
{
    pthread_t t[2];
    atomic_store(&sched_yields, 0);
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < 2; i++) {
        int rc = pthread_create(&t[i], NULL, yield_thread, &per_thread);
        if (rc != 0)
            bench_fail("pthread_create: %s", strerror(rc));
    }
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    uint64_t t1 = bench_now_ns();
    if (atomic_load(&sched_yields) != 2 * per_thread)
        bench_fail("baseline: %ld of %ld yields", atomic_load(&sched_yields), 2 * per_thread);
    return (double)(t1 - t0) / (double)(2 * per_thread);
}

int main(int argc, char **argv)
{
    bench_args_t a = {.workers = 2, .n = 1000, .reps = 5};
    bench_parse_args(argc, argv, &a,
                     "  -n N   weft_checkpoint() calls per task, 200 tasks (default 1000)\n"
                     "  -r N   measured rounds after one warm-up (default 5)\n");
    yield_ctx_t c = {.per_task = a.n, .reps = a.reps};
    c.ns_per_yield = calloc((size_t)a.reps, sizeof(double));
    if (!c.ns_per_yield)
        bench_fail("out of memory");

    printf("# yield_many: %d tasks x %ld weft_checkpoint(), workers=%u, "
           "median of %d rounds after 1 warm-up\n",
           YIELD_TASKS, a.n, a.workers, a.reps);
    bench_run(&a, bench_main, &c);
    bench_print_samples("weft rounds", c.ns_per_yield, (size_t)a.reps, "ns/yield");
    double weft = bench_median(c.ns_per_yield, (size_t)a.reps);

    long per_thread = (long)YIELD_TASKS * a.n / 2;
    double b[3];
    sched_yield_round(per_thread / 10 > 0 ? per_thread / 10 : 1); /* warm-up */
    for (int i = 0; i < 3; i++)
        b[i] = sched_yield_round(per_thread);
    printf("# baseline: 2 pthreads x %ld sched_yield(), median of 3 rounds\n", per_thread);
    bench_print_samples("baseline rounds", b, 3, "ns/yield");
    double base = bench_median(b, 3);

    bench_result("yield_many", weft, "ns/yield");
    bench_baseline("sched_yield_2_pthreads", base, "ns/yield");
    bench_ratio("yield_many", weft, base);
    free(c.ns_per_yield);
    return 0;
}
