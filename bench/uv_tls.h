/*
 * uv_tls.h — raw OpenSSL on one libuv loop in one thread: the baseline of
 * tls_echo (header only; include bench.h first).
 *
 * An echo server and `conns` clients on the same loop, every connection an
 * SSL object over two memory BIOs: what libuv reads goes into the read BIO,
 * what OpenSSL writes is taken from the write BIO and written (uv_try_write,
 * the rest in a copied uv_write).  Each client connects (TCP_NODELAY),
 * handshakes (verifying the server's certificate and its IP address), does
 * `trips` round trips of a UTL_MSG-byte message (every byte checked), sends
 * close_notify and closes; it does that `conns_each` times in a row.  The
 * server echoes what it decrypts and closes at the client's close_notify.
 */
#ifndef WEFT_BENCH_UV_TLS_H
#define WEFT_BENCH_UV_TLS_H

#include "bench.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <uv.h>

#define UTL_MSG 64

typedef struct utl_run_t {
    uv_loop_t loop;
    uv_tcp_t listener;
    SSL_CTX *server_ctx, *client_ctx;
    struct sockaddr_in addr;
    long trips, conns_each;
    int clients_left;
} utl_run_t;

typedef struct utl_conn_t {
    uv_tcp_t tcp;
    uv_connect_t connect;
    utl_run_t *run;
    SSL *ssl;
    BIO *rbio, *wbio;
    int client, handshaken, closing;
    long id, done_trips, conns_done;
    char msg[UTL_MSG], back[UTL_MSG];
    size_t got;
} utl_conn_t;

static inline void utl_check(int ok, const char *what)
{
    if (!ok) {
        char e[256];
        ERR_error_string_n(ERR_get_error(), e, sizeof e);
        bench_fail("%s failed: %s", what, e);
    }
}

typedef struct utl_write_t {
    uv_write_t req;
    char data[];
} utl_write_t;

static void utl_write_done_(uv_write_t *req, int status)
{
    (void)status; /* a close under a pending write cancels it */
    free(req);
}

/* Hand what OpenSSL wrote to the socket. */
static void utl_flush_(utl_conn_t *c)
{
    char buf[16384];
    int n;
    while ((n = BIO_read(c->wbio, buf, sizeof buf)) > 0) {
        uv_buf_t b = uv_buf_init(buf, (unsigned)n);
        int w = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        if (w == UV_EAGAIN)
            w = 0;
        if (w < 0)
            bench_fail("uv_try_write: %s", uv_strerror(w));
        if (w == n)
            continue;
        utl_write_t *q = malloc(sizeof *q + (size_t)(n - w));
        if (!q)
            bench_fail("out of memory");
        memcpy(q->data, buf + w, (size_t)(n - w));
        b = uv_buf_init(q->data, (unsigned)(n - w));
        if (uv_write(&q->req, (uv_stream_t *)&c->tcp, &b, 1, utl_write_done_) != 0)
            bench_fail("uv_write");
    }
}

static void utl_client_start_(utl_conn_t *c);

static void utl_closed_(uv_handle_t *h)
{
    utl_conn_t *c = h->data;
    SSL_free(c->ssl);
    c->ssl = NULL;
    if (!c->client) {
        free(c);
        return;
    }
    if (++c->conns_done < c->run->conns_each)
        utl_client_start_(c); /* the next connection of this client */
    else if (--c->run->clients_left == 0)
        uv_close((uv_handle_t *)&c->run->listener, NULL);
}

static void utl_close_(utl_conn_t *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    uv_close((uv_handle_t *)&c->tcp, utl_closed_);
}

static void utl_client_send_(utl_conn_t *c)
{
    for (int k = 0; k < UTL_MSG; k++)
        c->msg[k] = (char)(c->id * 131 + c->done_trips * 17 + k * 3 + 1);
    utl_check(SSL_write(c->ssl, c->msg, UTL_MSG) == UTL_MSG, "SSL_write");
    c->got = 0;
}

/* Whatever arrived: the handshake, then records. */
static void utl_drive_(utl_conn_t *c)
{
    if (!c->handshaken) {
        int r = SSL_do_handshake(c->ssl);
        if (r != 1) {
            if (SSL_get_error(c->ssl, r) != SSL_ERROR_WANT_READ)
                utl_check(0, "SSL_do_handshake");
            utl_flush_(c);
            return;
        }
        c->handshaken = 1;
        if (c->client)
            utl_client_send_(c);
    }
    char buf[16384];
    for (;;) {
        int n = SSL_read(c->ssl, buf, sizeof buf);
        if (n <= 0) {
            int e = SSL_get_error(c->ssl, n);
            if (e == SSL_ERROR_ZERO_RETURN) { /* the client's close_notify */
                utl_flush_(c);
                utl_close_(c);
                return;
            }
            if (e != SSL_ERROR_WANT_READ)
                utl_check(0, "SSL_read");
            break;
        }
        if (!c->client) {
            utl_check(SSL_write(c->ssl, buf, n) == n, "SSL_write");
            continue;
        }
        if (c->got + (size_t)n > UTL_MSG)
            bench_fail("client %ld: too many bytes", c->id);
        memcpy(c->back + c->got, buf, (size_t)n);
        c->got += (size_t)n;
        if (c->got < UTL_MSG)
            continue;
        if (memcmp(c->back, c->msg, UTL_MSG) != 0)
            bench_fail("client %ld: wrong bytes echoed", c->id);
        if (++c->done_trips < c->run->trips) {
            utl_client_send_(c);
        } else {
            SSL_shutdown(c->ssl);
            utl_flush_(c);
            utl_close_(c);
            return;
        }
    }
    utl_flush_(c);
}

