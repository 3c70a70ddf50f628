/*
 * offload_latency — one task calls weft_to_thread_run_sync of a no-op (it
 * only counts the call) N times in a row (default 100,000), with the
 * runtime's default thread limiter.  Result: wall time / N, in us/call
 * (median of the repetitions, after one warm-up round of N/10).  Checks every
 * call's result, the call count, and that the limiter has no token out after
 * a round.
 *
 * Baseline: raw libuv, uv_queue_work of the same no-op on a private loop, the
 * next request submitted from the previous one's after_work callback, N times;
 * us/call (median of the same number of rounds, after one warm-up of N/10).
 * libuv's thread pool has 4 threads unless UV_THREADPOOL_SIZE says otherwise
 * (printed as a comment line).
 */
#include "bench.h"
#include "uv_work.h"

static double ol_round(void *ctx, long n, int round)
{
    long calls = 0;
    (void)ctx, (void)round;
    uint64_t t0 = bench_now_ns();
    for (long i = 1; i <= n; i++) {
        int rc = weft_to_thread_run_sync(bench_count_call, &calls, NULL);
        bench_check_call("weft_to_thread_run_sync", i, rc, calls);
    }
    uint64_t t1 = bench_now_ns();
    bench_check_limiter_idle();
    return bench_us_per_op(t0, t1, n);
}

static int bench_main(void *arg)
{
    bench_print_default_limiter();
    bench_rounds_run(arg, "warm-up", ol_round, NULL);
    return 0;
}

/* Baseline round: n sequential uv_queue_work of a no-op, us/call. */
static double uv_round(void *ctx, long n, int round)
{
    (void)ctx, (void)round;
    return uvw_round(n, 1, NULL, NULL) * 1e6 / (double)n;
}

int main(int argc, char **argv)
{
    bench_args_t a = bench_rounds_args(argc, argv, 100000, "sequential calls per round");
    bench_rounds_t w, b;
    bench_rounds_init(&w, &a, "us/call");
    bench_rounds_init(&b, &a, "us/call");
    printf("# offload_latency: 1 task, %ld sequential weft_to_thread_run_sync of a no-op, "
           "workers=%u, median of %d rounds after 1 warm-up\n",
           a.n, a.workers, a.reps);
    bench_run(&a, bench_main, &w);
    double weft = bench_rounds_median(&w, "weft rounds");

    uvw_print_pool_size();
    bench_rounds_run(&b, "baseline warm-up", uv_round, NULL);
    printf("# baseline: uv_queue_work of a no-op, next one from after_work, %ld calls, "
           "median of %d rounds\n",
           a.n, a.reps);
    double base = bench_rounds_median(&b, "baseline rounds");

    bench_report("offload_latency", weft, "uv_queue_work_sequential", base, "us/call");
    return 0;
}
