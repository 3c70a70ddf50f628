/*
 * uv_echo.h — a raw-libuv TCP echo server and echo clients, the baseline of
 * tcp_echo (header only).  Include bench.h first.
 *
 * Server (uve_server_t): listens on 127.0.0.1, port 0, on a given loop or on
 * a loop of its own in its own pthread; every accepted connection gets
 * TCP_NODELAY and echoes what it reads (uv_try_write of the read bytes, the
 * rest copied into a uv_write request), and is closed at EOF.
 * uve_server_stop closes the listener from the server's loop (uv_async_send,
 * so any thread may call it); the loop then ends once the clients closed.
 *
 * Clients (uve_clients_t): `conns` connections on one loop, each connecting,
 * setting TCP_NODELAY, then doing n round trips of a UVE_MSG-byte message
 * (send, then read exactly UVE_MSG bytes, each one checked against what was
 * sent) and closing.  The message of connection c, round trip i is
 * uve_msg_byte(c, i, k), k = 0..UVE_MSG-1 (the weft side may use the same).
 */
#ifndef WEFT_BENCH_UV_ECHO_H
#define WEFT_BENCH_UV_ECHO_H

#include "bench.h"

#include <pthread.h>
#include <uv.h>

#define UVE_MSG 64
#define UVE_READ_BUF (64 * 1024)

static inline unsigned char uve_msg_byte(long c, long i, int k)
{
    return (unsigned char)(c * 131 + i * 17 + k * 3 + 1);
}

static inline void uve_check(int rc, const char *what)
{
    if (rc != 0)
        bench_fail("%s: %s (%s)", what, uv_strerror(rc), uv_err_name(rc));
}

/* A write of bytes uv_try_write did not take: owns its copy. */
typedef struct uve_write_t {
    uv_write_t req;
    char data[];
} uve_write_t;

static void uve_write_done_(uv_write_t *req, int status)
{
    if (status != 0)
        bench_fail("uv_write: %s", uv_strerror(status));
    free(req);
}

/* Send all len bytes of p: uv_try_write first, a copied uv_write for the rest. */
static inline void uve_send_(uv_stream_t *st, const char *p, size_t len)
{
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)len);
    int n = uv_try_write(st, &b, 1);
    if (n == UV_EAGAIN || n == UV_ENOSYS)
        n = 0;
    else if (n < 0)
        bench_fail("uv_try_write: %s", uv_strerror(n));
    if ((size_t)n == len)
        return;
    uve_write_t *w = malloc(sizeof *w + (len - (size_t)n));
    if (!w)
        bench_fail("out of memory");
    memcpy(w->data, p + n, len - (size_t)n);
    b = uv_buf_init(w->data, (unsigned)(len - (size_t)n));
    uve_check(uv_write(&w->req, st, &b, 1, uve_write_done_), "uv_write");
}

/* ---------------------------------------------------------------- server */

typedef struct uve_server_t {
    uv_loop_t *loop;
    uv_loop_t own_loop; /* threaded */
    uv_tcp_t listener;
    uv_async_t stop;
    pthread_t thread;
    int threaded;
    int port;
    /* Read by the caller after the server's loop ended. */
    long accepted, closed;
    uint64_t echoed; /* bytes */
} uve_server_t;

typedef struct uve_sconn_t {
    uv_tcp_t tcp;
    uve_server_t *srv;
    char buf[UVE_READ_BUF];
} uve_sconn_t;

static void uve_sconn_closed_(uv_handle_t *h)
{
    uve_sconn_t *c = h->data;
    c->srv->closed++;
    free(c);
}

static void uve_sconn_alloc_(uv_handle_t *h, size_t suggested, uv_buf_t *out)
{
    uve_sconn_t *c = h->data;
    (void)suggested;
    *out = uv_buf_init(c->buf, sizeof c->buf);
}

static void uve_sconn_read_(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    uve_sconn_t *c = st->data;
    if (n > 0) {
        uve_send_(st, b->base, (size_t)n); /* buf is free again on return */
        c->srv->echoed += (uint64_t)n;
    } else if (n == UV_EOF) {
        uv_close((uv_handle_t *)st, uve_sconn_closed_);
    } else if (n < 0) {
        bench_fail("echo server: read: %s", uv_strerror((int)n));
    }
}

static void uve_server_conn_(uv_stream_t *l, int status)
{
    uve_server_t *s = l->data;
    uve_check(status, "echo server: connection callback");
    uve_sconn_t *c = malloc(sizeof *c);
    if (!c)
        bench_fail("out of memory");
    c->srv = s;
    uve_check(uv_tcp_init(s->loop, &c->tcp), "uv_tcp_init");
    c->tcp.data = c;
    uve_check(uv_accept(l, (uv_stream_t *)&c->tcp), "uv_accept");
    s->accepted++;
    uve_check(uv_tcp_nodelay(&c->tcp, 1), "uv_tcp_nodelay");
    uve_check(uv_read_start((uv_stream_t *)&c->tcp, uve_sconn_alloc_, uve_sconn_read_),
              "uv_read_start");
}

