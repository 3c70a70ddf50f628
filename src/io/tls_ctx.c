/*
 * TLS contexts (weft/tls.h): an OpenSSL SSL_CTX made from the options, and
 * what the streams made from it share.
 *
 * The SSL_CTX is never changed once made: a reload builds a new one from
 * the same options and new files and swaps it in under the context's lock,
 * where streams take the current one for their SSL objects (each SSL holds
 * its SSL_CTX, so the old one lives while its streams do).  OpenSSL allows
 * an unchanging SSL_CTX to be shared by threads; changing one while another
 * thread makes an SSL from it is what it does not allow.  The context itself
 * is counted: the user's handle and one per stream (the ALPN callback reads
 * it during handshakes).
 */
#define WEFT_IO_TLS_OPENSSL
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "io/tls.h"
#include "sched/util.h"

/* The first layout of weft_tls_opts_t (opts_size 0): up to insecure_skip_verify. */
#define OPTS_SIZE_0 (offsetof(weft_tls_opts_t, insecure_skip_verify) + sizeof(int))

struct weft_tls_ctx_t {
    atomic_uint refs;
    int server;
    weft_tls_opts_t opts;     /* the caller's, with the paths copied below */
    char *paths[4];           /* ca_file, cert_file, key_file, ca_path (owned copies) */
    unsigned char alpn[256];  /* the list in ALPN's wire form: length-prefixed names */
    size_t alpn_len;
    pthread_mutex_t lock;     /* guards ssl_ctx */
    SSL_CTX *ssl_ctx;
};

/* ---------------------------------------------------------------- errors */

int wf_tls_fail_ssl(const char *what) {
    char reasons[200] = "";
    size_t used = 0;
    unsigned long e;
    /* The earliest reason is the cause; later ones say where it surfaced. */
    while ((e = ERR_get_error()) != 0) {
        if (used + 3 >= sizeof reasons) continue;
        const char *r = ERR_reason_error_string(e);
        char num[32];
        if (!r) {
            snprintf(num, sizeof num, "error %lx", e);
            r = num;
        }
        int n = snprintf(reasons + used, sizeof reasons - used, "%s%s", used ? "; " : "", r);
        if (n > 0) used = used + (size_t)n < sizeof reasons ? used + (size_t)n : sizeof reasons - 1;
    }
    return used ? wf_tls_fail("%s: %s", what, reasons) : wf_tls_fail("%s", what);
}

/* ---------------------------------------------------------------- options */

void weft_tls_opts_init(weft_tls_opts_t *o) {
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->opts_size = sizeof *o;
}

/* The caller's options in this library's layout (fields it did not have
 * stay 0); WEFT_EINVAL for a layout newer than ours. */
static int copy_opts(weft_tls_opts_t *to, const weft_tls_opts_t *from) {
    memset(to, 0, sizeof *to);
    if (!from) return 0;
    size_t size = from->opts_size ? from->opts_size : OPTS_SIZE_0;
    if (size > sizeof *to || size < OPTS_SIZE_0) return WEFT_EINVAL;
    memcpy(to, from, size);
    to->opts_size = sizeof *to;
    return 0;
}

/* "h2,http/1.1" in wire form; WEFT_EINVAL for an empty or long name. */
static int parse_alpn(weft_tls_ctx_t *c, const char *list) {
    c->alpn_len = 0;
    if (!list) return 0;
    for (const char *p = list;;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == 0 || n > 255 || c->alpn_len + 1 + n > sizeof c->alpn) return WEFT_EINVAL;
        c->alpn[c->alpn_len++] = (unsigned char)n;
        memcpy(c->alpn + c->alpn_len, p, n);
        c->alpn_len += n;
        if (!end) return 0;
        p = end + 1;
    }
}

static int dup_path(weft_tls_ctx_t *c, int i, const char **field) {
    if (!*field) return 0;
    c->paths[i] = wf_alloc(strlen(*field) + 1);
    if (!c->paths[i]) return WEFT_ENOMEM;
    strcpy(c->paths[i], *field);
    *field = c->paths[i];
    return 0;
}

/* ---------------------------------------------------------------- SSL_CTX */

