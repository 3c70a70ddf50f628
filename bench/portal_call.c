/*
 * portal_call — a foreign thread (the program's main thread, no runtime of
 * its own) calls weft_portal_call of a tiny function (it only counts the
 * call) N times in a row (default 100,000) on a portal started with
 * weft_portal_start (-w workers); each call runs the function as a task of
 * the portal.  Result: wall time / N, in us/call (median of the repetitions,
 * after one warm-up round of N/10).  Checks every call's result, the call
 * count after each call, and weft_portal_stop's result.
 *
 * Baseline: raw libuv, the same thread asks a libuv loop running on another
 * pthread to run the same function: it fills a one-request slot, calls
 * uv_async_send and waits on a condition variable that the loop's async
 * callback signals after running the function (bench/uv_roundtrip.h); N
 * round trips, us/call (median of the same number of rounds, after one
 * warm-up of N/10).
 */
#include "bench.h"
#include "uv_roundtrip.h"

static double pc_round(void *ctx, long n, int round)
{
    weft_portal_t *p = ctx;
    long calls = 0;
    (void)round;
    uint64_t t0 = bench_now_ns();
    for (long i = 1; i <= n; i++) {
        int rc = weft_portal_call(p, bench_count_call, &calls);
        bench_check_call("weft_portal_call", i, rc, calls);
    }
    uint64_t t1 = bench_now_ns();
    return bench_us_per_op(t0, t1, n);
}

int main(int argc, char **argv)
{
    bench_args_t a = bench_rounds_args(argc, argv, 100000, "sequential calls per round");
    bench_rounds_t w, b;
    bench_rounds_init(&w, &a, "us/call");
    bench_rounds_init(&b, &a, "us/call");
    printf("# portal_call: 1 foreign thread, %ld sequential weft_portal_call of a tiny "
           "function, portal workers=%u, median of %d rounds after 1 warm-up\n",
           a.n, a.workers, a.reps);

    weft_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.workers = a.workers;
    weft_portal_t *p = NULL;
    bench_check_rc(weft_portal_start(&p, &cfg), "weft_portal_start");
    if (!p)
        bench_fail("weft_portal_start returned 0 but no portal");
    bench_rounds_run(&w, "warm-up", pc_round, p);
    bench_check_rc(weft_portal_stop(p, 0), "weft_portal_stop");
    weft_portal_free(p);
    double weft = bench_rounds_median(&w, "weft rounds");

    uvrt_baseline(&b);
    double base = bench_rounds_median(&b, "baseline rounds");

    bench_report("portal_call", weft, "uv_async_condvar", base, "us/call");
    return 0;
}