static void uve_server_stop_cb_(uv_async_t *a)
{
    uve_server_t *s = a->data;
    uv_close((uv_handle_t *)&s->listener, NULL);
    uv_close((uv_handle_t *)&s->stop, NULL);
}

static void *uve_server_thread_(void *arg)
{
    uve_server_t *s = arg;
    int rc = uv_run(s->loop, UV_RUN_DEFAULT);
    if (rc != 0)
        bench_fail("echo server thread: uv_run returned %d with handles active", rc);
    return NULL;
}

/* Start listening on 127.0.0.1 (port in s->port); loop NULL: on a loop of its
 * own in a new thread. */
static inline void uve_server_start(uve_server_t *s, uv_loop_t *loop)
{
    memset(s, 0, sizeof *s);
    s->threaded = loop == NULL;
    if (s->threaded) {
        uve_check(uv_loop_init(&s->own_loop), "uv_loop_init");
        loop = &s->own_loop;
    }
    s->loop = loop;
    struct sockaddr_in sa;
    uve_check(uv_ip4_addr("127.0.0.1", 0, &sa), "uv_ip4_addr");
    uve_check(uv_tcp_init(loop, &s->listener), "uv_tcp_init");
    s->listener.data = s;
    uve_check(uv_tcp_bind(&s->listener, (const struct sockaddr *)&sa, 0), "uv_tcp_bind");
    uve_check(uv_listen((uv_stream_t *)&s->listener, 128, uve_server_conn_), "uv_listen");
    struct sockaddr_storage ss;
    int len = sizeof ss;
    uve_check(uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len), "getsockname");
    s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    uve_check(uv_async_init(loop, &s->stop, uve_server_stop_cb_), "uv_async_init");
    s->stop.data = s;
    if (s->threaded && pthread_create(&s->thread, NULL, uve_server_thread_, s) != 0)
        bench_fail("pthread_create failed");
}

/* Close the listener (from any thread).  Threaded: also wait for the server's
 * loop to end (every connection closed) and close it. */
static inline void uve_server_stop(uve_server_t *s)
{
    uve_check(uv_async_send(&s->stop), "uv_async_send");
    if (s->threaded) {
        pthread_join(s->thread, NULL);
        uve_check(uv_loop_close(&s->own_loop), "uv_loop_close (server)");
    }
}

/* After the server's loop ended: every connection accepted and closed, and
 * `bytes` echoed. */
static inline void uve_server_check(const uve_server_t *s, long conns, uint64_t bytes)
{
    if (s->accepted != conns || s->closed != conns || s->echoed != bytes)
        bench_fail("echo server: %ld connections accepted, %ld closed, %llu bytes echoed; "
                   "expected %ld, %ld, %llu",
                   s->accepted, s->closed, (unsigned long long)s->echoed, conns, conns,
                   (unsigned long long)bytes);
}

/* ---------------------------------------------------------------- clients */

typedef struct uve_clients_t uve_clients_t;

typedef struct uve_cconn_t {
    uv_tcp_t tcp;
    uv_connect_t connect;
    uve_clients_t *cl;
    long id;
    long trips;        /* completed round trips */
    int got;           /* bytes of the current echo received */
    int closed;
    char msg[UVE_MSG]; /* the message of the current round trip */
    char buf[UVE_READ_BUF];
} uve_cconn_t;

struct uve_clients_t {
    uv_loop_t *loop;
    long conns, n;
    long finished;                /* connections done with their n round trips */
    uint64_t t_end;               /* bench_now_ns() when the last one finished */
    void (*on_done)(void *arg);   /* then called on the loop's thread, or NULL */
    void *arg;
    uve_cconn_t *c;
};

static void uve_cconn_closed_(uv_handle_t *h)
{
    uve_cconn_t *c = h->data;
    c->closed = 1;
}

static void uve_cconn_send_(uve_cconn_t *c)
{
    for (int k = 0; k < UVE_MSG; k++)
        c->msg[k] = (char)uve_msg_byte(c->id, c->trips, k);
    c->got = 0;
    uve_send_((uv_stream_t *)&c->tcp, c->msg, UVE_MSG);
}

static void uve_cconn_alloc_(uv_handle_t *h, size_t suggested, uv_buf_t *out)
{
    uve_cconn_t *c = h->data;
    (void)suggested;
    *out = uv_buf_init(c->buf, sizeof c->buf);
}

