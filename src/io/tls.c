/*
 * The TLS kind of byte stream (stream.h): an OpenSSL SSL object over a
 * stream of the libuv kind that it took over (wf_stream_take).
 *
 * OpenSSL does no I/O of its own here: its BIO (one for both directions)
 * reads the ciphertext straight out of the wrapped stream's receive buffer
 * and appends what it writes to `out`, a buffer of ours.  So an OpenSSL call
 * never waits and never fails for want of room: SSL_write takes every byte
 * it is given at once (the "retry with the same buffer" rule of a
 * non-blocking SSL_write never applies), and the waiting is ours, between
 * OpenSSL calls, under the task's cancel scopes:
 *   - receiving: SSL_read decrypts into the stream's own buffer (so what a
 *     cancelled receive decrypted stays there); when it wants more, the
 *     task waits for the wrapped stream to fill (wf_stream_fill_more), and
 *     a record half read stays inside OpenSSL;
 *   - sending: SSL_write encrypts a chunk into `out`, then `out` is handed
 *     to the wrapped stream's send.  That send, cancelled, still sends
 *     every byte it was handed (its request goes on alone), so a cancelled
 *     send has sent whole records: a prefix.
 * A receive may have to send too (a TLS 1.3 key update's answer, an alert):
 * only one task at a time is inside the wrapped stream's send (`flushing`),
 * with the other buffer of the two (`spare`, swapped with `out`), so that
 * OpenSSL can go on appending meanwhile.  A sender waits its turn (its send
 * returns once its bytes were handed over); a receiver leaves what it
 * produced to the task that is flushing, which sends until `out` is empty.
 *
 * Every call runs on the owner, the wrapped stream's worker (stream.c moves
 * the task there), and a task switches only while it waits, between OpenSSL
 * calls: no OpenSSL object of a stream is ever used by two threads.
 */
#define WEFT_IO_TLS_OPENSSL
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <string.h>

#include "io/stream.h"
#include "io/tls.h"
#include "sched/waitq.h"

/* Plaintext encrypted per step of a send: four full records. */
#define SEND_CHUNK (64u * 1024u)

typedef struct obuf {
    char *p;
    size_t len, cap;
} obuf_t;

typedef struct tls {
    weft_stream_t s;            /* first: what users hold */
    weft_stream_t *plain;       /* taken over; held until the release */
    weft_tls_ctx_t *ctx;        /* a reference, with the SSL object */
    SSL *ssl;
    obuf_t out, spare;          /* ciphertext not yet handed over / being handed over */
    int flushing;               /* a task is inside plain's send with `spare` */
    wf_task_t *flush_waiter;    /* a sender waiting for that to end */
    int write_error;            /* the send side broke: every later send gets it */
    int eof_sent;               /* close_notify is in `out` or sent */
    int oom;                    /* the BIO could not grow `out` */
    char alpn[256];             /* the protocol negotiated, "" for none */
} tls_t;

static const wf_stream_ops_t tls_ops;

/* ---------------------------------------------------------------- the BIO */

static int bio_write(BIO *b, const char *data, size_t len, size_t *written) {
    tls_t *x = BIO_get_data(b);
    obuf_t *o = &x->out;
    if (o->cap - o->len < len) {
        size_t cap = o->cap ? o->cap : 4096;
        while (cap - o->len < len) cap *= 2;
        char *p = wf_realloc(o->p, cap);
        if (!p) {
            x->oom = 1;
            return 0;
        }
        o->p = p;
        o->cap = cap;
    }
    memcpy(o->p + o->len, data, len);
    o->len += len;
    *written = len;
    return 1;
}

/* From the wrapped stream's buffer; none there: "retry" (the caller waits
 * for more, or sees that the stream ended). */
static int bio_read(BIO *b, char *buf, size_t len, size_t *readbytes) {
    tls_t *x = BIO_get_data(b);
    size_t n;
    const char *p = wf_stream_pending(x->plain, &n);
    BIO_clear_retry_flags(b);
    if (n == 0) {
        BIO_set_retry_read(b);
        return 0;
    }
    if (n > len) n = len;
    memcpy(buf, p, n);
    wf_stream_consume(x->plain, n);
    *readbytes = n;
    return 1;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
    (void)b, (void)num, (void)ptr;
    return cmd == BIO_CTRL_FLUSH; /* nothing buffered in the BIO itself */
}

static int bio_create(BIO *b) {
    BIO_set_init(b, 1);
    return 1;
}

