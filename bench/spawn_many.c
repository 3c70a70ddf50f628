/*
 * spawn_many — one task spawns N (default 1,000,000) empty tasks into one group,
 * then closes it.  Result: wall time from weft_group_open to the return of
 * weft_group_close divided by N, in ns/task (median of the repetitions, after
 * one warm-up round).  -l N: the spawner sets N task-local values first, so
 * that every task inherits them (weft/local.h).
 *
 * Baseline: pthread_create of N/100 (default 10,000) threads, then
 * pthread_join of them all, in ns/thread (median of 3 rounds).
 */
#include "bench.h"

#include <pthread.h>


typedef struct spawn_ctx_t {
    long n;
    int reps;
    int locals;
    double *ns_per_task; /* reps entries */
} spawn_ctx_t;

static int empty_task(void *arg)
{
    (void)arg;
    bench_tally_add(1); /* per-thread counter: proves every task ran */
    return 0;
}

static double spawn_round(long n)
{
    weft_group_t g;
    bench_tally_reset();
    uint64_t t0 = bench_now_ns();
    bench_check_rc(weft_group_open(&g), "weft_group_open");
    for (long i = 0; i < n; i++) {
        int rc = weft_group_spawn(&g, empty_task, NULL);
        if (rc != 0)
            bench_fail("weft_group_spawn #%ld returned %d (%s)", i, rc, weft_err_name(rc));
    }
    int rc = weft_group_close(&g, 0);
    uint64_t t1 = bench_now_ns();
    bench_check_close(&g, rc, "weft_group_close");
    uint64_t ran = bench_tally_sum();
    if (ran != (uint64_t)n)
        bench_fail("%llu of %ld tasks ran", (unsigned long long)ran, n);
    return (double)(t1 - t0) / (double)n;
}

static int bench_main(void *arg)
{
    spawn_ctx_t *c = arg;
    weft_local_t **keys;
    bench_locals_set(c->locals, &keys);
    double warm = spawn_round(c->n);
    printf("# warm-up: %.2f ns/task\n", warm);
    for (int r = 0; r < c->reps; r++)
        c->ns_per_task[r] = spawn_round(c->n);
    bench_locals_free(c->locals, keys);
    return 0;
}

/* ---------------------------------------------------------------- baseline */

static atomic_long thread_runs;

static void *empty_thread(void *arg)
{
    (void)arg;
    atomic_fetch_add_explicit(&thread_runs, 1, memory_order_relaxed);
    return NULL;
}

/* Create `n` threads, then join them all; ns per thread.  If the system refuses
 * more threads (EAGAIN) the ones created so far are joined and creation goes on. */
static double pthread_round(long n, pthread_t *tids)
{
    atomic_store(&thread_runs, 0);
    uint64_t t0 = bench_now_ns();
    long created = 0, joined = 0;
    while (created < n) {
        int rc = pthread_create(&tids[created], NULL, empty_thread, NULL);
        if (rc == EAGAIN && joined < created) {
            while (joined < created)
                pthread_join(tids[joined++], NULL);
            continue;
        }
        if (rc != 0)
            bench_fail("pthread_create #%ld: %s", created, strerror(rc));
        created++;
    }
    while (joined < created)
        pthread_join(tids[joined++], NULL);
    uint64_t t1 = bench_now_ns();
    if (atomic_load(&thread_runs) != n)
        bench_fail("baseline: %ld of %ld threads ran", atomic_load(&thread_runs), n);
    return (double)(t1 - t0) / (double)n;
}

int main(int argc, char **argv)
{
    bench_args_t a = {.workers = 2, .n = 1000000, .reps = 5, .takes_locals = 1};
    bench_parse_args(argc, argv, &a,
                     "  -n N   tasks spawned per round (default 1000000)\n"
                     "  -r N   measured rounds after one warm-up (default 5)\n"
                     "  -l N   task-local values the spawner sets (default 0)\n");
    spawn_ctx_t c = {.n = a.n, .reps = a.reps, .locals = a.locals};
    c.ns_per_task = calloc((size_t)a.reps, sizeof(double));
    if (!c.ns_per_task)
        bench_fail("out of memory");

    printf("# spawn_many: %ld empty tasks into one group, workers=%u, task-local values=%d, "
           "median of %d rounds after 1 warm-up\n",
           a.n, a.workers, a.locals, a.reps);
    bench_run(&a, bench_main, &c);
    bench_print_samples("weft rounds", c.ns_per_task, (size_t)a.reps, "ns/task");
    double weft = bench_median(c.ns_per_task, (size_t)a.reps);

    long bn = a.n / 100 > 0 ? a.n / 100 : 1;
    pthread_t *tids = calloc((size_t)bn, sizeof(pthread_t));
    if (!tids)
        bench_fail("out of memory");
    double b[3];
    pthread_round(bn < 1000 ? bn : 1000, tids); /* warm-up */
    for (int i = 0; i < 3; i++)
        b[i] = pthread_round(bn, tids);
    printf("# baseline: pthread_create of %ld threads then join all, median of 3 rounds\n", bn);
    bench_print_samples("baseline rounds", b, 3, "ns/thread");
    double base = bench_median(b, 3);

    bench_result("spawn_many", weft, "ns/task");
    bench_baseline("pthread_create_join", base, "ns/thread");
    bench_ratio("spawn_many", weft, base);
    free(tids);
    free(c.ns_per_task);
    return 0;
}
