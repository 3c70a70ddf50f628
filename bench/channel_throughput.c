/*
 * channel_throughput — 4 producer tasks and 4 consumer tasks move N items
 * (default 1,000,000) through one channel of capacity 1024; each producer
 * sends its share through its own sender clone and closes it, consumers
 * receive until WEFT_EOF.  Result: N / wall time of the round (from the first
 * spawn to the close of the group), in items/s (median of the repetitions,
 * after one warm-up round).  Checks the number of items and their sum.
 *
 * Baseline: the same with 4 + 4 pthreads and a mutex-protected ring of 1024
 * slots with two condition variables, in items/s (median of 3 rounds of N/4).
 *
 * Consumers count and sum in locals and store the totals once at the end: the
 * role records sit side by side in one array, so a per-item store into them
 * would bounce their shared cache lines between the cores and measure that
 * instead of the channel (it cost about 40% of the weft number).
 */
#include "bench.h"

#include <pthread.h>

#define PRODUCERS 4
#define CONSUMERS 4
#define CAPACITY 1024

typedef struct ct_ctx_t {
    long n;
    int reps;
    double *rate;
} ct_ctx_t;

typedef struct ct_role_t {
    long first, count;        /* producer: items first+1 .. first+count */
    weft_sender_t *tx;
    weft_receiver_t *rx;
    long got;                 /* consumer: items and their sum */
    unsigned long long sum;
} ct_role_t;

static int producer(void *arg)
{
    ct_role_t *r = arg;
    for (long i = 1; i <= r->count; i++) {
        int rc = weft_send(r->tx, (void *)(intptr_t)(r->first + i));
        if (rc != 0)
            return rc;
    }
    weft_sender_close(r->tx);
    return 0;
}

static int consumer(void *arg)
{
    ct_role_t *r = arg;
    void *item;
    int rc;
    long got = 0;
    unsigned long long sum = 0;
    while ((rc = weft_recv(r->rx, &item)) == 0) {
        got++;
        sum += (unsigned long long)(intptr_t)item;
    }
    r->got = got;
    r->sum = sum;
    weft_receiver_close(r->rx);
    return rc == WEFT_EOF ? 0 : rc;
}

static double ct_round(long n)
{
    weft_sender_t *tx;
    weft_receiver_t *rx;
    ct_role_t prod[PRODUCERS], cons[CONSUMERS];
    memset(prod, 0, sizeof prod);
    memset(cons, 0, sizeof cons);
    bench_check_rc(weft_channel(CAPACITY, &tx, &rx), "weft_channel");
    for (int i = 0; i < CONSUMERS; i++)
        bench_check_rc(weft_receiver_clone(rx, &cons[i].rx), "weft_receiver_clone");
    long first = 0;
    for (int i = 0; i < PRODUCERS; i++) {
        prod[i].first = first;
        prod[i].count = n / PRODUCERS + (i < n % PRODUCERS);
        first += prod[i].count;
        bench_check_rc(weft_sender_clone(tx, &prod[i].tx), "weft_sender_clone");
    }
    weft_sender_close(tx);
    weft_receiver_close(rx);
    weft_group_t g;
    uint64_t t0 = bench_now_ns();
    bench_check_rc(weft_group_open(&g), "weft_group_open");
    for (int i = 0; i < CONSUMERS; i++)
        bench_check_rc(weft_group_spawn(&g, consumer, &cons[i]), "weft_group_spawn");
    for (int i = 0; i < PRODUCERS; i++)
        bench_check_rc(weft_group_spawn(&g, producer, &prod[i]), "weft_group_spawn");
    int rc = weft_group_close(&g, 0);
    uint64_t t1 = bench_now_ns();
    bench_check_close(&g, rc, "weft_group_close");
    long got = 0;
    unsigned long long sum = 0;
    for (int i = 0; i < CONSUMERS; i++) {
        got += cons[i].got;
        sum += cons[i].sum;
    }
    unsigned long long want = (unsigned long long)n * (unsigned long long)(n + 1) / 2;
    if (got != n || sum != want)
        bench_fail("received %ld items (sum %llu), expected %ld (sum %llu)", got, sum, n, want);
    return (double)n / ((double)(t1 - t0) * 1e-9);
}

static int bench_main(void *arg)
{
    ct_ctx_t *c = arg;
    double warm = ct_round(c->n / 10 > 0 ? c->n / 10 : 1);
    printf("# warm-up: %.0f items/s\n", warm);
    for (int i = 0; i < c->reps; i++)
        c->rate[i] = ct_round(c->n);
    return 0;
}

/* ---------------------------------------------------------------- baseline */

typedef struct ring_t {
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    long items[CAPACITY];
    size_t head, count;
    int producers_left;
} ring_t;

typedef struct pt_role_t {
    ring_t *q;
    long first, count, got;
    unsigned long long sum;
} pt_role_t;

