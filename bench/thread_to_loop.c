/*
 * thread_to_loop — one blocking thread (inside weft_to_thread_run_sync from
 * the main task) calls weft_from_thread_run_sync of a tiny function (it only
 * counts the call) N times in a row (default 100,000); the function runs on a
 * worker between tasks.  Result: the blocking thread's time for the N calls /
 * N, in us/call (median of the repetitions, after one warm-up round of N/10;
 * every round is one weft_to_thread_run_sync).  Checks every call's result
 * and the call count after each call.
 *
 * Baseline: raw libuv, a plain pthread (the main thread) asks a libuv loop
 * running on another pthread to run the same function: it fills a one-request
 * slot, calls uv_async_send and waits on a condition variable that the loop's
 * async callback signals after running the function (bench/uv_roundtrip.h);
 * N round trips, us/call (median of the same number of rounds, after one
 * warm-up of N/10).
 */
#include "bench.h"
#include "uv_roundtrip.h"

typedef struct tl_round_t {
    long n;
    long calls;
    uint64_t t0, t1;
} tl_round_t;

/* Runs on a blocking thread. */
static int caller(void *arg)
{
    tl_round_t *r = arg;
    r->t0 = bench_now_ns();
    for (long i = 1; i <= r->n; i++) {
        int rc = weft_from_thread_run_sync(bench_count_call, &r->calls);
        bench_check_call("weft_from_thread_run_sync", i, rc, r->calls);
    }
    r->t1 = bench_now_ns();
    return 0;
}

static double tl_round(void *ctx, long n, int round)
{
    tl_round_t r = {.n = n};
    (void)ctx, (void)round;
    int rc = weft_to_thread_run_sync(caller, &r, NULL);
    bench_check_rc(rc, "weft_to_thread_run_sync");
    if (r.calls != n)
        bench_fail("%ld of %ld calls", r.calls, n);
    return bench_us_per_op(r.t0, r.t1, n);
}

static int bench_main(void *arg)
{
    /* From a task the call would wait for itself. */
    long dummy = 0;
    int rc = weft_from_thread_run_sync(bench_count_call, &dummy);
    if (rc != WEFT_EPERM || dummy != 0)
        bench_fail("weft_from_thread_run_sync from a task: %d (%s), ran %ld times; "
                   "expected WEFT_EPERM, not run",
                   rc, weft_err_name(rc), dummy);
    bench_rounds_run(arg, "warm-up", tl_round, NULL);
    return 0;
}

int main(int argc, char **argv)
{
    bench_args_t a = bench_rounds_args(argc, argv, 100000, "sequential calls per round");
    bench_rounds_t w, b;
    bench_rounds_init(&w, &a, "us/call");
    bench_rounds_init(&b, &a, "us/call");
    printf("# thread_to_loop: 1 blocking thread, %ld sequential weft_from_thread_run_sync of "
           "a tiny function, workers=%u, median of %d rounds after 1 warm-up\n",
           a.n, a.workers, a.reps);
    bench_run(&a, bench_main, &w);
    double weft = bench_rounds_median(&w, "weft rounds");

    uvrt_baseline(&b);
    double base = bench_rounds_median(&b, "baseline rounds");

    bench_report("thread_to_loop", weft, "uv_async_condvar", base, "us/call");
    return 0;
}
