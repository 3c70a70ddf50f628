/*
 * tls_echo — TLS 1.3 echo on loopback (ECDSA P-256 certificate, AES-GCM):
 *   - round trips: 50 connections x N round trips (default 2,000) of a
 *     64-byte message, in round trips/s, connections and handshakes included
 *     (median of the repetitions after one warm-up round of N/10);
 *   - handshakes: 50 clients, each making N/20 connections in a row, each
 *     connection a handshake (the client verifying the server's chain and
 *     IP address), one round trip and close_notify, in handshakes/s.
 *
 * weft: inside one weft_run, a weft_serve server whose handler wraps its
 * connection (weft_tls_wrap) and echoes until the client's close_notify; the
 * clients are tasks in a group (weft_tcp_connect, TCP_NODELAY, weft_tls_wrap).
 * Baseline (after weft_run returned): raw OpenSSL over memory BIOs on one
 * libuv loop in one thread, server and clients alike (uv_tls.h).
 *
 * The certificate is made at start with the openssl command (in a temporary
 * directory, removed at the end).
 */
#include "bench.h"
#include "uv_tls.h"

#define CONNS 50

static char cert[64], key[64];

typedef struct tl_client_t {
    int port;
    long id, conns, trips;
    weft_tls_ctx_t *ctx;
    long done; /* connections completed */
} tl_client_t;

typedef struct tl_ctx_t {
    weft_listener_t *l;
    int port;
    weft_tls_ctx_t *server, *client;
    _Atomic long ended; /* handlers that saw the client's close_notify */
} tl_ctx_t;

static int echo_handler(weft_stream_t *plain, void *arg)
{
    tl_ctx_t *x = arg;
    weft_stream_t *s;
    char buf[4096];
    weft_stream_set_nodelay(plain, 1);
    int rc = weft_tls_wrap(&s, plain, x->server, NULL);
    if (rc != 0)
        bench_fail("server: weft_tls_wrap: %d (%s) %s", rc, weft_err_name(rc),
                   weft_tls_last_error());
    for (;;) {
        int got = weft_stream_receive(s, buf, sizeof buf);
        if (got == WEFT_EOF)
            break;
        if (got < 0)
            bench_fail("server: receive: %d (%s) %s", got, weft_err_name(got),
                       weft_tls_last_error());
        if ((rc = weft_stream_send(s, buf, (size_t)got)) != 0)
            bench_fail("server: send: %d (%s)", rc, weft_err_name(rc));
    }
    atomic_fetch_add(&x->ended, 1);
    return weft_stream_close(s);
}

static int server_task(void *arg)
{
    tl_ctx_t *x = arg;
    return weft_serve(x->l, echo_handler, x);
}

static int client_task(void *arg)
{
    tl_client_t *c = arg;
    char msg[UTL_MSG], back[UTL_MSG];
    for (long k = 0; k < c->conns; k++) {
        weft_stream_t *plain, *s;
        int rc = weft_tcp_connect(&plain, "127.0.0.1", c->port);
        if (rc != 0)
            bench_fail("client %ld: weft_tcp_connect: %d (%s)", c->id, rc, weft_err_name(rc));
        weft_stream_set_nodelay(plain, 1);
        if ((rc = weft_tls_wrap(&s, plain, c->ctx, "127.0.0.1")) != 0)
            bench_fail("client %ld: weft_tls_wrap: %d (%s) %s", c->id, rc, weft_err_name(rc),
                       weft_tls_last_error());
        for (long i = 0; i < c->trips; i++) {
            for (int b = 0; b < UTL_MSG; b++)
                msg[b] = (char)(c->id * 131 + i * 17 + b * 3 + 1);
            if ((rc = weft_stream_send(s, msg, sizeof msg)) != 0)
                bench_fail("client %ld: send: %d (%s)", c->id, rc, weft_err_name(rc));
            if ((rc = weft_stream_receive_exactly(s, back, sizeof back)) != (int)sizeof back)
                bench_fail("client %ld: receive: %d (%s)", c->id, rc, weft_err_name(rc));
            if (memcmp(msg, back, sizeof msg) != 0)
                bench_fail("client %ld: wrong bytes echoed", c->id);
        }
        if ((rc = weft_stream_send_eof(s)) != 0)
            bench_fail("client %ld: send_eof: %d (%s)", c->id, rc, weft_err_name(rc));
        weft_stream_close(s);
        c->done++;
    }
    return 0;
}

/* CONNS clients of `conns` connections of `trips` round trips: seconds. */
static double tl_round(tl_ctx_t *x, long conns, long trips)
{
    tl_client_t c[CONNS];
    for (long i = 0; i < CONNS; i++)
        c[i] = (tl_client_t){.port = x->port, .id = i, .conns = conns, .trips = trips,
                             .ctx = x->client};
    long ended = atomic_load(&x->ended);
    weft_group_t g;
    uint64_t t0 = bench_now_ns();
    bench_check_rc(weft_group_open(&g), "weft_group_open");
    for (long i = 0; i < CONNS; i++)
        bench_check_rc(weft_group_spawn(&g, client_task, &c[i]), "weft_group_spawn");
    bench_check_close(&g, weft_group_close(&g, 0), "weft_group_close (clients)");
    uint64_t t1 = bench_now_ns();
    for (long i = 0; i < CONNS; i++)
        if (c[i].done != conns)
            bench_fail("client %ld: %ld of %ld connections", i, c[i].done, conns);
    double give_up = weft_now() + 10; /* untimed: the server saw every end */
    while (atomic_load(&x->ended) < ended + CONNS * conns && weft_now() < give_up)
        weft_sleep(0.0005);
    if (atomic_load(&x->ended) != ended + CONNS * conns)
        bench_fail("server: %ld connections ended", atomic_load(&x->ended) - ended);
    return (double)(t1 - t0) / 1e9;
}