static void *pt_producer(void *arg)
{
    pt_role_t *r = arg;
    ring_t *q = r->q;
    for (long i = 1; i <= r->count; i++) {
        pthread_mutex_lock(&q->mu);
        while (q->count == CAPACITY)
            pthread_cond_wait(&q->not_full, &q->mu);
        q->items[(q->head + q->count++) % CAPACITY] = r->first + i;
        pthread_cond_signal(&q->not_empty);
        pthread_mutex_unlock(&q->mu);
    }
    pthread_mutex_lock(&q->mu);
    if (--q->producers_left == 0)
        pthread_cond_broadcast(&q->not_empty);
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

static void *pt_consumer(void *arg)
{
    pt_role_t *r = arg;
    ring_t *q = r->q;
    long got = 0;
    unsigned long long sum = 0;
    for (;;) {
        pthread_mutex_lock(&q->mu);
        while (q->count == 0 && q->producers_left > 0)
            pthread_cond_wait(&q->not_empty, &q->mu);
        if (q->count == 0) {
            pthread_mutex_unlock(&q->mu);
            r->got = got;
            r->sum = sum;
            return NULL;
        }
        long v = q->items[q->head];
        q->head = (q->head + 1) % CAPACITY;
        q->count--;
        pthread_cond_signal(&q->not_full);
        pthread_mutex_unlock(&q->mu);
        got++;
        sum += (unsigned long long)v;
    }
}

static double pt_round(long n)
{
    static ring_t q;
    pt_role_t roles[PRODUCERS + CONSUMERS];
    pthread_t th[PRODUCERS + CONSUMERS];
    memset(&q, 0, sizeof q);
    memset(roles, 0, sizeof roles);
    pthread_mutex_init(&q.mu, NULL);
    pthread_cond_init(&q.not_empty, NULL);
    pthread_cond_init(&q.not_full, NULL);
    q.producers_left = PRODUCERS;
    long first = 0;
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < PRODUCERS + CONSUMERS; i++) {
        roles[i].q = &q;
        if (i < PRODUCERS) {
            roles[i].first = first;
            roles[i].count = n / PRODUCERS + (i < n % PRODUCERS);
            first += roles[i].count;
        }
        int e = pthread_create(&th[i], NULL, i < PRODUCERS ? pt_producer : pt_consumer, &roles[i]);
        if (e)
            bench_fail("pthread_create: %s", strerror(e));
    }
    long got = 0;
    unsigned long long sum = 0;
    for (int i = 0; i < PRODUCERS + CONSUMERS; i++) {
        pthread_join(th[i], NULL);
        got += roles[i].got;
        sum += roles[i].sum;
    }
    uint64_t t1 = bench_now_ns();
    unsigned long long want = (unsigned long long)n * (unsigned long long)(n + 1) / 2;
    if (got != n || sum != want)
        bench_fail("baseline: received %ld items (sum %llu), expected %ld", got, sum, n);
    pthread_cond_destroy(&q.not_empty);
    pthread_cond_destroy(&q.not_full);
    pthread_mutex_destroy(&q.mu);
    return (double)n / ((double)(t1 - t0) * 1e-9);
}

int main(int argc, char **argv)
{
    bench_args_t a = {.workers = 2, .n = 1000000, .reps = 5};
    bench_parse_args(argc, argv, &a,
                     "  -n N   items per round (default 1000000)\n"
                     "  -r N   measured rounds after one warm-up (default 5)\n");
    ct_ctx_t c = {.n = a.n, .reps = a.reps};
    c.rate = calloc((size_t)a.reps, sizeof(double));
    if (!c.rate)
        bench_fail("out of memory");
    printf("# channel_throughput: %d producers, %d consumers, %ld items, capacity %d, "
           "workers=%u, median of %d rounds after 1 warm-up\n",
           PRODUCERS, CONSUMERS, a.n, CAPACITY, a.workers, a.reps);
    bench_print_line_handoff();
    bench_run(&a, bench_main, &c);
    bench_print_samples("weft rounds", c.rate, (size_t)a.reps, "items/s");
    double weft = bench_median(c.rate, (size_t)a.reps);

    long bn = a.n / 4 > 0 ? a.n / 4 : 1;
    double b[3];
    for (int i = 0; i < 3; i++)
        b[i] = pt_round(bn);
    printf("# baseline: %d + %d pthreads, mutex + 2 condvars around a %d-slot ring, %ld items, "
           "median of 3 rounds\n",
           PRODUCERS, CONSUMERS, CAPACITY, bn);
    bench_print_samples("baseline rounds", b, 3, "items/s");
    double base = bench_median(b, 3);

    bench_result("channel_throughput", weft, "items/s");
    bench_baseline("pthread_mutex_ring", base, "items/s");
    bench_ratio("channel_throughput", weft, base);
    free(c.rate);
    return 0;
}