/* Server: the client's first protocol that is also ours, in our order. */
static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned inlen, void *arg) {
    weft_tls_ctx_t *c = arg;
    (void)ssl;
    unsigned char *sel;
    if (SSL_select_next_proto(&sel, outlen, c->alpn, (unsigned)c->alpn_len, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

static int load_pair(SSL_CTX *sc, const char *cert, const char *key) {
    if (SSL_CTX_use_certificate_chain_file(sc, cert) != 1)
        return wf_tls_fail_ssl("cannot load the certificate chain");
    if (SSL_CTX_use_PrivateKey_file(sc, key, SSL_FILETYPE_PEM) != 1)
        return wf_tls_fail_ssl("cannot load the private key");
    if (SSL_CTX_check_private_key(sc) != 1)
        return wf_tls_fail_ssl("the private key does not match the certificate");
    return 0;
}

static int load_trust(SSL_CTX *sc, const weft_tls_opts_t *o) {
    if (!o->ca_file && !o->ca_path)
        return SSL_CTX_set_default_verify_paths(sc) == 1
                   ? 0
                   : wf_tls_fail_ssl("cannot load the system's trust store");
    if (SSL_CTX_load_verify_locations(sc, o->ca_file, o->ca_path) != 1)
        return wf_tls_fail_ssl("cannot load the CA certificates");
    return 0;
}

/* A new SSL_CTX from c's options and this certificate pair (either NULL:
 * none); NULL with the reason recorded in *rc. */
static SSL_CTX *make(weft_tls_ctx_t *c, const char *cert, const char *key, int *rc) {
    const weft_tls_opts_t *o = &c->opts;
    ERR_clear_error();
    SSL_CTX *sc = SSL_CTX_new(c->server ? TLS_server_method() : TLS_client_method());
    if (!sc) {
        *rc = wf_tls_fail_ssl("cannot make an SSL_CTX");
        return NULL;
    }
    *rc = 0;
    SSL_CTX_set_options(sc, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    if (!SSL_CTX_set_min_proto_version(sc, o->min_version ? o->min_version : TLS1_2_VERSION) ||
        !SSL_CTX_set_max_proto_version(sc, o->max_version))
        *rc = wf_tls_fail_ssl("unsupported protocol version");
    if (!*rc && cert) *rc = load_pair(sc, cert, key);
    int verify = c->server ? o->require_client_cert : !o->insecure_skip_verify;
    if (!*rc && verify) *rc = load_trust(sc, o);
    if (!*rc && c->server && o->require_client_cert && o->ca_file) {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(o->ca_file);
        if (names) SSL_CTX_set_client_CA_list(sc, names); /* takes them */
    }
    if (!*rc) {
        SSL_CTX_set_verify(sc,
                           !verify     ? SSL_VERIFY_NONE
                           : c->server ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
                                       : SSL_VERIFY_PEER,
                           NULL);
        if (c->alpn_len && c->server) SSL_CTX_set_alpn_select_cb(sc, select_alpn, c);
        else if (c->alpn_len && SSL_CTX_set_alpn_protos(sc, c->alpn, (unsigned)c->alpn_len) != 0)
            *rc = wf_tls_fail_ssl("cannot set the ALPN list");
    }
    if (*rc) {
        SSL_CTX_free(sc);
        return NULL;
    }
    return sc;
}

static void ctx_destroy(weft_tls_ctx_t *c) {
    SSL_CTX_free(c->ssl_ctx);
    pthread_mutex_destroy(&c->lock);
    for (size_t i = 0; i < sizeof c->paths / sizeof c->paths[0]; i++) wf_free(c->paths[i]);
    wf_free(c);
}

static int ctx_new(weft_tls_ctx_t **out, const weft_tls_opts_t *o, int server) {
    if (!out) return WEFT_EINVAL;
    *out = NULL;
    weft_tls_ctx_t *c = wf_alloc(sizeof *c);
    if (!c) return WEFT_ENOMEM;
    memset(c, 0, sizeof *c);
    int rc = copy_opts(&c->opts, o);
    weft_tls_opts_t *co = &c->opts;
    if (!rc && ((co->min_version && co->min_version < WEFT_TLS_1_2) ||
                (co->max_version && co->max_version < (co->min_version ? co->min_version
                                                                       : WEFT_TLS_1_2)) ||
                !co->cert_file != !co->key_file || (server && !co->cert_file) ||
                co->handshake_timeout < 0 || co->handshake_timeout != co->handshake_timeout))
        rc = WEFT_EINVAL;
    if (!rc) rc = parse_alpn(c, co->alpn);
    if (!rc) rc = dup_path(c, 0, &co->ca_file);
    if (!rc) rc = dup_path(c, 1, &co->cert_file);
    if (!rc) rc = dup_path(c, 2, &co->key_file);
    if (!rc) rc = dup_path(c, 3, &co->ca_path);
    co->alpn = NULL; /* kept in wire form */
    pthread_mutex_init(&c->lock, NULL);
    c->server = server;
    atomic_init(&c->refs, 1);
    if (!rc) c->ssl_ctx = make(c, co->cert_file, co->key_file, &rc);
    if (rc) {
        ctx_destroy(c);
        return rc;
    }
    *out = c;
    return 0;
}

int weft_tls_client_ctx_new(weft_tls_ctx_t **ctx, const weft_tls_opts_t *o) {
    return ctx_new(ctx, o, 0);
}

int weft_tls_server_ctx_new(weft_tls_ctx_t **ctx, const weft_tls_opts_t *o) {
    return ctx_new(ctx, o, 1);
}

int weft_tls_ctx_reload(weft_tls_ctx_t *c, const char *cert_file, const char *key_file) {
    if (!c || !cert_file != !key_file) return WEFT_EINVAL;
    if (!cert_file && !c->opts.cert_file) return WEFT_EINVAL;
    int rc;
    SSL_CTX *sc = make(c, cert_file ? cert_file : c->opts.cert_file,
                       key_file ? key_file : c->opts.key_file, &rc);
    if (!sc) return rc;
    pthread_mutex_lock(&c->lock);
    SSL_CTX *old = c->ssl_ctx;
    c->ssl_ctx = sc;
    pthread_mutex_unlock(&c->lock);
    SSL_CTX_free(old); /* streams made from it hold it still */
    return 0;
}

void wf_tls_ctx_unref(weft_tls_ctx_t *c) {
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1) ctx_destroy(c);
}

void weft_tls_ctx_free(weft_tls_ctx_t *c) {
    if (c) wf_tls_ctx_unref(c);
}

SSL *wf_tls_ctx_ssl(weft_tls_ctx_t *c) {
    ERR_clear_error();
    pthread_mutex_lock(&c->lock);
    SSL *ssl = SSL_new(c->ssl_ctx);
    pthread_mutex_unlock(&c->lock);
    if (!ssl) {
        wf_tls_fail_ssl("cannot make an SSL object");
        return NULL;
    }
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    return ssl;
}

int wf_tls_ctx_is_server(const weft_tls_ctx_t *c) { return c->server; }

int wf_tls_ctx_verifies(const weft_tls_ctx_t *c) {
    return c->server ? c->opts.require_client_cert : !c->opts.insecure_skip_verify;
}

double wf_tls_ctx_handshake_timeout(const weft_tls_ctx_t *c) { return c->opts.handshake_timeout; }
