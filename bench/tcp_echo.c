/*
 * tcp_echo — TCP echo on loopback: 50 connections x N round trips (default
 * 2,000) of a 64-byte message, in round trips/s (median of the repetitions,
 * after one warm-up round of N/10).
 *
 * weft: inside one weft_run, a weft_serve echo server on 127.0.0.1 (port 0)
 * and, per round, 50 client tasks in a group, each connecting, setting
 * TCP_NODELAY, doing N round trips (send 64 bytes, receive exactly 64 back,
 * every byte checked) and closing.  The round is timed from before the first
 * spawn to the group's close, connections included.  The server's handler
 * sets TCP_NODELAY too and echoes what it receives until EOF; after each
 * round (untimed) the program waits until the server saw every connection's
 * EOF and checks the bytes it echoed.
 *
 * Baseline (after weft_run returned): the same with raw libuv (uv_echo.h), the
 * server and the 50 clients on one loop in one thread; a second variant with
 * the server's loop on its own thread is printed as comment lines.
 */
#include "bench.h"
#include "uv_echo.h"

#define CONNS 50

typedef struct te_client_t {
    int port;
    long id, n;
    long trips; /* completed round trips, read after the group closed */
} te_client_t;

/* What the server's handlers did, over all rounds. */
typedef struct te_server_t {
    _Atomic long ended;      /* connections that ended at EOF */
    _Atomic uint64_t echoed; /* bytes */
    long want_ended;         /* after the rounds so far */
    uint64_t want_echoed;
} te_server_t;

static int echo_handler(weft_stream_t *s, void *arg)
{
    te_server_t *srv = arg;
    char buf[4096];
    uint64_t echoed = 0;
    int rc = weft_stream_set_nodelay(s, 1);
    if (rc != 0)
        bench_fail("echo handler: weft_stream_set_nodelay: %d (%s)", rc, weft_err_name(rc));
    for (;;) {
        int got = weft_stream_receive(s, buf, sizeof buf);
        if (got == WEFT_EOF) {
            atomic_fetch_add(&srv->echoed, echoed);
            atomic_fetch_add(&srv->ended, 1);
            return 0;
        }
        if (got < 0)
            bench_fail("echo handler: receive: %d (%s)", got, weft_err_name(got));
        if ((rc = weft_stream_send(s, buf, (size_t)got)) != 0)
            bench_fail("echo handler: send: %d (%s)", rc, weft_err_name(rc));
        echoed += (uint64_t)got;
    }
}

typedef struct te_ctx_t {
    weft_listener_t *l;
    int port;
    te_server_t srv;
} te_ctx_t;

static int server_task(void *arg)
{
    te_ctx_t *x = arg;
    return weft_serve(x->l, echo_handler, &x->srv);
}

/* Wait (untimed, at most 10 s) until the server saw the EOF of every
 * connection so far, then check its counts. */
static void te_wait_server(te_server_t *srv, long n)
{
    srv->want_ended += CONNS;
    srv->want_echoed += (uint64_t)CONNS * (uint64_t)n * UVE_MSG;
    double give_up = weft_now() + 10.0;
    while (atomic_load(&srv->ended) < srv->want_ended && weft_now() < give_up)
        bench_check_rc(weft_sleep(0.0005), "weft_sleep");
    long ended = atomic_load(&srv->ended);
    uint64_t echoed = atomic_load(&srv->echoed);
    if (ended != srv->want_ended || echoed != srv->want_echoed)
        bench_fail("echo server: %ld connections ended, %llu bytes echoed; expected %ld, %llu",
                   ended, (unsigned long long)echoed, srv->want_ended,
                   (unsigned long long)srv->want_echoed);
}

static int client_task(void *arg)
{
    te_client_t *c = arg;
    weft_stream_t *s;
    char msg[UVE_MSG], back[UVE_MSG];
    int rc = weft_tcp_connect(&s, "127.0.0.1", c->port);
    if (rc != 0)
        bench_fail("client %ld: weft_tcp_connect: %d (%s)", c->id, rc, weft_err_name(rc));
    if ((rc = weft_stream_set_nodelay(s, 1)) != 0)
        bench_fail("client %ld: weft_stream_set_nodelay: %d (%s)", c->id, rc, weft_err_name(rc));
    for (long i = 0; i < c->n; i++) {
        for (int k = 0; k < UVE_MSG; k++)
            msg[k] = (char)uve_msg_byte(c->id, i, k);
        if ((rc = weft_stream_send(s, msg, sizeof msg)) != 0)
            bench_fail("client %ld: round trip %ld: send: %d (%s)", c->id, i, rc,
                       weft_err_name(rc));
        for (size_t got = 0; got < sizeof back;) {
            rc = weft_stream_receive(s, back + got, sizeof back - got);
            if (rc <= 0)
                bench_fail("client %ld: round trip %ld: receive after %zu bytes: %d (%s)", c->id,
                           i, got, rc, weft_err_name(rc));
            got += (size_t)rc;
        }
        if (memcmp(msg, back, sizeof msg) != 0)
            bench_fail("client %ld: round trip %ld: wrong bytes echoed", c->id, i);
        c->trips++;
    }
    if ((rc = weft_stream_close(s)) != 0)
        bench_fail("client %ld: weft_stream_close: %d (%s)", c->id, rc, weft_err_name(rc));
    return 0;
}

