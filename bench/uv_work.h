/*
 * uv_work.h — the raw-libuv baseline of the offload benchmarks
 * (offload_latency, offload_throughput), header only: `in_flight` uv_work_t
 * requests on a private loop, each resubmitted from its after_work callback
 * until n work callbacks have run on libuv's thread pool.  in_flight = 1 is
 * the sequential case (one call at a time).
 *
 * The work callback calls body(ctx) when body is set, then counts the call in
 * its own request (read back after uv_run, which orders it: libuv hands the
 * finished request to the loop thread under its queue mutex).  Include
 * bench.h first.
 */
#ifndef WEFT_BENCH_UV_WORK_H
#define WEFT_BENCH_UV_WORK_H

#include "bench.h"

#include <uv.h>

typedef struct uvw_round_t uvw_round_t;

typedef struct uvw_req_t {
    uv_work_t req;
    uvw_round_t *r;
    long ran;        /* work callbacks run for this request (pool threads) */
    long completed;  /* after_work callbacks (loop thread) */
} uvw_req_t;

struct uvw_round_t {
    uv_loop_t loop;
    long n, submitted;
    void (*body)(void *ctx);
    void *ctx;
};

static void uvw_work_cb_(uv_work_t *w)
{
    uvw_req_t *q = (uvw_req_t *)w->data;
    if (q->r->body)
        q->r->body(q->r->ctx);
    q->ran++;
}

static void uvw_after_cb_(uv_work_t *w, int status)
{
    uvw_req_t *q = (uvw_req_t *)w->data;
    uvw_round_t *r = q->r;
    if (status != 0)
        bench_fail("uv_queue_work after_work: status %d (%s)", status, uv_strerror(status));
    q->completed++;
    if (r->submitted < r->n) {
        r->submitted++;
        int rc = uv_queue_work(&r->loop, &q->req, uvw_work_cb_, uvw_after_cb_);
        if (rc != 0)
            bench_fail("uv_queue_work: %s", uv_strerror(rc));
    }
}

/* One round: n work callbacks, at most in_flight queued at once (in_flight is
 * capped at n).  Returns the wall time in seconds, from the first submit to
 * the end of uv_run. */
static inline double uvw_round(long n, long in_flight, void (*body)(void *ctx), void *ctx)
{
    if (in_flight > n)
        in_flight = n;
    if (in_flight < 1)
        in_flight = 1;
    uvw_round_t r;
    memset(&r, 0, sizeof r);
    r.n = n;
    r.body = body;
    r.ctx = ctx;
    uvw_req_t *q = calloc((size_t)in_flight, sizeof *q);
    if (!q)
        bench_fail("out of memory");
    int rc = uv_loop_init(&r.loop);
    if (rc != 0)
        bench_fail("uv_loop_init: %s", uv_strerror(rc));
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < in_flight; i++) {
        q[i].r = &r;
        q[i].req.data = &q[i];
        r.submitted++;
        rc = uv_queue_work(&r.loop, &q[i].req, uvw_work_cb_, uvw_after_cb_);
        if (rc != 0)
            bench_fail("uv_queue_work: %s", uv_strerror(rc));
    }
    rc = uv_run(&r.loop, UV_RUN_DEFAULT);
    uint64_t t1 = bench_now_ns();
    if (rc != 0)
        bench_fail("uv_run returned %d with requests still active", rc);
    long ran = 0, completed = 0;
    for (long i = 0; i < in_flight; i++) {
        ran += q[i].ran;
        completed += q[i].completed;
    }
    if (ran != n || completed != n || r.submitted != n)
        bench_fail("uv_queue_work baseline: %ld work callbacks, %ld after_work, %ld submitted, "
                   "expected %ld",
                   ran, completed, r.submitted, n);
    rc = uv_loop_close(&r.loop);
    if (rc != 0)
        bench_fail("uv_loop_close: %s", uv_strerror(rc));
    free(q);
    return (double)(t1 - t0) / 1e9;
}

/* Print libuv's thread-pool size as a comment line (the baseline runs on it). */
static inline void uvw_print_pool_size(void)
{
    const char *s = getenv("UV_THREADPOOL_SIZE");
    if (s && *s)
        printf("# libuv %s thread pool: UV_THREADPOOL_SIZE=%s\n", uv_version_string(), s);
    else
        printf("# libuv %s thread pool: UV_THREADPOOL_SIZE unset (libuv default: 4 threads)\n",
               uv_version_string());
}

#endif /* WEFT_BENCH_UV_WORK_H */
