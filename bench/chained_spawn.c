/*
 * chained_spawn — a chain of 1,000 tasks in which each task spawns the next
 * into the chain's group (the root spawns the first), repeated N times
 * (default 1,000); every repetition has its own group, and the root closes it
 * (waits for the whole chain) before starting the next.  Result: wall time of
 * all N chains / (N * 1000 spawns), in ns/spawn (median of the repetitions,
 * after one warm-up).  -l N: the root sets N task-local values first, so
 * that every task of every chain inherits them (weft/local.h).
 *
 * Baseline: the same chain with pthreads — each thread creates the next one
 * detached, the last one signals — over N/200 (default 5) chains of 1,000,
 * in ns/spawn (median of 3).
 */
#include "bench.h"

#include <pthread.h>


#define CHAIN_DEPTH 1000

typedef struct chain_t {
    weft_group_t *g;
    long done; /* tasks of this chain that ran; each one is spawned by the previous */
} chain_t;

static int chain_task(void *arg)
{
    chain_t *c = arg;
    /* The spawn orders the previous task's write before this task's read. */
    if (++c->done < CHAIN_DEPTH)
        return weft_group_spawn(c->g, chain_task, c);
    return 0;
}

typedef struct chained_ctx_t {
    long chains;
    int reps;
    int locals;
    double *ns_per_spawn;
} chained_ctx_t;

static double chained_round(long chains)
{
    uint64_t t0 = bench_now_ns();
    for (long r = 0; r < chains; r++) {
        weft_group_t g;
        chain_t c = {.g = &g, .done = 0};
        bench_check_rc(weft_group_open(&g), "weft_group_open");
        int rc = weft_group_spawn(&g, chain_task, &c);
        if (rc != 0)
            bench_fail("weft_group_spawn returned %d (%s)", rc, weft_err_name(rc));
        rc = weft_group_close(&g, 0);
        bench_check_close(&g, rc, "weft_group_close");
        if (c.done != CHAIN_DEPTH)
            bench_fail("chain %ld: %ld of %d tasks ran", r, c.done, CHAIN_DEPTH);
    }
    uint64_t t1 = bench_now_ns();
    return (double)(t1 - t0) / ((double)chains * CHAIN_DEPTH);
}

static int bench_main(void *arg)
{
    chained_ctx_t *c = arg;
    weft_local_t **keys;
    bench_locals_set(c->locals, &keys);
    double warm = chained_round(c->chains / 10 > 0 ? c->chains / 10 : 1);
    printf("# warm-up: %.2f ns/spawn\n", warm);
    for (int r = 0; r < c->reps; r++)
        c->ns_per_spawn[r] = chained_round(c->chains);
    bench_locals_free(c->locals, keys);
    return 0;
}

/* ---------------------------------------------------------------- baseline */

typedef struct pchain_t {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_attr_t attr;
    long done;
    int finished;
    int error;
} pchain_t;

static void *pchain_thread(void *arg)
{
    pchain_t *c = arg;
    pthread_t t;
    if (++c->done < CHAIN_DEPTH) {
        int rc = pthread_create(&t, &c->attr, pchain_thread, c);
        if (rc == 0)
            return NULL;
        c->error = rc;
    }
    pthread_mutex_lock(&c->mu);
    c->finished = 1;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

static double pthread_chain_round(long chains)
{
    pchain_t c;
    pthread_mutex_init(&c.mu, NULL);
    pthread_cond_init(&c.cv, NULL);
    pthread_attr_init(&c.attr);
    pthread_attr_setdetachstate(&c.attr, PTHREAD_CREATE_DETACHED);
    uint64_t t0 = bench_now_ns();
    for (long r = 0; r < chains; r++) {
        pthread_t t;
        c.done = 0;
        c.finished = 0;
        c.error = 0;
        int rc = pthread_create(&t, &c.attr, pchain_thread, &c);
        if (rc != 0)
            bench_fail("pthread_create: %s", strerror(rc));
        pthread_mutex_lock(&c.mu);
        while (!c.finished)
            pthread_cond_wait(&c.cv, &c.mu);
        pthread_mutex_unlock(&c.mu);
        if (c.error)
            bench_fail("baseline: pthread_create in chain: %s", strerror(c.error));
        if (c.done != CHAIN_DEPTH)
            bench_fail("baseline: %ld of %d threads ran", c.done, CHAIN_DEPTH);
    }
    uint64_t t1 = bench_now_ns();
    /* Let the detached threads finish exiting before the next round. */
    nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
    pthread_attr_destroy(&c.attr);
    pthread_cond_destroy(&c.cv);
    pthread_mutex_destroy(&c.mu);
    return (double)(t1 - t0) / ((double)chains * CHAIN_DEPTH);
}

int main(int argc, char **argv)
{
    bench_args_t a = {.workers = 2, .n = 1000, .reps = 5, .takes_locals = 1};
    bench_parse_args(argc, argv, &a,
                     "  -n N   chains of 1000 tasks per round (default 1000)\n"
                     "  -r N   measured rounds after one warm-up (default 5)\n"
                     "  -l N   task-local values the root sets (default 0)\n");
    chained_ctx_t c = {.chains = a.n, .reps = a.reps, .locals = a.locals};
    c.ns_per_spawn = calloc((size_t)a.reps, sizeof(double));
    if (!c.ns_per_spawn)
        bench_fail("out of memory");

    printf("# chained_spawn: %ld chains x %d tasks (each spawns the next), group per chain, "
           "workers=%u, task-local values=%d, median of %d rounds after 1 warm-up\n",
           a.n, CHAIN_DEPTH, a.workers, a.locals, a.reps);
    bench_run(&a, bench_main, &c);
    bench_print_samples("weft rounds", c.ns_per_spawn, (size_t)a.reps, "ns/spawn");
    double weft = bench_median(c.ns_per_spawn, (size_t)a.reps);

    long bchains = a.n / 200 > 0 ? a.n / 200 : 1;
    double b[3];
    pthread_chain_round(1); /* warm-up */
    for (int i = 0; i < 3; i++)
        b[i] = pthread_chain_round(bchains);
    printf("# baseline: %ld chains x %d pthreads (create detached, last signals), "
           "median of 3 rounds\n",
           bchains, CHAIN_DEPTH);
    bench_print_samples("baseline rounds", b, 3, "ns/spawn");
    double base = bench_median(b, 3);

    bench_result("chained_spawn", weft, "ns/spawn");
    bench_baseline("pthread_chain_create_detach", base, "ns/spawn");
    bench_ratio("chained_spawn", weft, base);
    free(c.ns_per_spawn);
    return 0;
}
