/*
 * weft/tls.h — TLS streams on OpenSSL 3.  Included by weft.h (and includes
 * it).
 *
 * Always declared: a weft built without OpenSSL (CMake option WEFT_TLS off,
 * or OpenSSL 3 not found) has every function below, and they fail with
 * WEFT_ENOSYS (weft_tls_last_error says why; weft_tls_alpn_selected gives
 * NULL), so that a program can test for TLS at run time instead of at build
 * time.
 *
 * A TLS stream is a weft_stream_t: weft_stream_receive, _receive_exactly,
 * _receive_until, _send, _send_eof and _close work on it as on any stream,
 * and so do weft_serve handlers (a handler wraps its stream).
 *
 *   - weft_stream_send_eof sends close_notify; the stream can still receive
 *     until the peer's close_notify, which a receive reports as WEFT_EOF.  A
 *     peer that ends the connection without close_notify (a truncation
 *     attack, or a crash) makes the receive return WEFT_ETLS instead, never
 *     WEFT_EOF.  weft_stream_close alone sends nothing (it cannot wait): the
 *     peer then sees the truncation; send_eof first for a clean end.
 *   - The handshake (in weft_tls_wrap / weft_tls_connect) and every receive
 *     and send are checkpoints under the task's cancel scopes, as for a
 *     plain stream.  A cancelled receive loses no bytes: what was decrypted
 *     stays buffered, a record half received stays in OpenSSL for the next
 *     receive.  A cancelled send has sent a prefix of the bytes in whole
 *     records (as a plain stream's cancelled send, a prefix): the stream
 *     stays usable and the next send goes on after that prefix.  A cancelled
 *     (or failed) handshake closes the stream.
 *   - Each TLS stream stays on the worker of the stream it wraps, and every
 *     call on it runs there: no OpenSSL object of a stream is touched by two
 *     threads, and the crypto of a connection costs its own worker.
 *   - Failures of TLS itself (a handshake refused, a bad record, a
 *     certificate that does not verify) are WEFT_ETLS, with the reason in
 *     weft_tls_last_error() for the task that got it: "certificate verify
 *     failed (expired): certificate has expired", "(hostname mismatch)",
 *     "(unknown CA)", or OpenSSL's own reason string.  Errors of the
 *     connection below pass through unchanged (-ECONNRESET, ...).
 *   - Contexts are made from files read at once (blocking the caller for
 *     that long: a few milliseconds); make them before serving, or in
 *     weft_to_thread_run_sync.  They may be shared by every task and worker.
 */
#ifndef WEFT_TLS_H
#define WEFT_TLS_H

#include "../weft.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WEFT_ETLS (-4191)        /* TLS failure; weft_tls_last_error() says which */
#define WEFT_ENOSYS (-ENOSYS)    /* this weft was built without TLS */

/* Protocol versions for min_version / max_version (their wire values). */
#define WEFT_TLS_1_2 0x0303
#define WEFT_TLS_1_3 0x0304

typedef struct weft_tls_ctx_t weft_tls_ctx_t;
/* The streams below are weft_stream_t (weft/io.h), spelled as the struct:
 * weft/io.h included first includes weft.h, and so this header, before its
 * own typedef. */
struct weft_stream_t;

/* Options of a context.  Zeroed (weft_tls_opts_init), a client verifies the
 * server's chain against the system's trust store and its host name, a
 * server asks for no client certificate, both speak TLS 1.2 and 1.3.
 *
 * The layout is versioned as weft_config_t's: later versions add fields at
 * the end, opts_size (set by weft_tls_opts_init) says how much of it the
 * caller's header had, 0 means the first layout (the fields up to
 * insecure_skip_verify). */
typedef struct weft_tls_opts_t {
    const char *ca_file;                  /* NULL = the system's trust store */
    const char *cert_file, *key_file;     /* PEM; a server needs them, a client may have them */
    const char *alpn;                     /* comma-separated, in preference order; NULL = none */
    int require_client_cert;              /* server: 1 = demand and verify a client certificate */
    int insecure_skip_verify;             /* client: 1 turns verification of the server off */
    size_t opts_size;                     /* sizeof(weft_tls_opts_t) of the caller's header */
    const char *ca_path;                  /* a directory of hashed CA certificates (c_rehash),
                                             with or instead of ca_file */
    int min_version, max_version;         /* WEFT_TLS_1_2 / _1_3; 0 = 1.2 / the newest */
    double handshake_timeout;             /* seconds; the handshake fails with WEFT_ETIMEDOUT
                                             after it; 0 = none (the caller's scopes alone) */
} weft_tls_opts_t;

