/*
 * ping_pong — two tasks pass a token back and forth N times (default
 * 1,000,000) through two rendezvous channels (capacity 0): the pinger sends
 * on one and receives on the other, the ponger the reverse.  Result: wall
 * time / N, in ns/round trip (median of the repetitions, after one warm-up
 * round).  Each round trip is two complete hand-offs; every received value is
 * checked.
 *
 * Baseline: the same between two pthreads with one mutex and two condition
 * variables (a one-slot mailbox each way), in ns/round trip (median of 3
 * rounds of N/10).
 */
#include "bench.h"

#include <pthread.h>

typedef struct pp_ctx_t {
    long n;
    int reps;
    double *ns;
} pp_ctx_t;

typedef struct pp_round_t {
    long n;
    weft_sender_t *ping_tx, *pong_tx;
    weft_receiver_t *ping_rx, *pong_rx;
    long ponged;
} pp_round_t;

static int ponger(void *arg)
{
    pp_round_t *r = arg;
    void *item;
    for (long i = 1; i <= r->n; i++) {
        int rc = weft_recv(r->ping_rx, &item);
        if (rc != 0)
            return rc;
        if ((long)(intptr_t)item != i)
            bench_fail("ponger: got %ld, expected %ld", (long)(intptr_t)item, i);
        if ((rc = weft_send(r->pong_tx, item)) != 0)
            return rc;
        r->ponged++;
    }
    return 0;
}

static double pp_round(long n)
{
    pp_round_t r = {.n = n};
    bench_check_rc(weft_channel(0, &r.ping_tx, &r.ping_rx), "weft_channel");
    bench_check_rc(weft_channel(0, &r.pong_tx, &r.pong_rx), "weft_channel");
    weft_group_t g;
    bench_check_rc(weft_group_open(&g), "weft_group_open");
    bench_check_rc(weft_group_spawn(&g, ponger, &r), "weft_group_spawn");
    uint64_t t0 = bench_now_ns();
    for (long i = 1; i <= n; i++) {
        void *item;
        int rc = weft_send(r.ping_tx, (void *)(intptr_t)i);
        if (rc == 0)
            rc = weft_recv(r.pong_rx, &item);
        if (rc != 0)
            bench_fail("pinger: round trip %ld: %d (%s)", i, rc, weft_err_name(rc));
        if ((long)(intptr_t)item != i)
            bench_fail("pinger: got %ld back, expected %ld", (long)(intptr_t)item, i);
    }
    uint64_t t1 = bench_now_ns();
    bench_check_close(&g, weft_group_close(&g, 0), "weft_group_close");
    if (r.ponged != n)
        bench_fail("%ld of %ld round trips", r.ponged, n);
    weft_sender_close(r.ping_tx);
    weft_sender_close(r.pong_tx);
    weft_receiver_close(r.ping_rx);
    weft_receiver_close(r.pong_rx);
    return (double)(t1 - t0) / (double)n;
}

static int bench_main(void *arg)
{
    pp_ctx_t *c = arg;
    double warm = pp_round(c->n / 10 > 0 ? c->n / 10 : 1);
    printf("# warm-up: %.2f ns/round trip\n", warm);
    for (int i = 0; i < c->reps; i++)
        c->ns[i] = pp_round(c->n);
    return 0;
}

/* ---------------------------------------------------------------- baseline */

typedef struct box_t {
    pthread_mutex_t mu;
    pthread_cond_t cv[2];
    long slot[2]; /* 0 = empty */
    long n;
    long ponged;
} box_t;

static void box_put(box_t *b, int w, long v)
{
    pthread_mutex_lock(&b->mu);
    while (b->slot[w])
        pthread_cond_wait(&b->cv[w], &b->mu);
    b->slot[w] = v;
    pthread_cond_broadcast(&b->cv[w]);
    pthread_mutex_unlock(&b->mu);
}

static long box_take(box_t *b, int w)
{
    pthread_mutex_lock(&b->mu);
    while (!b->slot[w])
        pthread_cond_wait(&b->cv[w], &b->mu);
    long v = b->slot[w];
    b->slot[w] = 0;
    pthread_cond_broadcast(&b->cv[w]);
    pthread_mutex_unlock(&b->mu);
    return v;
}

static void *pthread_ponger(void *arg)
{
    box_t *b = arg;
    for (long i = 1; i <= b->n; i++) {
        long v = box_take(b, 0);
        if (v != i)
            bench_fail("baseline ponger: got %ld, expected %ld", v, i);
        box_put(b, 1, v);
        b->ponged++;
    }
    return NULL;
}

static double pthread_round(long n)
{
    box_t b = {.n = n};
    pthread_mutex_init(&b.mu, NULL);
    pthread_cond_init(&b.cv[0], NULL);
    pthread_cond_init(&b.cv[1], NULL);
    pthread_t th;
    int e = pthread_create(&th, NULL, pthread_ponger, &b);
    if (e)
        bench_fail("pthread_create: %s", strerror(e));
    uint64_t t0 = bench_now_ns();
    for (long i = 1; i <= n; i++) {
        box_put(&b, 0, i);
        if (box_take(&b, 1) != i)
            bench_fail("baseline pinger: wrong value back");
    }
    uint64_t t1 = bench_now_ns();
    pthread_join(th, NULL);
    if (b.ponged != n)
        bench_fail("baseline: %ld of %ld round trips", b.ponged, n);
    pthread_cond_destroy(&b.cv[0]);
    pthread_cond_destroy(&b.cv[1]);
    pthread_mutex_destroy(&b.mu);
    return (double)(t1 - t0) / (double)n;
}

int main(int argc, char **argv)
{
    bench_args_t a = {.workers = 2, .n = 1000000, .reps = 5};
    bench_parse_args(argc, argv, &a,
                     "  -n N   round trips per round (default 1000000)\n"
                     "  -r N   measured rounds after one warm-up (default 5)\n");
    pp_ctx_t c = {.n = a.n, .reps = a.reps};
    c.ns = calloc((size_t)a.reps, sizeof(double));
    if (!c.ns)
        bench_fail("out of memory");
    printf("# ping_pong: 2 tasks, %ld round trips through 2 rendezvous channels, workers=%u, "
           "median of %d rounds after 1 warm-up\n",
           a.n, a.workers, a.reps);
    bench_print_line_handoff();
    bench_run(&a, bench_main, &c);
    bench_print_samples("weft rounds", c.ns, (size_t)a.reps, "ns/round trip");
    double weft = bench_median(c.ns, (size_t)a.reps);

    long bn = a.n / 10 > 0 ? a.n / 10 : 1;
    double b[3];
    for (int i = 0; i < 3; i++)
        b[i] = pthread_round(bn);
    printf("# baseline: 2 pthreads, mutex + 2 condvars, %ld round trips, median of 3 rounds\n",
           bn);
    bench_print_samples("baseline rounds", b, 3, "ns/round trip");
    double base = bench_median(b, 3);

    bench_result("ping_pong", weft, "ns/round trip");
    bench_baseline("pthread_mutex_condvar", base, "ns/round trip");
    bench_ratio("ping_pong", weft, base);
    free(c.ns);
    return 0;
}
