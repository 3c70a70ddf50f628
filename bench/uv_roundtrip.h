/*
 * uv_roundtrip.h — the raw-libuv baseline of thread_to_loop and portal_call,
 * header only: a plain pthread asks a libuv loop running on another pthread
 * to run a tiny function and waits for its result.
 *
 * One request slot guarded by a mutex: the caller fills the slot, calls
 * uv_async_send and waits on a condition variable; the loop's async callback
 * takes the request out of the slot, runs the function (outside the mutex),
 * stores the result and signals.  uv_async_send coalesces wake-ups, so the
 * callback goes by the slot, never by the number of wake-ups: it serves
 * whatever request is posted (there is at most one, since the caller waits
 * for each), and a wake-up that finds the slot empty does nothing.
 *
 * uvrt_baseline runs the whole baseline series of both programs: rounds of
 * round trips of bench_count_call, the tiny function both sides run.
 * Include bench.h first.
 */
#ifndef WEFT_BENCH_UV_ROUNDTRIP_H
#define WEFT_BENCH_UV_ROUNDTRIP_H

#include "bench.h"

#include <pthread.h>
#include <uv.h>

typedef struct uvrt_t {
    uv_loop_t loop;
    uv_async_t async;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* guarded by mu */
    weft_fn_t fn;
    void *arg;
    int posted;   /* a request waits in the slot */
    int done;     /* its result is in `result` */
    int result;
    int stop;
    long served;  /* requests run by the loop */
    long wakeups; /* async callbacks */
} uvrt_t;

static void uvrt_async_cb_(uv_async_t *h)
{
    uvrt_t *u = h->data;
    pthread_mutex_lock(&u->mu);
    u->wakeups++;
    while (u->posted) {
        weft_fn_t fn = u->fn;
        void *arg = u->arg;
        u->posted = 0;
        pthread_mutex_unlock(&u->mu);
        int rc = fn(arg);
        pthread_mutex_lock(&u->mu);
        u->result = rc;
        u->done = 1;
        u->served++;
        pthread_cond_signal(&u->cv);
    }
    if (u->stop && !uv_is_closing((uv_handle_t *)&u->async))
        uv_close((uv_handle_t *)&u->async, NULL);
    pthread_mutex_unlock(&u->mu);
}

static void *uvrt_loop_thread_(void *arg)
{
    uvrt_t *u = arg;
    int rc = uv_run(&u->loop, UV_RUN_DEFAULT);
    if (rc != 0)
        bench_fail("uv_roundtrip: uv_run returned %d with handles still active", rc);
    return NULL;
}

/* Start the loop thread. */
static inline void uvrt_start(uvrt_t *u)
{
    memset(u, 0, sizeof *u);
    pthread_mutex_init(&u->mu, NULL);
    pthread_cond_init(&u->cv, NULL);
    int rc = uv_loop_init(&u->loop);
    if (rc != 0)
        bench_fail("uv_loop_init: %s", uv_strerror(rc));
    /* Before the loop thread exists: pthread_create orders it. */
    rc = uv_async_init(&u->loop, &u->async, uvrt_async_cb_);
    if (rc != 0)
        bench_fail("uv_async_init: %s", uv_strerror(rc));
    u->async.data = u;
    int e = pthread_create(&u->thread, NULL, uvrt_loop_thread_, u);
    if (e)
        bench_fail("pthread_create: %s", strerror(e));
}

/* Run fn(arg) on the loop thread and return its result. */
static inline int uvrt_call(uvrt_t *u, weft_fn_t fn, void *arg)
{
    pthread_mutex_lock(&u->mu);
    if (u->posted || u->stop)
        bench_fail("uv_roundtrip: slot busy or loop stopping");
    u->fn = fn;
    u->arg = arg;
    u->done = 0;
    u->posted = 1;
    pthread_mutex_unlock(&u->mu);
    int rc = uv_async_send(&u->async);
    if (rc != 0)
        bench_fail("uv_async_send: %s", uv_strerror(rc));
    pthread_mutex_lock(&u->mu);
    while (!u->done)
        pthread_cond_wait(&u->cv, &u->mu);
    u->done = 0;
    rc = u->result;
    pthread_mutex_unlock(&u->mu);
    return rc;
}

/* Stop the loop, join its thread, free everything. */
static inline void uvrt_stop(uvrt_t *u)
{
    pthread_mutex_lock(&u->mu);
    u->stop = 1;
    pthread_mutex_unlock(&u->mu);
    int rc = uv_async_send(&u->async);
    if (rc != 0)
        bench_fail("uv_async_send: %s", uv_strerror(rc));
    pthread_join(u->thread, NULL);
    rc = uv_loop_close(&u->loop);
    if (rc != 0)
        bench_fail("uv_loop_close: %s", uv_strerror(rc));
    pthread_cond_destroy(&u->cv);
    pthread_mutex_destroy(&u->mu);
}

/* One round of n round trips of bench_count_call, each result and the call
 * count checked (a bench_round_fn; ctx is the uvrt_t).  Returns us/call. */
static inline double uvrt_round(void *ctx, long n, int round)
{
    uvrt_t *u = ctx;
    long calls = 0;
    (void)round;
    pthread_mutex_lock(&u->mu);
    long served0 = u->served;
    pthread_mutex_unlock(&u->mu);
    uint64_t t0 = bench_now_ns();
    for (long i = 1; i <= n; i++) {
        int rc = uvrt_call(u, bench_count_call, &calls);
        if (rc != 0)
            bench_fail("uv_roundtrip: call %ld returned %d", i, rc);
        if (calls != i)
            bench_fail("uv_roundtrip: after call %ld the function ran %ld times", i, calls);
    }
    uint64_t t1 = bench_now_ns();
    pthread_mutex_lock(&u->mu);
    long served = u->served - served0;
    pthread_mutex_unlock(&u->mu);
    if (served != n)
        bench_fail("uv_roundtrip: the loop served %ld of %ld requests", served, n);
    return bench_us_per_op(t0, t1, n);
}

/* The baseline series of thread_to_loop and portal_call: start the loop
 * thread, run the warm-up and b's measured rounds of uvrt_round into b
 * (printing the warm-up line and a description line), stop the loop. */
static inline void uvrt_baseline(bench_rounds_t *b)
{
    uvrt_t u;
    uvrt_start(&u);
    bench_rounds_run(b, "baseline warm-up", uvrt_round, &u);
    pthread_mutex_lock(&u.mu);
    long wakeups = u.wakeups, served = u.served;
    pthread_mutex_unlock(&u.mu);
    printf("# baseline: pthread -> uv_async_send -> loop thread runs it, signals a condvar; "
           "%ld round trips, median of %d rounds (%ld async callbacks for %ld requests)\n",
           b->n, b->reps, wakeups, served);
    uvrt_stop(&u);
}

#endif /* WEFT_BENCH_UV_ROUNDTRIP_H */