static BIO_METHOD *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

static void bio_method_make(void) {
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "weft stream");
    if (m && (!BIO_meth_set_write_ex(m, bio_write) || !BIO_meth_set_read_ex(m, bio_read) ||
              !BIO_meth_set_ctrl(m, bio_ctrl) || !BIO_meth_set_create(m, bio_create))) {
        BIO_meth_free(m);
        m = NULL;
    }
    bio_method = m; /* for the process's life */
}

/* ---------------------------------------------------------------- sending ciphertext */

/* Hand `out` to plain until it is empty.  With `wait_turn` (a sender),
 * wait while another task is doing it; without (a receiver), leave the
 * bytes to that task. */
static int flush(tls_t *x, wf_task_t *t, int wait_turn) {
    while (x->flushing) {
        if (!wait_turn) return 0;
        int rc = wf_io_wait(&x->s.life, t, &x->flush_waiter);
        if (rc) return rc;
        if (x->s.life.closed) return WEFT_EBADF;
    }
    while (x->out.len) {
        if (x->write_error) return x->write_error;
        obuf_t b = x->out;
        x->out = x->spare;
        x->out.len = 0;
        x->flushing = 1;
        int rc = x->plain->ops->send(x->plain, t, b.p, b.len);
        x->flushing = 0;
        b.len = 0;
        x->spare = b;
        if (x->flush_waiter) wf_wait_claim(x->flush_waiter, 0);
        if (rc) {
            /* Cancelled, the bytes were still handed over (stream.h); any
             * other failure may have cut a record: nothing can follow. */
            if (rc != WEFT_ECANCELED) x->write_error = rc;
            return rc;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- the kind's operations */

/* OpenSSL's error queue must be empty before a call, or SSL_get_error
 * blames the call for an old error; ERR_clear_error itself walks the whole
 * queue, so it runs only when there is something to clear. */
static inline void errors_clear(void) {
    if (ERR_peek_error() != 0) ERR_clear_error();
}

/* Ciphertext in plain's buffer that OpenSSL has not taken yet. */
static inline size_t plain_pending(const tls_t *x) {
    size_t n;
    wf_stream_pending(x->plain, &n);
    return n;
}

/* After OpenSSL took bytes from plain's buffer: plain reads on. */
static inline void plain_tidy(tls_t *x) {
    if (x->plain->paused) wf_stream_tidy(x->plain);
}

static int tls_fill(weft_stream_t *s, wf_task_t *t) {
    tls_t *x = (tls_t *)s;
    /* SSL_read only when it has something to work on: bytes inside OpenSSL
     * or in plain's buffer, and not right after it asked for more. */
    int got = 0, starved = !SSL_has_pending(x->ssl) && plain_pending(x) == 0;
    for (;;) {
        if (starved) {
            if (got) return 0;
            if (wf_stream_at_end(x->plain)) {
                s->read_error = x->plain->read_error
                                    ? x->plain->read_error
                                    : wf_tls_fail("unexpected EOF: the peer closed the connection "
                                                  "without close_notify (truncated)");
                return 0;
            }
            int rc = wf_stream_fill_more(x->plain, t);
            if (rc) return rc;
            starved = 0;
        }
        size_t room, n = 0;
        char *to = wf_stream_room(s, &room);
        if (room == 0) return 0;
        errors_clear();
        int ok = SSL_read_ex(x->ssl, to, room, &n);
        int err = ok ? SSL_ERROR_NONE : SSL_get_error(x->ssl, 0);
        plain_tidy(x);
        if (ok) {
            wf_stream_filled(s, n);
            got = 1;
            starved = !SSL_has_pending(x->ssl) && plain_pending(x) == 0;
        } else if (err == SSL_ERROR_WANT_READ) {
            starved = 1;
        } else if (err == SSL_ERROR_ZERO_RETURN) { /* close_notify */
            s->eof = 1;
        } else {
            s->read_error = x->oom ? WEFT_ENOMEM : wf_tls_fail_ssl("TLS receive failed");
        }
        /* What reading produced (a key update's answer) goes out now. */
        if (x->out.len) {
            int rc = flush(x, t, 0);
            if (rc == WEFT_ECANCELED || rc == WEFT_EBADF) return rc;
        }
        if (!ok && err != SSL_ERROR_WANT_READ) return 0;
    }
}

/* Never paused (fill stops when full); called for a hang-up watch
 * (weft_stream_cancel_on_hangup): the connection below reads ahead, and
 * its end cancels this stream's watch too (stream.c). */
static void tls_resume(weft_stream_t *s) {
    tls_t *x = (tls_t *)s;
    if (wf_stream_at_end(x->plain)) { /* it hung up already */
        if (s->hangup) weft_scope_cancel(s->hangup);
    } else if (!x->plain->life.closed) {
        x->plain->ops->resume(x->plain);
    }
}

static int tls_send(weft_stream_t *s, wf_task_t *t, const void *buf, size_t len) {
    tls_t *x = (tls_t *)s;
    if (x->eof_sent) return WEFT_EPIPE;
    int rc = flush(x, t, 1); /* what an earlier, cancelled call left */
    const char *p = buf;
    while (rc == 0 && len) {
        size_t n = len < SEND_CHUNK ? len : SEND_CHUNK, done = 0;
        errors_clear();
        if (!SSL_write_ex(x->ssl, p, n, &done))
            return x->write_error = x->oom ? WEFT_ENOMEM : wf_tls_fail_ssl("TLS send failed");
        p += done;
        len -= done;
        rc = flush(x, t, 1);
    }
    return rc;
}

static int tls_send_eof(weft_stream_t *s, wf_task_t *t) {
    tls_t *x = (tls_t *)s;
    if (!x->eof_sent) {
        errors_clear();
        if (SSL_shutdown(x->ssl) < 0) return wf_tls_fail_ssl("cannot send close_notify");
        x->eof_sent = 1;
    }
    return flush(x, t, 1);
}

static void tls_shut(weft_stream_t *s) {
    tls_t *x = (tls_t *)s;
    if (x->flush_waiter) wf_wait_claim(x->flush_waiter, WEFT_EBADF);
    /* Tasks waiting inside plain's calls wake with WEFT_EBADF. */
    if (!x->plain->life.closed) wf_stream_shut(x->plain);
    wf_io_maybe_free(&s->life);
}

static const wf_stream_ops_t tls_ops = {tls_fill, tls_resume, tls_send, tls_send_eof, tls_shut};

static void tls_release(wf_io_life_t *o) {
    tls_t *x = WF_CONTAINER_OF(o, tls_t, s.life);
    wf_stream_untake(x->plain);
    SSL_free(x->ssl); /* and its BIO */
    if (x->ctx) wf_tls_ctx_unref(x->ctx);
    wf_free(x->out.p);
    wf_free(x->spare.p);
    wf_stream_fini(&x->s);
    wf_free(x);
}

/* ---------------------------------------------------------------- the handshake */

static const char *verify_kind(long v) {
    switch (v) {
    case X509_V_ERR_CERT_HAS_EXPIRED: return "expired";
    case X509_V_ERR_CERT_NOT_YET_VALID: return "not yet valid";
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH: return "hostname mismatch";
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_UNTRUSTED: return "unknown CA";
    default: return "rejected";
    }
}

static int handshake_failed(tls_t *x) {
    long v = SSL_get_verify_result(x->ssl);
    if (v == X509_V_OK) return wf_tls_fail_ssl("TLS handshake failed");
    ERR_clear_error();
    return wf_tls_fail("certificate verify failed (%s): %s", verify_kind(v),
                       X509_verify_cert_error_string(v));
}

static int handshake(tls_t *x, wf_task_t *t) {
    for (;;) {
        errors_clear();
        int r = SSL_do_handshake(x->ssl);
        int err = r == 1 ? SSL_ERROR_NONE : SSL_get_error(x->ssl, r);
        plain_tidy(x);
        if (err != SSL_ERROR_NONE && err != SSL_ERROR_WANT_READ) {
            int rc = x->oom ? WEFT_ENOMEM : handshake_failed(x);
            flush(x, t, 1); /* the alert that tells the peer why */
            return rc;
        }
        int rc = flush(x, t, 1);
        if (rc || err == SSL_ERROR_NONE) return rc;
        if (wf_stream_at_end(x->plain))
            return x->plain->read_error
                       ? x->plain->read_error
                       : wf_tls_fail("the peer closed the connection during the handshake");
        if ((rc = wf_stream_fill_more(x->plain, t)) != 0) return rc;
    }
}

/* Name checks and SNI for a client. */
static int set_name(SSL *ssl, const char *name, int verify) {
    unsigned char addr[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1) {
        /* No SNI for an address (RFC 6066); the certificate's IP entries. */
        if (verify && !X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name))
            return wf_tls_fail_ssl("bad server address");
        return 0;
    }
    if (!SSL_set_tlsext_host_name(ssl, name)) return wf_tls_fail_ssl("bad server name");
    if (verify) {
        SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (!SSL_set1_host(ssl, name)) return wf_tls_fail_ssl("bad server name");
    }
    return 0;
}

/* A TLS stream over plain (on its owner), which it takes over; *out is set
 * whenever plain was taken (then closing *out undoes everything). */
static int tls_new(tls_t **out, weft_stream_t *plain, weft_tls_ctx_t *ctx, const char *name) {
    *out = NULL;
    pthread_once(&bio_once, bio_method_make);
    if (!bio_method) return wf_tls_fail("cannot make the BIO method");
    tls_t *x = wf_calloc(1, sizeof *x);
    if (!x || wf_stream_init(&x->s, &tls_ops) != 0) {
        if (x) wf_stream_fini(&x->s);
        wf_free(x);
        return WEFT_ENOMEM;
    }
    wf_io_life_init(&x->s.life, tls_release);
    int rc = wf_stream_take(plain, &x->s);
    if (rc) {
        wf_stream_fini(&x->s);
        wf_free(x);
        return rc;
    }
    x->plain = plain;
    *out = x;
    if (!(x->ssl = wf_tls_ctx_ssl(ctx))) return WEFT_ETLS;
    x->ctx = ctx;
    BIO *b = BIO_new(bio_method);
    if (!b) return wf_tls_fail_ssl("cannot make a BIO");
    BIO_set_data(b, x);
    SSL_set_bio(x->ssl, b, b); /* one reference, for both */
    if (wf_tls_ctx_is_server(ctx)) {
        SSL_set_accept_state(x->ssl);
        return 0;
    }
    SSL_set_connect_state(x->ssl);
    return name ? set_name(x->ssl, name, wf_tls_ctx_verifies(ctx)) : 0;
}

int weft_tls_wrap(weft_stream_t **out, weft_stream_t *plain, weft_tls_ctx_t *ctx,
                  const char *server_name) {
    if (out) *out = NULL;
    if (!plain) return WEFT_EINVAL;
    wf_task_t *t;
    int rc = wf_io_begin(&plain->life, &t, 1);
    if (rc) {
        if (rc == WEFT_ECANCELED) weft_stream_close(plain);
        return rc; /* WEFT_EBADF: closed already; WEFT_EPERM: not in a task */
    }
    tls_t *x = NULL;
    if (!out || !ctx || !wf_stream_has_handle(plain) ||
        (!server_name && !wf_tls_ctx_is_server(ctx) && wf_tls_ctx_verifies(ctx)) ||
        (server_name && wf_tls_ctx_is_server(ctx)))
        rc = WEFT_EINVAL;
    else
        rc = tls_new(&x, plain, ctx, server_name);
    if (x) x->s.life.users++; /* ours while it handshakes: a close cannot free it */
    if (rc == 0) {
        double timeout = wf_tls_ctx_handshake_timeout(ctx);
        weft_scope_t scope;
        if (timeout > 0) weft_fail_after(&scope, timeout);
        rc = handshake(x, t);
        if (timeout > 0) rc = weft_scope_exit(&scope, rc);
    }
    if (rc == 0) {
        const unsigned char *p = NULL;
        unsigned n = 0;
        SSL_get0_alpn_selected(x->ssl, &p, &n);
        if (p) memcpy(x->alpn, p, n); /* n < 256 */
        x->alpn[p ? n : 0] = 0;
        *out = &x->s;
    } else if (x) {
        if (!x->s.life.closed) wf_stream_shut(&x->s); /* and plain */
    } else {
        wf_stream_shut(plain->wrapper ? plain->wrapper : plain); /* as weft_stream_close */
    }
    if (x) wf_io_end(&x->s.life, 0);
    return wf_io_end(&plain->life, rc);
}

int weft_tls_connect(weft_stream_t **out, const char *host, int port, weft_tls_ctx_t *ctx) {
    if (out) *out = NULL;
    if (!out || !host || !ctx) return WEFT_EINVAL;
    weft_stream_t *plain;
    int rc = weft_tcp_connect(&plain, host, port);
    return rc ? rc : weft_tls_wrap(out, plain, ctx, host);
}

const char *weft_tls_alpn_selected(weft_stream_t *s) {
    if (!s || s->ops != &tls_ops) return NULL;
    tls_t *x = (tls_t *)s;
    return x->alpn[0] ? x->alpn : NULL;
}
