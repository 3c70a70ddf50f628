/*
 * offload_throughput — N no-op calls (default 200,000) offloaded with 40 in
 * flight: 40 tasks in one group, each calling weft_to_thread_run_sync of a
 * no-op (it only counts the call) N/40 times in a row, under the runtime's
 * default thread limiter (40 tokens).  Result: N / wall time of the round
 * (from the group's open to the end of its close), in calls/s (median of the
 * repetitions, after one warm-up round of N/10).  Checks every call's result,
 * each task's and the total call count, and that the limiter has no token
 * out after a round; prints how many distinct threads ran the calls.
 *
 * Baseline: raw libuv, 40 uv_work_t requests of the same no-op on a private
 * loop, each resubmitted from its after_work callback until N have run;
 * calls/s (median of the same number of rounds, after one warm-up of N/10).
 * libuv's thread pool keeps its default size (4 threads unless
 * UV_THREADPOOL_SIZE is set; printed as a comment line), so at most 4 of the
 * 40 run at once there.
 */
#include "bench.h"
#include "uv_work.h"

#define IN_FLIGHT 40

/* Distinct threads that ran a call in one round, counted once per thread
 * and round (a thread-local check, no shared write after a thread's first
 * call of the round).  Rounds are numbered from 1. */
typedef struct ot_threads_t {
    atomic_long count;
    long round;
} ot_threads_t;

static long ot_rounds;
static _Thread_local long ot_seen_round;

static inline void ot_count_thread(ot_threads_t *th)
{
    if (ot_seen_round != th->round) {
        ot_seen_round = th->round;
        atomic_fetch_add(&th->count, 1);
    }
}

typedef struct ot_task_t {
    long n;
    long calls;
    ot_threads_t *threads;
} ot_task_t;

static int noop(void *arg)
{
    ot_task_t *t = arg;
    t->calls++;
    ot_count_thread(t->threads);
    return 0;
}

static int offloader(void *arg)
{
    ot_task_t *t = arg;
    for (long i = 1; i <= t->n; i++) {
        int rc = weft_to_thread_run_sync(noop, t, NULL);
        if (rc != 0)
            return rc;
        if (t->calls != i)
            bench_fail("offloader: after call %ld the function ran %ld times", i, t->calls);
    }
    return 0;
}

/* The process's thread count from /proc/self/status (0 if unavailable). */
static long ot_process_threads(void)
{
    char line[256];
    long n = 0;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %ld", &n) == 1)
            break;
    fclose(f);
    return n;
}

/* One weft round (a bench_round_fn): prints the warm-up line for round 0 and
 * a line of thread counts after each measured round. */
static double ot_round(void *ctx, long n, int round)
{
    (void)ctx;
    long tasks = n < IN_FLIGHT ? n : IN_FLIGHT;
    ot_task_t *t = calloc((size_t)tasks, sizeof *t);
    if (!t)
        bench_fail("out of memory");
    ot_threads_t threads = {.round = ++ot_rounds};
    for (long i = 0; i < tasks; i++) {
        t[i].n = n / tasks + (i < n % tasks ? 1 : 0);
        t[i].threads = &threads;
    }
    weft_group_t g;
    uint64_t t0 = bench_now_ns();
    bench_check_rc(weft_group_open(&g), "weft_group_open");
    for (long i = 0; i < tasks; i++)
        bench_check_rc(weft_group_spawn(&g, offloader, &t[i]), "weft_group_spawn");
    int rc = weft_group_close(&g, 0);
    uint64_t t1 = bench_now_ns();
    bench_check_close(&g, rc, "weft_group_close");
    long total = 0;
    for (long i = 0; i < tasks; i++) {
        if (t[i].calls != t[i].n)
            bench_fail("task %ld: %ld of %ld calls", i, t[i].calls, t[i].n);
        total += t[i].calls;
    }
    if (total != n)
        bench_fail("%ld of %ld calls", total, n);
    bench_check_limiter_idle();
    free(t);
    double rate = (double)n / ((double)(t1 - t0) / 1e9);
    if (round == 0)
        printf("# warm-up: %.0f calls/s, %ld distinct blocking threads ran calls\n", rate,
               atomic_load(&threads.count));
    else
        printf("# round %d: %ld distinct blocking threads ran calls; process threads now %ld\n",
               round, atomic_load(&threads.count), ot_process_threads());
    return rate;
}

static int bench_main(void *arg)
{
    bench_print_default_limiter();
    bench_rounds_run(arg, NULL, ot_round, NULL);
    return 0;
}

/* ---------------------------------------------------------------- baseline */

static void uv_body(void *ctx)
{
    ot_count_thread(ctx);
}

/* One baseline round (a bench_round_fn): prints the warm-up line for round 0;
 * leaves the round's pool thread count in *(long *)ctx. */
static double uv_rate(void *ctx, long n, int round)
{
    long *threads_out = ctx;
    ot_threads_t threads = {.round = ++ot_rounds};
    double rate = (double)n / uvw_round(n, IN_FLIGHT, uv_body, &threads);
    *threads_out = atomic_load(&threads.count);
    if (round == 0)
        printf("# baseline warm-up: %.0f calls/s, %ld distinct pool threads ran calls\n", rate,
               *threads_out);
    return rate;
}

int main(int argc, char **argv)
{
    bench_args_t a = bench_rounds_args(argc, argv, 200000, "calls per round, 40 in flight");
    bench_rounds_t w, b;
    bench_rounds_init(&w, &a, "calls/s");
    bench_rounds_init(&b, &a, "calls/s");
    long tasks = a.n < IN_FLIGHT ? a.n : IN_FLIGHT;
    printf("# offload_throughput: %ld tasks x ~%ld sequential weft_to_thread_run_sync of a "
           "no-op (%ld calls), workers=%u, median of %d rounds after 1 warm-up\n",
           tasks, a.n / tasks, a.n, a.workers, a.reps);
    bench_run(&a, bench_main, &w);
    double weft = bench_rounds_median(&w, "weft rounds");

    uvw_print_pool_size();
    long threads = 0;
    bench_rounds_run(&b, NULL, uv_rate, &threads);
    printf("# baseline: %ld uv_work_t of a no-op in flight, resubmitted from after_work, "
           "%ld calls, median of %d rounds (%ld pool threads ran calls)\n",
           tasks, a.n, a.reps, threads);
    double base = bench_rounds_median(&b, "baseline rounds");

    bench_report("offload_throughput", weft, "uv_queue_work_40_in_flight", base, "calls/s");
    return 0;
}
