/*
 * fib — fib(N) (default 27) as a tree of tasks: for n >= 2 a task opens a
 * group, spawns fib(n-1) and fib(n-2) into it, closes it and adds the two
 * results; n < 2 returns n.  fib(27) runs 635,621 tasks (the root call
 * included).  Result: wall time of one fib(N) in ms (median of the
 * repetitions, after one warm-up), checked against 196418 for fib(27).
 *
 * Baseline: plain recursive fib(N) on one thread, in ms (median of 11 runs),
 * to show the cost of a task per call.
 */
#include "bench.h"

typedef struct fib_t {
    int n;
    long result;
} fib_t;

static int fib_task(void *arg)
{
    fib_t *f = arg;
    if (f->n < 2) {
        f->result = f->n;
        return 0;
    }
    fib_t a = {.n = f->n - 1}, b = {.n = f->n - 2};
    weft_group_t g;
    int rc = weft_group_open(&g);
    if (rc != 0)
        return rc;
    rc = weft_group_spawn(&g, fib_task, &a);
    if (rc == 0)
        rc = weft_group_spawn(&g, fib_task, &b);
    rc = weft_group_close(&g, rc);
    if (rc != 0)
        return rc;
    f->result = a.result + b.result;
    return 0;
}

static long fib_expected(int n)
{
    long a = 0, b = 1;
    for (int i = 0; i < n; i++) {
        long t = a + b;
        a = b;
        b = t;
    }
    return a;
}

/* Number of calls (tasks) of the naive recursion for fib(n): 2*fib(n+1) - 1. */
static long fib_calls(int n)
{
    return 2 * fib_expected(n + 1) - 1;
}

typedef struct fib_ctx_t {
    int n;
    int reps;
    double *ms;
} fib_ctx_t;

static double fib_round(int n)
{
    fib_t f = {.n = n};
    weft_group_t g;
    uint64_t t0 = bench_now_ns();
    bench_check_rc(weft_group_open(&g), "weft_group_open");
    int rc = weft_group_spawn(&g, fib_task, &f);
    rc = weft_group_close(&g, rc);
    uint64_t t1 = bench_now_ns();
    bench_check_close(&g, rc, "fib group");
    if (f.result != fib_expected(n))
        bench_fail("fib(%d) = %ld, expected %ld", n, f.result, fib_expected(n));
    return (double)(t1 - t0) / 1e6;
}

static int bench_main(void *arg)
{
    fib_ctx_t *c = arg;
    double warm = fib_round(c->n);
    printf("# warm-up: %.2f ms\n", warm);
    for (int r = 0; r < c->reps; r++)
        c->ms[r] = fib_round(c->n);
    return 0;
}

/* ---------------------------------------------------------------- baseline */

static __attribute__((noinline)) long fib_plain(int n)
{
    return n < 2 ? n : fib_plain(n - 1) + fib_plain(n - 2);
}

static double fib_plain_round(int n)
{
    volatile int vn = n;
    uint64_t t0 = bench_now_ns();
    volatile long r = fib_plain(vn);
    uint64_t t1 = bench_now_ns();
    if (r != fib_expected(n))
        bench_fail("plain fib(%d) = %ld", n, (long)r);
    return (double)(t1 - t0) / 1e6;
}

int main(int argc, char **argv)
{
    bench_args_t a = {.workers = 2, .n = 27, .reps = 5};
    bench_parse_args(argc, argv, &a,
                     "  -n N   compute fib(N), N <= 40 (default 27)\n"
                     "  -r N   measured runs after one warm-up (default 5)\n");
    if (a.n > 40)
        bench_fail("-n %ld is too large (at most 40)", a.n);
    fib_ctx_t c = {.n = (int)a.n, .reps = a.reps};
    c.ms = calloc((size_t)a.reps, sizeof(double));
    if (!c.ms)
        bench_fail("out of memory");

    printf("# fib: fib(%d) = %ld with a group and 2 child tasks per call (%ld tasks), "
           "workers=%u, median of %d runs after 1 warm-up\n",
           c.n, fib_expected(c.n), fib_calls(c.n), a.workers, a.reps);
    bench_run(&a, bench_main, &c);
    bench_print_samples("weft runs", c.ms, (size_t)a.reps, "ms");
    double weft = bench_median(c.ms, (size_t)a.reps);
    printf("# weft: %.1f ns/task\n", weft * 1e6 / (double)fib_calls(c.n));

    double b[11];
    fib_plain_round(c.n); /* warm-up */
    for (int i = 0; i < 11; i++)
        b[i] = fib_plain_round(c.n);
    printf("# baseline: plain recursive fib(%d) on one thread, median of 11 runs\n", c.n);
    double base = bench_median(b, 11);

    bench_result("fib", weft, "ms");
    printf("baseline fib_plain_recursive %.3f ms\n", base);
    bench_ratio("fib", weft, base);
    free(c.ms);
    return 0;
}