static double trips_round(void *ctx, long n, int round)
{
    (void)round;
    return (double)CONNS * (double)n / tl_round(ctx, 1, n);
}

static double handshakes_round(void *ctx, long n, int round)
{
    (void)round;
    long conns = n / 20 > 0 ? n / 20 : 1;
    return (double)CONNS * (double)conns / tl_round(ctx, conns, 1);
}

typedef struct tl_main_t {
    bench_rounds_t *trips, *handshakes;
} tl_main_t;

static int bench_main(void *arg)
{
    tl_main_t *m = arg;
    static tl_ctx_t x;
    weft_tls_opts_t o;
    weft_tls_opts_init(&o);
    o.min_version = WEFT_TLS_1_3;
    o.ca_file = cert;
    bench_check_rc(weft_tls_client_ctx_new(&x.client, &o), "weft_tls_client_ctx_new");
    o.ca_file = NULL;
    o.cert_file = cert;
    o.key_file = key;
    bench_check_rc(weft_tls_server_ctx_new(&x.server, &o), "weft_tls_server_ctx_new");
    bench_check_rc(weft_tcp_listen(&x.l, "127.0.0.1", 0, &(weft_listen_opts_t){.backlog = 1024}),
                   "weft_tcp_listen");
    x.port = weft_listener_port(x.l);
    weft_group_t server;
    bench_check_rc(weft_group_open(&server), "weft_group_open");
    bench_check_rc(weft_group_spawn(&server, server_task, &x), "weft_group_spawn");
    bench_rounds_run(m->trips, "round trips warm-up", trips_round, &x);
    bench_rounds_run(m->handshakes, "handshakes warm-up", handshakes_round, &x);
    weft_group_cancel(&server);
    bench_check_close(&server, weft_group_close(&server, 0), "weft_group_close (server)");
    bench_check_rc(weft_listener_close(x.l), "weft_listener_close");
    weft_tls_ctx_free(x.client);
    weft_tls_ctx_free(x.server);
    return 0;
}

static double uv_trips(void *ctx, long n, int round)
{
    (void)ctx, (void)round;
    return (double)CONNS * (double)n / utl_round(cert, key, CONNS, 1, n);
}

static double uv_handshakes(void *ctx, long n, int round)
{
    (void)ctx, (void)round;
    long conns = n / 20 > 0 ? n / 20 : 1;
    return (double)CONNS * (double)conns / utl_round(cert, key, CONNS, conns, 1);
}

int main(int argc, char **argv)
{
    bench_args_t a = bench_rounds_args(argc, argv, 2000, "round trips per connection");
    char dir[] = "/tmp/weft-tls-bench-XXXXXX", cmd[512];
    if (!mkdtemp(dir))
        bench_fail("mkdtemp");
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1"
             " -subj /CN=bench -addext subjectAltName=IP:127.0.0.1 -keyout %s -out %s"
             " >/dev/null 2>&1",
             key, cert);
    if (system(cmd) != 0)
        bench_fail("the openssl command could not make a certificate");

    bench_rounds_t wt, wh, bt, bh;
    bench_rounds_init(&wt, &a, "round trips/s");
    bench_rounds_init(&wh, &a, "handshakes/s");
    bench_rounds_init(&bt, &a, "round trips/s");
    bench_rounds_init(&bh, &a, "handshakes/s");
    printf("# tls_echo: TLS 1.3, ECDSA P-256, %d connections x %ld round trips of %d bytes on "
           "127.0.0.1 (connections included), and %d clients x %ld handshakes (one round trip "
           "and close_notify each); workers=%u, median of %d rounds after 1 warm-up\n",
           CONNS, a.n, UTL_MSG, CONNS, a.n / 20 > 0 ? a.n / 20 : 1, a.workers, a.reps);
    tl_main_t m = {&wt, &wh};
    bench_run(&a, bench_main, &m);
    double weft_trips = bench_rounds_median(&wt, "weft round trip rounds");
    double weft_hs = bench_rounds_median(&wh, "weft handshake rounds");
    printf("# baseline: raw %s over memory BIOs, libuv %s, server and clients on one loop, one "
           "thread\n", OpenSSL_version(OPENSSL_VERSION), uv_version_string());
    bench_rounds_run(&bt, "baseline round trips warm-up", uv_trips, NULL);
    bench_rounds_run(&bh, "baseline handshakes warm-up", uv_handshakes, NULL);
    double base_trips = bench_rounds_median(&bt, "baseline round trip rounds");
    double base_hs = bench_rounds_median(&bh, "baseline handshake rounds");
    bench_report("tls_echo", weft_trips, "openssl_uv_one_thread", base_trips, "round trips/s");
    bench_report("tls_handshake", weft_hs, "openssl_uv_one_thread", base_hs, "handshakes/s");
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return 0;
}