static void utl_alloc_(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    static char buf[65536]; /* one thread: read and consumed at once */
    (void)h, (void)suggested;
    *b = uv_buf_init(buf, sizeof buf);
}

static void utl_read_(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    utl_conn_t *c = st->data;
    if (n == 0 || c->closing)
        return;
    if (n < 0) {
        utl_close_(c);
        return;
    }
    utl_check(BIO_write(c->rbio, b->base, (int)n) == n, "BIO_write");
    utl_drive_(c);
}

static void utl_ssl_(utl_conn_t *c, SSL_CTX *ctx)
{
    c->ssl = SSL_new(ctx);
    c->rbio = BIO_new(BIO_s_mem());
    c->wbio = BIO_new(BIO_s_mem());
    utl_check(c->ssl && c->rbio && c->wbio, "SSL_new");
    SSL_set_bio(c->ssl, c->rbio, c->wbio);
    c->handshaken = c->closing = 0;
    c->tcp.data = c;
}

static void utl_connected_(uv_connect_t *req, int status)
{
    utl_conn_t *c = req->data;
    if (status != 0)
        bench_fail("connect: %s", uv_strerror(status));
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, utl_alloc_, utl_read_);
    utl_drive_(c); /* the ClientHello */
}

static void utl_client_start_(utl_conn_t *c)
{
    utl_run_t *r = c->run;
    c->done_trips = 0;
    uv_tcp_init(&r->loop, &c->tcp);
    utl_ssl_(c, r->client_ctx);
    SSL_set_connect_state(c->ssl);
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), "127.0.0.1");
    c->connect.data = c;
    if (uv_tcp_connect(&c->connect, &c->tcp, (struct sockaddr *)&r->addr, utl_connected_) != 0)
        bench_fail("uv_tcp_connect");
}

static void utl_connection_(uv_stream_t *l, int status)
{
    utl_run_t *r = l->data;
    if (status != 0)
        bench_fail("listen: %s", uv_strerror(status));
    utl_conn_t *c = calloc(1, sizeof *c);
    if (!c)
        bench_fail("out of memory");
    c->run = r;
    uv_tcp_init(&r->loop, &c->tcp);
    utl_ssl_(c, r->server_ctx);
    SSL_set_accept_state(c->ssl);
    if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0)
        bench_fail("uv_accept");
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, utl_alloc_, utl_read_);
}

/* One round on a fresh loop: conns clients, each conns_each connections of
 * trips round trips; the seconds it took. */
static inline double utl_round(const char *cert, const char *key, int conns, long conns_each,
                               long trips)
{
    utl_run_t r = {.trips = trips, .conns_each = conns_each, .clients_left = conns};
    r.server_ctx = SSL_CTX_new(TLS_server_method());
    r.client_ctx = SSL_CTX_new(TLS_client_method());
    utl_check(r.server_ctx && r.client_ctx, "SSL_CTX_new");
    SSL_CTX_set_min_proto_version(r.server_ctx, TLS1_3_VERSION);
    SSL_CTX_set_min_proto_version(r.client_ctx, TLS1_3_VERSION);
    utl_check(SSL_CTX_use_certificate_chain_file(r.server_ctx, cert) == 1, "certificate");
    utl_check(SSL_CTX_use_PrivateKey_file(r.server_ctx, key, SSL_FILETYPE_PEM) == 1, "key");
    utl_check(SSL_CTX_load_verify_locations(r.client_ctx, cert, NULL) == 1, "CA");
    SSL_CTX_set_verify(r.client_ctx, SSL_VERIFY_PEER, NULL);
    uv_loop_init(&r.loop);
    uv_tcp_init(&r.loop, &r.listener);
    r.listener.data = &r;
    uv_ip4_addr("127.0.0.1", 0, &r.addr);
    if (uv_tcp_bind(&r.listener, (struct sockaddr *)&r.addr, 0) != 0 ||
        uv_listen((uv_stream_t *)&r.listener, 1024, utl_connection_) != 0)
        bench_fail("listen");
    int len = sizeof r.addr;
    uv_tcp_getsockname(&r.listener, (struct sockaddr *)&r.addr, &len);
    utl_conn_t *c = calloc((size_t)conns, sizeof *c);
    if (!c)
        bench_fail("out of memory");
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < conns; i++) {
        c[i] = (utl_conn_t){.run = &r, .client = 1, .id = i};
        utl_client_start_(&c[i]);
    }
    uv_run(&r.loop, UV_RUN_DEFAULT);
    uint64_t t1 = bench_now_ns();
    for (int i = 0; i < conns; i++)
        if (c[i].conns_done != conns_each)
            bench_fail("client %d: %ld of %ld connections", i, c[i].conns_done, conns_each);
    free(c);
    uv_loop_close(&r.loop);
    SSL_CTX_free(r.server_ctx);
    SSL_CTX_free(r.client_ctx);
    return (double)(t1 - t0) / 1e9;
}

#endif
