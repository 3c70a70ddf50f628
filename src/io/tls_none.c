/*
 * weft/tls.h in a weft built without OpenSSL (WEFT_TLS off): every call
 * fails with WEFT_ENOSYS and says why, so that programs can find out at run
 * time.  weft_tls_wrap still takes plain over as its contract says: it
 * closes it.
 */
#include "io/tls.h"

static int none(void) { return wf_tls_fail("weft was built without TLS (OpenSSL 3)"), WEFT_ENOSYS; }

void weft_tls_opts_init(weft_tls_opts_t *o) {
    if (!o) return;
    *o = (weft_tls_opts_t){0};
    o->opts_size = sizeof *o;
}

int weft_tls_client_ctx_new(weft_tls_ctx_t **ctx, const weft_tls_opts_t *o) {
    (void)o;
    if (ctx) *ctx = NULL;
    return none();
}

int weft_tls_server_ctx_new(weft_tls_ctx_t **ctx, const weft_tls_opts_t *o) {
    return weft_tls_client_ctx_new(ctx, o);
}

int weft_tls_ctx_reload(weft_tls_ctx_t *ctx, const char *cert_file, const char *key_file) {
    (void)ctx, (void)cert_file, (void)key_file;
    return none();
}

void weft_tls_ctx_free(weft_tls_ctx_t *ctx) { (void)ctx; }

int weft_tls_wrap(weft_stream_t **out, weft_stream_t *plain, weft_tls_ctx_t *ctx,
                  const char *server_name) {
    (void)ctx, (void)server_name;
    if (out) *out = NULL;
    if (plain) weft_stream_close(plain);
    return none();
}

int weft_tls_connect(weft_stream_t **out, const char *host, int port, weft_tls_ctx_t *ctx) {
    (void)host, (void)port, (void)ctx;
    if (out) *out = NULL;
    return none();
}

const char *weft_tls_alpn_selected(weft_stream_t *s) {
    (void)s;
    return NULL;
}
