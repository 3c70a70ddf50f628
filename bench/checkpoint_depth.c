/*
 * checkpoint_depth — what a checkpoint costs under many enclosing cancel
 * scopes.  One task enters D nested scopes (none cancelled, none with a
 * deadline) and calls weft_checkpoint() N times (default 200,000), for
 * D = 1 and D = 10,000 (-n sets N).  Result: ns per checkpoint at depth
 * 10,000; baseline: the same at depth 1; the ratio is what depth costs
 * (1.0: nothing).  Asking "is this task cancelled?" must not walk the
 * scope chain (each scope keeps its effective state, as Trio's
 * CancelStatus does).  One worker, so every checkpoint is a plain yield.
 */
#include "bench.h"

#define DEEP 10000

typedef struct depth_ctx {
    long n;
    int reps;
    double *shallow, *deep;
} depth_ctx_t;

/* ns per checkpoint with `depth` scopes entered around the loop. */
static double depth_round(weft_scope_t *scopes, int depth, long n)
{
    for (int i = 0; i < depth; i++)
        weft_scope_enter(&scopes[i], WEFT_FOREVER, 0);
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++)
        bench_check_rc(weft_checkpoint(), "weft_checkpoint");
    uint64_t t1 = bench_now_ns();
    for (int i = depth; i-- > 0;)
        bench_check_rc(weft_scope_exit(&scopes[i], 0), "weft_scope_exit");
    return (double)(t1 - t0) / (double)n;
}

static int bench_main(void *arg)
{
    depth_ctx_t *c = arg;
    weft_scope_t *scopes = calloc(DEEP, sizeof *scopes);
    if (!scopes)
        bench_fail("out of memory");
    printf("# warm-up: %.2f ns at depth 1, %.2f ns at depth %d\n",
           depth_round(scopes, 1, bench_warmup_n(c->n)),
           depth_round(scopes, DEEP, bench_warmup_n(c->n)), DEEP);
    for (int r = 0; r < c->reps; r++) { /* interleaved, so drift hits both */
        c->shallow[r] = depth_round(scopes, 1, c->n);
        c->deep[r] = depth_round(scopes, DEEP, c->n);
    }
    free(scopes);
    return 0;
}

int main(int argc, char **argv)
{
    bench_args_t a = {.workers = 1, .n = 200000, .reps = 5};
    bench_parse_args(argc, argv, &a,
                     "  -n N   weft_checkpoint() calls per round (default 200000)\n"
                     "  -r N   measured rounds of each depth, interleaved (default 5)\n");
    depth_ctx_t c = {.n = a.n, .reps = a.reps};
    c.shallow = calloc((size_t)a.reps, sizeof(double));
    c.deep = calloc((size_t)a.reps, sizeof(double));
    if (!c.shallow || !c.deep)
        bench_fail("out of memory");
    printf("# checkpoint_depth: %ld weft_checkpoint() per round under 1 and %d scopes, "
           "workers=%u, median of %d rounds each\n", a.n, DEEP, a.workers, a.reps);
    bench_run(&a, bench_main, &c);
    bench_print_samples("depth 1", c.shallow, (size_t)a.reps, "ns/checkpoint");
    bench_print_samples("depth 10000", c.deep, (size_t)a.reps, "ns/checkpoint");
    double deep = bench_median(c.deep, (size_t)a.reps);
    double shallow = bench_median(c.shallow, (size_t)a.reps);
    bench_report("checkpoint_depth", deep, "checkpoint_depth_1", shallow, "ns/checkpoint");
    free(c.shallow);
    free(c.deep);
    return 0;
}
