/*
 * idle_memory — N (default 100,000) tasks blocked in weft_sleep(3600) inside
 * one group.  The root reads the RSS (/proc/self/statm), spawns the tasks,
 * waits until every one has reached its sleep (an atomic counter), sleeps
 * 0.2 s more, reads the RSS again, then cancels the group and closes it; every
 * task must see WEFT_ECANCELED.  Result: (RSS after - RSS before) / N, in
 * B/task, from one measurement (no warm-up: a second round could reuse the
 * memory of the first).  No baseline.
 *
 * Each task has its own stack mapping with a guard page; past the kernel's
 * vm.max_map_count the runtime may fall back to unguarded stacks and say so
 * on stderr — expected here.
 */
#include "bench.h"

static atomic_long asleep;    /* tasks that reached their sleep */
static atomic_long cancelled; /* tasks whose sleep returned WEFT_ECANCELED */
static atomic_long wrong;     /* tasks whose sleep returned anything else */

static int sleeper(void *arg)
{
    (void)arg;
    atomic_fetch_add_explicit(&asleep, 1, memory_order_relaxed);
    int rc = weft_sleep(3600);
    if (rc == WEFT_ECANCELED)
        atomic_fetch_add_explicit(&cancelled, 1, memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&wrong, 1, memory_order_relaxed);
    return rc;
}

typedef struct idle_ctx_t {
    long n;
    size_t rss_before, rss_after;
    double spawn_s, settle_s, cancel_s;
} idle_ctx_t;

/* Something went wrong while the group is open: cancel it, close it, list
 * what its tasks reported, and fail. */
static void fail_open_group(weft_group_t *g, const char *msg)
{
    fflush(stdout);
    fprintf(stderr, "bench: %s\nbench: %ld tasks asleep, %ld woke with WEFT_ECANCELED, %ld with "
                    "another result; cancelling the group\n",
            msg, atomic_load(&asleep), atomic_load(&cancelled), atomic_load(&wrong));
    weft_group_cancel(g);
    int rc = weft_group_close(g, 0);
    bench_check_close(g, rc, "weft_group_close");
    bench_fail("idle_memory: %s", msg);
}

static int bench_main(void *arg)
{
    idle_ctx_t *c = arg;
    weft_group_t g;
    char msg[200];

    c->rss_before = bench_rss_bytes();
    double t0 = weft_now();
    bench_check_rc(weft_group_open(&g), "weft_group_open");
    for (long i = 0; i < c->n; i++) {
        int rc = weft_group_spawn(&g, sleeper, NULL);
        if (rc != 0) {
            snprintf(msg, sizeof msg, "weft_group_spawn #%ld of %ld returned %d (%s)", i, c->n,
                     rc, weft_err_name(rc));
            fail_open_group(&g, msg);
        }
    }
    double t1 = weft_now();
    /* Wait (at most 120 s) until every task has reached its sleep. */
    while (atomic_load(&asleep) < c->n) {
        if (weft_now() - t1 > 120.0) {
            snprintf(msg, sizeof msg, "only %ld of %ld tasks started within 120 s",
                     atomic_load(&asleep), c->n);
            fail_open_group(&g, msg);
        }
        int rc = weft_sleep(0.01);
        if (rc != 0) {
            snprintf(msg, sizeof msg, "weft_sleep(0.01) in the root returned %d (%s)", rc,
                     weft_err_name(rc));
            fail_open_group(&g, msg);
        }
    }
    int rc = weft_sleep(0.2);
    if (rc != 0) {
        snprintf(msg, sizeof msg, "weft_sleep(0.2) in the root returned %d (%s)", rc,
                 weft_err_name(rc));
        fail_open_group(&g, msg);
    }
    double t2 = weft_now();
    c->rss_after = bench_rss_bytes();
    if (atomic_load(&cancelled) + atomic_load(&wrong) != 0) {
        snprintf(msg, sizeof msg, "%ld of %ld tasks woke from weft_sleep(3600) early",
                 atomic_load(&cancelled) + atomic_load(&wrong), c->n);
        fail_open_group(&g, msg);
    }

    weft_group_cancel(&g);
    rc = weft_group_close(&g, 0);
    double t3 = weft_now();
    bench_check_close(&g, rc, "weft_group_close after weft_group_cancel");
    if (atomic_load(&cancelled) != c->n || atomic_load(&wrong) != 0)
        bench_fail("after cancel: %ld tasks saw WEFT_ECANCELED, %ld something else (of %ld)",
                   atomic_load(&cancelled), atomic_load(&wrong), c->n);
    c->spawn_s = t1 - t0;
    c->settle_s = t2 - t1;
    c->cancel_s = t3 - t2;
    return 0;
}

int main(int argc, char **argv)
{
    bench_args_t a = {.workers = 2, .n = 100000, .reps = 1};
    bench_parse_args(argc, argv, &a,
                     "  -n N   sleeping tasks (default 100000)\n"
                     "  (-r is ignored: one measurement)\n");
    idle_ctx_t c = {.n = a.n};

    printf("# idle_memory: %ld tasks in weft_sleep(3600) in one group, workers=%u, "
           "one measurement\n",
           a.n, a.workers);
    fflush(stdout);
    bench_run(&a, bench_main, &c);
    if (c.rss_before == 0 || c.rss_after == 0)
        bench_fail("could not read /proc/self/statm");
    double per_task = ((double)c.rss_after - (double)c.rss_before) / (double)a.n;
    printf("# rss before %zu B (%.1f MiB), after %zu B (%.1f MiB), delta %.1f MiB\n",
           c.rss_before, c.rss_before / 1048576.0, c.rss_after, c.rss_after / 1048576.0,
           ((double)c.rss_after - (double)c.rss_before) / 1048576.0);
    printf("# spawn %.3f s, all asleep +%.3f s (incl. 0.2 s settle), cancel+close %.3f s\n",
           c.spawn_s, c.settle_s, c.cancel_s);
    bench_result("idle_memory", per_task, "B/task");
    return 0;
}