/* One weft round: CONNS clients x n round trips; round trips / s. */
static double te_round(void *ctx, long n, int round)
{
    te_ctx_t *x = ctx;
    int port = x->port;
    te_client_t c[CONNS];
    (void)round;
    for (long i = 0; i < CONNS; i++)
        c[i] = (te_client_t){.port = port, .id = i, .n = n};
    weft_group_t g;
    uint64_t t0 = bench_now_ns();
    bench_check_rc(weft_group_open(&g), "weft_group_open");
    for (long i = 0; i < CONNS; i++)
        bench_check_rc(weft_group_spawn(&g, client_task, &c[i]), "weft_group_spawn");
    bench_check_close(&g, weft_group_close(&g, 0), "weft_group_close (clients)");
    uint64_t t1 = bench_now_ns();
    for (long i = 0; i < CONNS; i++)
        if (c[i].trips != n)
            bench_fail("client %ld: %ld of %ld round trips", i, c[i].trips, n);
    te_wait_server(&x->srv, n);
    return (double)CONNS * (double)n / ((double)(t1 - t0) / 1e9);
}

static int bench_main(void *arg)
{
    static te_ctx_t x; /* zeroed */
    bench_check_rc(weft_tcp_listen(&x.l, "127.0.0.1", 0, NULL), "weft_tcp_listen");
    x.port = weft_listener_port(x.l);
    if (x.port <= 0)
        bench_fail("weft_listener_port: %d", x.port);
    weft_group_t server;
    bench_check_rc(weft_group_open(&server), "weft_group_open");
    bench_check_rc(weft_group_spawn(&server, server_task, &x), "weft_group_spawn");
    bench_rounds_run(arg, "warm-up", te_round, &x);
    weft_runtime_stats_t st;
    bench_check_rc(weft_runtime_stats(&st), "weft_runtime_stats");
    printf("# weft runtime: %llu tasks spawned, %llu task parks, %llu worker parks, %llu steals\n",
           st.tasks_spawned, st.task_parks, st.worker_parks, st.steals);
    /* Every handler has returned (te_wait_server): this stops the accept only. */
    weft_group_cancel(&server);
    bench_check_close(&server, weft_group_close(&server, 0), "weft_group_close (server)");
    bench_check_rc(weft_listener_close(x.l), "weft_listener_close");
    return 0;
}

static double uv_round(void *ctx, long n, int round)
{
    (void)round;
    return uve_round(CONNS, n, *(int *)ctx);
}

int main(int argc, char **argv)
{
    bench_args_t a = bench_rounds_args(argc, argv, 2000, "round trips per connection");
    bench_rounds_t w, b, bt;
    const char *unit = "round trips/s";
    bench_rounds_init(&w, &a, unit);
    bench_rounds_init(&b, &a, unit);
    bench_rounds_init(&bt, &a, unit);
    printf("# tcp_echo: %d connections x %ld round trips of %d bytes on 127.0.0.1, "
           "workers=%u, median of %d rounds after 1 warm-up (connections included)\n",
           CONNS, a.n, UVE_MSG, a.workers, a.reps);
    bench_run(&a, bench_main, &w);
    double weft = bench_rounds_median(&w, "weft rounds");

    int threaded = 0;
    printf("# baseline: raw libuv %s, echo server and %d clients on one loop, one thread\n",
           uv_version_string(), CONNS);
    bench_rounds_run(&b, "baseline warm-up", uv_round, &threaded);
    double base = bench_rounds_median(&b, "baseline rounds");

    threaded = 1;
    printf("# baseline variant: server loop on its own thread, clients' loop on another\n");
    bench_rounds_run(&bt, "variant warm-up", uv_round, &threaded);
    double base_t = bench_rounds_median(&bt, "variant rounds");
    printf("# variant uv_echo_two_threads %.2f %s (weft / it: %.3f)\n", base_t, unit,
           base_t > 0 ? weft / base_t : 0.0);

    bench_report("tcp_echo", weft, "uv_echo_one_thread", base, unit);
    return 0;
}