static void uve_cconn_read_(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    uve_cconn_t *c = st->data;
    uve_clients_t *cl = c->cl;
    if (n == 0)
        return;
    if (n < 0)
        bench_fail("echo client %ld: read after %ld round trips: %s", c->id, c->trips,
                   uv_strerror((int)n));
    if (c->got + n > UVE_MSG)
        bench_fail("echo client %ld: %d + %zd bytes back for a %d-byte message", c->id, c->got,
                   n, UVE_MSG);
    if (memcmp(b->base, c->msg + c->got, (size_t)n) != 0)
        bench_fail("echo client %ld: round trip %ld: wrong bytes echoed", c->id, c->trips);
    c->got += (int)n;
    if (c->got < UVE_MSG)
        return;
    if (++c->trips < cl->n) {
        uve_cconn_send_(c);
        return;
    }
    uv_close((uv_handle_t *)&c->tcp, uve_cconn_closed_);
    if (++cl->finished == cl->conns) {
        cl->t_end = bench_now_ns();
        if (cl->on_done)
            cl->on_done(cl->arg);
    }
}

static void uve_cconn_connected_(uv_connect_t *req, int status)
{
    uve_cconn_t *c = req->data;
    if (status != 0)
        bench_fail("echo client %ld: connect: %s", c->id, uv_strerror(status));
    uve_check(uv_tcp_nodelay(&c->tcp, 1), "uv_tcp_nodelay");
    uve_check(uv_read_start((uv_stream_t *)&c->tcp, uve_cconn_alloc_, uve_cconn_read_),
              "uv_read_start");
    uve_cconn_send_(c);
}

/* Start conns connections to 127.0.0.1:port on loop, n round trips each. */
static inline void uve_clients_start(uve_clients_t *cl, uv_loop_t *loop, int port, long conns,
                                     long n, void (*on_done)(void *), void *arg)
{
    memset(cl, 0, sizeof *cl);
    cl->loop = loop;
    cl->conns = conns;
    cl->n = n;
    cl->on_done = on_done;
    cl->arg = arg;
    cl->c = calloc((size_t)conns, sizeof *cl->c);
    if (!cl->c)
        bench_fail("out of memory");
    struct sockaddr_in sa;
    uve_check(uv_ip4_addr("127.0.0.1", port, &sa), "uv_ip4_addr");
    for (long i = 0; i < conns; i++) {
        uve_cconn_t *c = &cl->c[i];
        c->cl = cl;
        c->id = i;
        uve_check(uv_tcp_init(loop, &c->tcp), "uv_tcp_init");
        c->tcp.data = c;
        c->connect.data = c;
        uve_check(uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr *)&sa,
                                 uve_cconn_connected_),
                  "uv_tcp_connect");
    }
}

/* After the clients' loop ended: check every count, free. */
static inline void uve_clients_finish(uve_clients_t *cl)
{
    for (long i = 0; i < cl->conns; i++)
        if (cl->c[i].trips != cl->n || !cl->c[i].closed)
            bench_fail("echo client %ld: %ld of %ld round trips, %s", i, cl->c[i].trips, cl->n,
                       cl->c[i].closed ? "closed" : "not closed");
    if (cl->finished != cl->conns)
        bench_fail("echo clients: %ld of %ld finished", cl->finished, cl->conns);
    free(cl->c);
    cl->c = NULL;
}

/* ---------------------------------------------------------------- rounds */

static void uve_stop_server_cb_(void *arg)
{
    uve_server_stop(arg); /* same loop: only closes the listener */
}

/* One round: conns connections x n round trips, the server on the clients'
 * loop (threaded == 0) or on its own thread.  Returns round trips / s, timed
 * from the first connect to the end of the last connection's last round trip. */
static inline double uve_round(long conns, long n, int threaded)
{
    uv_loop_t loop;
    uve_server_t srv;
    uve_clients_t cl;
    uve_check(uv_loop_init(&loop), "uv_loop_init");
    uve_server_start(&srv, threaded ? NULL : &loop);
    uint64_t t0 = bench_now_ns();
    uve_clients_start(&cl, &loop, srv.port, conns, n, threaded ? NULL : uve_stop_server_cb_,
                      &srv);
    int rc = uv_run(&loop, UV_RUN_DEFAULT);
    if (rc != 0)
        bench_fail("echo baseline: uv_run returned %d with handles active", rc);
    if (threaded)
        uve_server_stop(&srv);
    uve_clients_finish(&cl);
    uve_server_check(&srv, conns, (uint64_t)conns * (uint64_t)n * UVE_MSG);
    uve_check(uv_loop_close(&loop), "uv_loop_close");
    return (double)conns * (double)n / ((double)(cl.t_end - t0) / 1e9);
}

#endif /* WEFT_BENCH_UV_ECHO_H */