/* Zero *o (every field its default) and set o->opts_size. */
WEFT_EXTERN void weft_tls_opts_init(weft_tls_opts_t *o);

/* A client context: o may be NULL (the defaults).  The ALPN list names the
 * protocols offered; with cert_file and key_file, the client's certificate.
 * WEFT_EINVAL for bad options (a protocol name longer than 255 bytes, a
 * min_version below TLS 1.2, a key without a certificate, an opts_size
 * larger than this library's struct), WEFT_ETLS for files that cannot be
 * loaded (the reason in weft_tls_last_error). */
WEFT_EXTERN int weft_tls_client_ctx_new(weft_tls_ctx_t **ctx, const weft_tls_opts_t *o);
/* A server context: cert_file (the chain, leaf first) and key_file are
 * required; the ALPN list is the server's preference order (a client that
 * offers none of them gets no protocol, and the handshake goes on);
 * require_client_cert verifies the client's chain against ca_file / ca_path
 * (or the system store). */
WEFT_EXTERN int weft_tls_server_ctx_new(weft_tls_ctx_t **ctx, const weft_tls_opts_t *o);
/* Read the certificate chain and key again, for certificate rotation:
 * from cert_file and key_file, or (both NULL) from the files the context was
 * made with.  Handshakes that start after it returns use the new pair;
 * streams made before keep theirs.  On failure (WEFT_ETLS, WEFT_EINVAL:
 * one of the two NULL, a context without a certificate and both NULL) the
 * context keeps its pair.  Safe while other threads use the context. */
WEFT_EXTERN int weft_tls_ctx_reload(weft_tls_ctx_t *ctx, const char *cert_file,
                                    const char *key_file);
/* Free the context; streams made from it keep it alive. */
WEFT_EXTERN void weft_tls_ctx_free(weft_tls_ctx_t *ctx);

/* [fiber][checkpoint] Wrap a connected stream of the libuv kind (TCP, Unix,
 * adopted descriptor) and handshake over it, as client or server as ctx is.
 * It takes plain over, also when it fails: on success closing the TLS stream
 * closes plain (in a weft_serve handler: serve does not close it a second
 * time, and closes the TLS stream if the handler left it open), and plain's
 * own receives and sends return -EBUSY; on failure plain is closed.
 * server_name: for a client, the name sent as SNI and checked against the
 * server's certificate (an IP address literal is checked against the
 * certificate's IP addresses and sent as no SNI); NULL only with
 * insecure_skip_verify; NULL on a server.  WEFT_EINVAL for NULL out, plain
 * or ctx, a NULL name where one is needed, a TLS stream as plain;
 * WEFT_EBADF for a closed plain (-EBUSY: a task is inside a receive or send
 * on it); WEFT_ETLS for a handshake that fails; WEFT_ECANCELED /
 * WEFT_ETIMEDOUT when cancelled or past handshake_timeout.  Outside a task:
 * WEFT_EPERM, and plain is left as it was (nothing there could close it). */
WEFT_EXTERN int weft_tls_wrap(struct weft_stream_t **out, struct weft_stream_t *plain,
                              weft_tls_ctx_t *ctx, const char *server_name);
/* [fiber][checkpoint] weft_tcp_connect(host, port), then weft_tls_wrap with
 * host as the server name. */
WEFT_EXTERN int weft_tls_connect(struct weft_stream_t **out, const char *host, int port,
                                 weft_tls_ctx_t *ctx);
/* The protocol ALPN chose for a TLS stream ("h2", ...): NULL when none was
 * negotiated, or s is no TLS stream.  Valid while s is open. */
WEFT_EXTERN const char *weft_tls_alpn_selected(struct weft_stream_t *s);
/* The text of the calling task's last TLS failure (in a plain thread: that
 * thread's), "" when there was none; never NULL.  Valid until the task's
 * next TLS call. */
WEFT_EXTERN const char *weft_tls_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_TLS_H */
