/*
 * TLS streams, inside: the failure text each task keeps (tls_error.c,
 * built with or without OpenSSL), and what the stream kind (tls.c) needs of
 * a context (tls_ctx.c).
 */
#ifndef WEFT_IO_TLS_H
#define WEFT_IO_TLS_H

#include "weft.h"

/* Record the calling task's (or thread's) last TLS failure, printf-style,
 * cut to 255 bytes; returns WEFT_ETLS. */
int wf_tls_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#ifdef WEFT_IO_TLS_OPENSSL
#include <openssl/ssl.h>

/* A failure of the OpenSSL call just made: `what` and the reasons on
 * OpenSSL's error queue for this thread (which it empties); WEFT_ETLS. */
int wf_tls_fail_ssl(const char *what);
/* A new SSL object of the context's current SSL_CTX (a reload swaps it),
 * and a reference to the context for it; NULL with the reason recorded. */
SSL *wf_tls_ctx_ssl(weft_tls_ctx_t *ctx);
int wf_tls_ctx_is_server(const weft_tls_ctx_t *ctx);
int wf_tls_ctx_verifies(const weft_tls_ctx_t *ctx);
double wf_tls_ctx_handshake_timeout(const weft_tls_ctx_t *ctx);
/* Drop the reference wf_tls_ctx_ssl took. */
void wf_tls_ctx_unref(weft_tls_ctx_t *ctx);
#endif

#endif
