/* TLS streams (weft/tls.h) on OpenSSL 3.
 *  - against peers weft did not write: `openssl s_server` (weft the client)
 *    and `openssl s_client` (weft the server), over TLS 1.3 and 1.2: the
 *    handshake, 1 MiB of pattern bytes each way, ALPN, close_notify both
 *    ways, a peer that dies without close_notify (WEFT_ETLS, not EOF), a
 *    TLS 1.3 key update asked of weft's receive;
 *  - weft to weft through weft_serve (the handler wraps its stream: serve
 *    neither closes it twice nor leaks one the handler left open), half
 *    close (send_eof, then receive on), ALPN, client certificates;
 *  - verification: wrong host name, an unknown CA, an expired certificate,
 *    a client without the certificate the server requires, each with its
 *    reason in weft_tls_last_error; insecure_skip_verify;
 *  - cancellation: of a handshake (the stream is closed, the peer sees it),
 *    handshake_timeout, receives under tiny random deadlines losing no byte,
 *    a send cancelled while the peer does not read (a prefix of whole
 *    records, then the stream goes on);
 *  - rotation (weft_tls_ctx_reload), close under a waiting receive,
 *    closing the wrapped stream, misuse.
 * The certificates are made at start with the openssl command into a
 * temporary directory (removed at the end).
 */
/* WEFT_TEST_TIMEOUT 600 */
#define _GNU_SOURCE
#include "io_helpers.h"

#include <signal.h>
#include <unistd.h>

#include "sched/fault.h"
#ifdef WT_ASAN
#include <sanitizer/lsan_interface.h>
#endif

#define MIB (1024 * 1024)

static char dir[64];      /* the certificates */

static const char *path(const char *name)
{
    static _Thread_local char p[8][128];
    static _Thread_local int i;
    char *s = p[i++ % 8];
    snprintf(s, sizeof p[0], "%s/%s", dir, name);
    return s;
}

/* A CA; a server certificate for localhost and 127.0.0.1 from it, an expired
 * one, a client certificate; a self-signed one nobody trusts.  ECDSA P-256. */
static int make_certs(void)
{
    char tmpl[] = "/tmp/weft-tls-XXXXXX";
    if (!mkdtemp(tmpl))
        return -1;
    snprintf(dir, sizeof dir, "%s", tmpl);
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "set -e; cd %s; K='-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes';"
             "openssl req -x509 $K -keyout ca.key -out ca.pem -days 3650 -subj /CN=weft-test-CA"
             " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign;"
             "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > server.ext;"
             "printf 'extendedKeyUsage=clientAuth\\n' > client.ext;"
             "openssl req $K -keyout server.key -out server.csr -subj /CN=localhost;"
             "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
             " -out server.pem -days 365 -extfile server.ext;"
             "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
             " -out expired.pem -days -1 -extfile server.ext;"
             "openssl req $K -keyout client.key -out client.csr -subj /CN=weft-client;"
             "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
             " -out client.pem -days 365 -extfile client.ext;"
             "openssl req -x509 $K -keyout self.key -out self.pem -days 365 -subj /CN=localhost"
             " -addext subjectAltName=DNS:localhost,IP:127.0.0.1",
             dir);
    char quiet[4200];
    snprintf(quiet, sizeof quiet, "( %s ) >/dev/null 2>&1", cmd);
    return system(quiet);
}

static void remove_certs(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (dir[0] && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

/* ------------------------------------------------------------ helpers */

static weft_tls_ctx_t *client_ctx(const char *alpn, int with_cert)
{
    weft_tls_opts_t o;
    weft_tls_opts_init(&o);
    o.ca_file = path("ca.pem");
    o.alpn = alpn;
    if (with_cert) {
        o.cert_file = path("client.pem");
        o.key_file = path("client.key");
    }
    weft_tls_ctx_t *c = NULL;
    int rc = weft_tls_client_ctx_new(&c, &o);
    if (rc)
        wt_failf(__FILE__, __LINE__, "client ctx: %d %s", rc, weft_tls_last_error());
    return c;
}

static weft_tls_ctx_t *server_ctx(const char *cert, const char *key, const char *alpn,
                                  int require_client_cert)
{
    weft_tls_opts_t o;
    weft_tls_opts_init(&o);
    o.cert_file = path(cert);
    o.key_file = path(key);
    o.alpn = alpn;
    o.require_client_cert = require_client_cert;
    if (require_client_cert)
        o.ca_file = path("ca.pem");
    weft_tls_ctx_t *c = NULL;
    int rc = weft_tls_server_ctx_new(&c, &o);
    if (rc)
        wt_failf(__FILE__, __LINE__, "server ctx: %d %s", rc, weft_tls_last_error());
    return c;
}

/* A port no one listens on now (for the openssl peers). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

/* Send len bytes of pattern seed in pieces of up to 100 KiB. */
static int send_pattern(weft_stream_t *s, uint64_t seed, size_t len)
{
    enum { PIECE = 100 * 1024 };
    char *buf = malloc(PIECE);
    int rc = 0;
    for (size_t off = 0; rc == 0 && off < len; off += PIECE) {
        size_t n = len - off < PIECE ? len - off : PIECE;
        wt_pat_fill(buf, n, seed, off);
        rc = weft_stream_send(s, buf, n);
    }
    free(buf);
    return rc;
}

/* Receive len bytes and check them against pattern seed: 0 or the error. */
static int expect_pattern(weft_stream_t *s, uint64_t seed, size_t len)
{
    char *buf = malloc(len);
    int rc = weft_stream_receive_exactly(s, buf, len);
    if (rc == (int)len) {
        long bad = wt_pat_check(buf, len, seed, 0);
        if (bad >= 0)
            wt_failf(__FILE__, __LINE__, "byte %ld of %zu differs", bad, len);
        rc = 0;
    }
    free(buf);
    return rc;
}

typedef struct sender {
    weft_stream_t *s;
    uint64_t seed;
    size_t len;
    int rc;
} sender_t;

static int send_task(void *p)
{
    sender_t *x = p;
    x->rc = send_pattern(x->s, x->seed, x->len);
    return 0;
}

static int expect_task(void *p)
{
    sender_t *x = p;
    x->rc = expect_pattern(x->s, x->seed, x->len);
    return 0;
}

#define EXPECT_ERROR_TEXT(part)                                                \
    do {                                                                       \
        const char *e_ = weft_tls_last_error();                                \
        if (!strstr(e_, (part)))                                               \
            wt_failf(__FILE__, __LINE__, "last error \"%s\" lacks \"%s\"", e_, (part)); \
    } while (0)

/* ------------------------------------------------------------ against openssl s_server */

typedef struct peer_case {
    const char *version_flag;   /* -tls1_3 / -tls1_2 */
} peer_case_t;

static const peer_case_t tls13 = {"-tls1_3"}, tls12 = {"-tls1_2"};

/* Connect to an openssl peer that may not listen yet. */
static int connect_retry(weft_stream_t **s, int port, weft_tls_ctx_t *ctx)
{
    int rc;
    for (int i = 0; i < 1000; i++) { /* up to 20 s: openssl starts slowly on a loaded machine */
        rc = weft_tls_connect(s, "127.0.0.1", port, ctx);
        if (rc != -ECONNREFUSED)
            return rc;
        weft_sleep(0.02);
    }
    return rc;
}

static int client_vs_s_server(void *arg)
{
    const peer_case_t *pc = arg;
    int port = free_port();
    char accept[32];
    snprintf(accept, sizeof accept, "127.0.0.1:%d", port);
    const char *argv[] = {"openssl", "s_server", "-quiet", "-naccept", "1", "-accept", accept,
                          "-cert", path("server.pem"), "-key", path("server.key"),
                          pc->version_flag, "-alpn", "http/1.1", NULL};
    weft_process_opts_t po = {.stderr_mode = WEFT_STDIO_NULL};
    weft_process_t *p;
    EXPECT_RC(weft_process_open(&p, argv, &po), 0);
    weft_tls_ctx_t *ctx = client_ctx("h2,http/1.1", 0);
    weft_stream_t *s = NULL;
    int rc = connect_retry(&s, port, ctx);
    EXPECT_RC(rc, 0);
    if (rc == 0) {
        EXPECT_STR(weft_tls_alpn_selected(s), "http/1.1");
        /* 1 MiB each way at once: to s_server (out on its stdout), and from
         * it (its stdin, sent to us). */
        sender_t up = {s, 1, MIB, 0}, seen = {weft_process_stdout(p), 1, MIB, 0};
        sender_t down = {weft_process_stdin(p), 2, MIB, 0}, got = {s, 2, MIB, 0};
        weft_group_t g;
        weft_group_open(&g);
        weft_group_spawn(&g, send_task, &up);
        weft_group_spawn(&g, expect_task, &seen);
        weft_group_spawn(&g, send_task, &down);
        expect_task(&got);
        EXPECT_RC(weft_group_close(&g, 0), 0);
        EXPECT_RC(up.rc, 0);
        EXPECT_RC(seen.rc, 0);
        EXPECT_RC(down.rc, 0);
        EXPECT_RC(got.rc, 0);
        /* The peer dies without close_notify: a truncation, not an EOF. */
        weft_process_kill(p);
        char c;
        EXPECT_RC(weft_stream_receive(s, &c, 1), WEFT_ETLS);
        EXPECT_ERROR_TEXT("close_notify");
        EXPECT_RC(weft_stream_receive(s, &c, 1), WEFT_ETLS); /* and stays so */
        weft_stream_close(s);
    }
    weft_process_kill(p);
    weft_process_wait(p);
    weft_process_free(p);
    weft_tls_ctx_free(ctx);
    return 0;
}

/* s_server's "K" command: a TLS 1.3 KeyUpdate that asks for one back.  The
 * client's receive answers it (OpenSSL writes while it reads), and both
 * directions go on under the new keys. */
static int key_update_from_s_server(void *arg)
{
    (void)arg;
    int port = free_port();
    char accept[32];
    snprintf(accept, sizeof accept, "127.0.0.1:%d", port);
    const char *argv[] = {"openssl", "s_server", "-naccept", "1", "-accept", accept, "-cert",
                          path("server.pem"), "-key", path("server.key"), "-tls1_3", NULL};
    weft_process_opts_t po = {.stderr_mode = WEFT_STDIO_NULL};
    weft_process_t *p;
    EXPECT_RC(weft_process_open(&p, argv, &po), 0);
    weft_tls_ctx_t *ctx = client_ctx(NULL, 0);
    weft_stream_t *s = NULL;
    int rc = connect_retry(&s, port, ctx);
    EXPECT_RC(rc, 0);
    if (rc == 0) {
        char buf[4096];
        EXPECT_RC(weft_stream_send(weft_process_stdin(p), "K\n", 2), 0);
        weft_sleep(0.2); /* a read of s_server's holding both lines takes them as the command */
        EXPECT_RC(weft_stream_send(weft_process_stdin(p), "abc\n", 4), 0);
        EXPECT_RC(weft_stream_receive_exactly(s, buf, 4), 4);
        EXPECT(memcmp(buf, "abc\n", 4) == 0);
        EXPECT_RC(weft_stream_send(s, "xyz-after-update\n", 17), 0);
        /* s_server prints what it decrypted, among its own lines. */
        size_t used = 0;
        weft_scope_t sc;
        weft_fail_after(&sc, 20);
        while (!memmem(buf, used, "xyz-after-update", 16) && used < sizeof buf - 1) {
            int n = weft_stream_receive(weft_process_stdout(p), buf + used, sizeof buf - 1 - used);
            if (n <= 0)
                break;
            used += (size_t)n;
        }
        EXPECT_RC(weft_scope_exit(&sc, 0), 0);
        EXPECT(memmem(buf, used, "xyz-after-update", 16) != NULL);
        /* What s_server prints after the key update's SSL_do_handshake. */
        EXPECT(memmem(buf, used, "SSL_do_handshake -> 1", 21) != NULL);
        weft_stream_close(s);
    }
    weft_process_kill(p);
    weft_process_wait(p);
    weft_process_free(p);
    weft_tls_ctx_free(ctx);
    return 0;
}

/* ------------------------------------------------------------ against openssl s_client */

static int accept_tls(weft_listener_t *l, weft_tls_ctx_t *ctx, weft_stream_t **out)
{
    weft_stream_t *plain;
    int rc = weft_listener_accept(l, &plain);
    return rc ? rc : weft_tls_wrap(out, plain, ctx, NULL);
}

static int server_vs_s_client(void *arg)
{
    const peer_case_t *pc = arg;
    weft_listener_t *l;
    EXPECT_RC(weft_tcp_listen(&l, "127.0.0.1", 0, NULL), 0);
    char connect[32];
    snprintf(connect, sizeof connect, "127.0.0.1:%d", weft_listener_port(l));
    const char *argv[] = {"openssl", "s_client", "-quiet", "-nocommands", "-connect", connect,
                          "-CAfile", path("ca.pem"), "-verify_return_error", "-servername",
                          "localhost", "-alpn", "h2", pc->version_flag, NULL};
    weft_process_opts_t po = {.stderr_mode = WEFT_STDIO_NULL};
    weft_process_t *p;
    EXPECT_RC(weft_process_open(&p, argv, &po), 0);
    weft_tls_ctx_t *ctx = server_ctx("server.pem", "server.key", "http/1.1,h2", 0);
    weft_stream_t *s = NULL;
    int rc = accept_tls(l, ctx, &s);
    EXPECT_RC(rc, 0);
    if (rc == 0) {
        EXPECT_STR(weft_tls_alpn_selected(s), "h2");
        sender_t up = {weft_process_stdin(p), 3, MIB, 0}, got = {s, 3, MIB, 0};
        sender_t down = {s, 4, MIB, 0}, seen = {weft_process_stdout(p), 4, MIB, 0};
        weft_group_t g;
        weft_group_open(&g);
        weft_group_spawn(&g, send_task, &up);
        weft_group_spawn(&g, send_task, &down);
        weft_group_spawn(&g, expect_task, &seen);
        expect_task(&got);
        EXPECT_RC(weft_group_close(&g, 0), 0);
        EXPECT_RC(up.rc, 0);
        EXPECT_RC(got.rc, 0);
        EXPECT_RC(down.rc, 0);
        EXPECT_RC(seen.rc, 0);
        /* close_notify: s_client sees the end and exits. */
        EXPECT_RC(weft_stream_send_eof(s), 0);
        char c;
        EXPECT_RC(weft_stream_receive(weft_process_stdout(p), &c, 1), WEFT_EOF);
        weft_stream_close(s);
    }
    weft_process_kill(p);
    weft_process_wait(p);
    weft_process_free(p);
    weft_listener_close(l);
    weft_tls_ctx_free(ctx);
    return 0;
}

/* s_client (not quiet) sends close_notify when its stdin ends: the weft
 * server reads the bytes, then WEFT_EOF; it can still send after it. */
static int close_notify_from_s_client(void *arg)
{
    (void)arg;
    weft_listener_t *l;
    EXPECT_RC(weft_tcp_listen(&l, "127.0.0.1", 0, NULL), 0);
    char connect[32];
    snprintf(connect, sizeof connect, "127.0.0.1:%d", weft_listener_port(l));
    const char *argv[] = {"openssl", "s_client", "-nocommands", "-connect", connect, "-CAfile",
                          path("ca.pem"), "-servername", "localhost", NULL};
    weft_process_opts_t po = {.stdout_mode = WEFT_STDIO_NULL, .stderr_mode = WEFT_STDIO_NULL};
    weft_process_t *p;
    EXPECT_RC(weft_process_open(&p, argv, &po), 0);
    weft_tls_ctx_t *ctx = server_ctx("server.pem", "server.key", NULL, 0);
    weft_stream_t *s = NULL;
    int rc = accept_tls(l, ctx, &s);
    EXPECT_RC(rc, 0);
    if (rc == 0) {
        EXPECT(weft_tls_alpn_selected(s) == NULL);
        EXPECT_RC(weft_stream_send(weft_process_stdin(p), "hello\n", 6), 0);
        EXPECT_RC(weft_stream_close(weft_process_stdin(p)), 0);
        char buf[16];
        EXPECT_RC(weft_stream_receive_until(s, buf, sizeof buf, "\n", 1), 5);
        EXPECT_RC(weft_stream_receive(s, buf, sizeof buf), WEFT_EOF);
        EXPECT_RC(weft_stream_receive(s, buf, sizeof buf), WEFT_EOF);
        weft_stream_close(s);
    }
    weft_process_wait(p);
    weft_process_free(p);
    weft_listener_close(l);
    weft_tls_ctx_free(ctx);
    return 0;
}

/* ------------------------------------------------------------ weft to weft */

typedef struct tls_server {
    weft_tls_ctx_t *ctx;
    int leave_open;            /* the handler returns with its TLS stream open */
    atomic_int handshakes, failures, served;
    char error[256];           /* the handler's last_error after a failed wrap */
} tls_server_t;

/* Wrap, echo until the client's close_notify, then one more message after
 * it (the half-close leaves this direction open) and close_notify. */
static int tls_echo_handler(weft_stream_t *plain, void *arg)
{
    tls_server_t *sv = arg;
    weft_stream_t *s;
    int rc = weft_tls_wrap(&s, plain, sv->ctx, NULL);
    if (rc) {
        snprintf(sv->error, sizeof sv->error, "%s", weft_tls_last_error());
        atomic_fetch_add(&sv->failures, 1);
        return rc;
    }
    atomic_fetch_add(&sv->handshakes, 1);
    char buf[16384];
    int n;
    while ((n = weft_stream_receive(s, buf, sizeof buf)) > 0)
        if ((rc = weft_stream_send(s, buf, (size_t)n)) != 0)
            break;
    if (n == WEFT_EOF && rc == 0) {
        rc = weft_stream_send(s, "after", 5);
        if (rc == 0)
            rc = weft_stream_send_eof(s);
        atomic_fetch_add(&sv->served, 1);
    }
    if (!sv->leave_open) {
        weft_stream_close(s);
        /* Work after the close: the connection is gone (its memory too)
         * when serve gets it back. */
        weft_sleep(0.005);
    }
    return rc;
}

static int weft_to_weft(void *arg)
{
    tls_server_t sv = {.ctx = server_ctx("server.pem", "server.key", "h2,http/1.1", 1),
                       .leave_open = arg != NULL};
    wt_server_t srv;
    if (WT_SERVER_START(&srv, "127.0.0.1", tls_echo_handler, &sv) != 0)
        return 0;
    weft_tls_ctx_t *ctx = client_ctx("http/1.1,h2", 1);
    for (int round = 0; round < 3; round++) {
        weft_stream_t *s;
        /* By name: localhost is the certificate's DNS name. */
        int rc = weft_tls_connect(&s, "localhost", srv.port, ctx);
        EXPECT_RC(rc, 0);
        if (rc)
            break;
        EXPECT_STR(weft_tls_alpn_selected(s), "h2");
        sender_t up = {s, 5 + (uint64_t)round, MIB, 0}, back = {s, 5 + (uint64_t)round, MIB, 0};
        weft_group_t g;
        weft_group_open(&g);
        weft_group_spawn(&g, send_task, &up);
        expect_task(&back);
        EXPECT_RC(weft_group_close(&g, 0), 0);
        EXPECT_RC(up.rc, 0);
        EXPECT_RC(back.rc, 0);
        /* Half close: close_notify out, and the server's answer still in. */
        EXPECT_RC(weft_stream_send_eof(s), 0);
        EXPECT_RC(weft_stream_send(s, "x", 1), WEFT_EPIPE);
        char buf[8];
        EXPECT_RC(weft_stream_receive_exactly(s, buf, 5), 5);
        EXPECT(memcmp(buf, "after", 5) == 0);
        EXPECT_RC(weft_stream_receive(s, buf, sizeof buf), WEFT_EOF);
        weft_stream_close(s);
    }
    WAIT_FOR(atomic_load(&sv.served) == 3);
    EXPECT_RC(atomic_load(&sv.handshakes), 3);
    WT_SERVER_STOP(&srv);
    weft_tls_ctx_free(ctx);
    weft_tls_ctx_free(sv.ctx);
    return 0;
}

/* ------------------------------------------------------------ verification */

typedef struct verify_case {
    const char *cert, *key;   /* the server's */
    const char *host;         /* the name the client checks */
    int client_cert;          /* the client has one */
    int require;              /* the server requires one */
    int insecure;             /* the client does not verify */
    const char *client_error; /* NULL: the handshake passes */
    const char *server_error;
} verify_case_t;

static const verify_case_t v_good = {"server.pem", "server.key", "localhost", 0, 0, 0, NULL, NULL};
static const verify_case_t v_by_ip = {"server.pem", "server.key", "127.0.0.1", 0, 0, 0, NULL, NULL};
static const verify_case_t v_wrong_host = {"server.pem", "server.key", "wrong.example", 0, 0, 0,
                                           "hostname mismatch", NULL};
static const verify_case_t v_unknown_ca = {"self.pem", "self.key", "localhost", 0, 0, 0,
                                           "unknown CA", NULL};
static const verify_case_t v_insecure = {"self.pem", "self.key", "localhost", 0, 0, 1, NULL, NULL};
static const verify_case_t v_expired = {"expired.pem", "server.key", "localhost", 0, 0, 0,
                                        "expired", NULL};
static const verify_case_t v_no_client_cert = {"server.pem", "server.key", "localhost", 0, 1, 0,
                                               "certificate required",
                                               "peer did not return a certificate"};
static const verify_case_t v_client_cert = {"server.pem", "server.key", "localhost", 1, 1, 0,
                                            NULL, NULL};

static int verification(void *arg)
{
    const verify_case_t *vc = arg;
    tls_server_t sv = {.ctx = server_ctx(vc->cert, vc->key, NULL, vc->require)};
    wt_server_t srv;
    if (WT_SERVER_START(&srv, "127.0.0.1", tls_echo_handler, &sv) != 0)
        return 0;
    weft_tls_opts_t o;
    weft_tls_opts_init(&o);
    o.ca_file = path("ca.pem");
    o.insecure_skip_verify = vc->insecure;
    if (vc->client_cert) {
        o.cert_file = path("client.pem");
        o.key_file = path("client.key");
    }
    weft_tls_ctx_t *ctx;
    EXPECT_RC(weft_tls_client_ctx_new(&ctx, &o), 0);
    weft_stream_t *plain, *s;
    EXPECT_RC(weft_tcp_connect(&plain, "127.0.0.1", srv.port), 0);
    int rc = weft_tls_wrap(&s, plain, ctx, vc->host);
    if (rc == 0) {
        /* In TLS 1.3 the server's verdict on the client's certificate comes
         * after the client's handshake is done: the first receive has it. */
        rc = weft_stream_send(s, "ping", 4);
        char buf[4];
        if (rc == 0)
            rc = weft_stream_receive_exactly(s, buf, 4);
        if (rc == 4)
            rc = weft_stream_send_eof(s);
        if (rc == 0)
            EXPECT_RC(weft_stream_receive_exactly(s, buf, 4), 4); /* "afte" */
        weft_stream_close(s);
    }
    if (vc->client_error) {
        EXPECT_RC(rc, WEFT_ETLS);
        EXPECT_ERROR_TEXT(vc->client_error);
    } else {
        EXPECT_RC(rc, 0);
    }
    if (vc->server_error) {
        WAIT_FOR(atomic_load(&sv.failures) == 1);
        if (!strstr(sv.error, vc->server_error))
            wt_failf(__FILE__, __LINE__, "server error \"%s\" lacks \"%s\"", sv.error,
                     vc->server_error);
    }
    WT_SERVER_STOP(&srv);
    weft_tls_ctx_free(ctx);
    weft_tls_ctx_free(sv.ctx);
    return 0;
}

/* The server's certificate changes under it: new handshakes get the new one. */
static int reload(void *arg)
{
    (void)arg;
    tls_server_t sv = {.ctx = server_ctx("server.pem", "server.key", NULL, 0)};
    wt_server_t srv;
    if (WT_SERVER_START(&srv, "127.0.0.1", tls_echo_handler, &sv) != 0)
        return 0;
    weft_tls_ctx_t *ctx = client_ctx(NULL, 0);
    weft_stream_t *s;
    EXPECT_RC(weft_tls_connect(&s, "localhost", srv.port, ctx), 0);
    /* Rotated to a certificate the client does not trust; the open stream
     * goes on with the old one. */
    EXPECT_RC(weft_tls_ctx_reload(sv.ctx, path("self.pem"), path("self.key")), 0);
    weft_stream_t *s2;
    EXPECT_RC(weft_tls_connect(&s2, "localhost", srv.port, ctx), WEFT_ETLS);
    EXPECT_ERROR_TEXT("unknown CA");
    EXPECT_RC(weft_stream_send(s, "ab", 2), 0);
    char buf[2];
    EXPECT_RC(weft_stream_receive_exactly(s, buf, 2), 2);
    weft_stream_close(s);
    /* A pair that cannot be loaded changes nothing. */
    EXPECT_RC(weft_tls_ctx_reload(sv.ctx, path("nonexistent.pem"), path("self.key")), WEFT_ETLS);
    EXPECT_ERROR_TEXT("certificate");
    EXPECT_RC(weft_tls_ctx_reload(sv.ctx, path("server.pem"), NULL), WEFT_EINVAL);
    EXPECT_RC(weft_tls_connect(&s2, "localhost", srv.port, ctx), WEFT_ETLS);
    /* Back to the trusted one. */
    EXPECT_RC(weft_tls_ctx_reload(sv.ctx, path("server.pem"), path("server.key")), 0);
    EXPECT_RC(weft_tls_connect(&s2, "localhost", srv.port, ctx), 0);
    weft_stream_close(s2);
    WT_SERVER_STOP(&srv);
    weft_tls_ctx_free(ctx);
    weft_tls_ctx_free(sv.ctx);
    return 0;
}

/* ------------------------------------------------------------ cancellation */

/* A TCP peer that accepts and says nothing: the handshake waits. */
static int silent_handler(weft_stream_t *s, void *arg)
{
    atomic_int *eofs = arg;
    char c;
    if (weft_stream_receive(s, &c, 1) > 0 && wt_drain(s) >= 0)
        atomic_fetch_add(eofs, 1); /* the client's hello, then its close */
    return 0;
}

static int cancel_handshake(void *arg)
{
    (void)arg;
    atomic_int eofs = 0;
    wt_server_t srv;
    if (WT_SERVER_START(&srv, "127.0.0.1", silent_handler, &eofs) != 0)
        return 0;
    weft_tls_ctx_t *ctx = client_ctx(NULL, 0);
    weft_stream_t *s = (weft_stream_t *)&eofs;
    weft_scope_t sc;
    weft_move_on_after(&sc, 0.1);
    int rc = weft_tls_connect(&s, "localhost", srv.port, ctx);
    EXPECT_RC(weft_scope_exit(&sc, rc), 0);
    EXPECT_RC(rc, WEFT_ECANCELED);
    EXPECT(s == NULL);
    WAIT_FOR(atomic_load(&eofs) == 1); /* closed: the peer saw the end */
    /* handshake_timeout */
    weft_tls_opts_t o;
    weft_tls_opts_init(&o);
    o.ca_file = path("ca.pem");
    o.handshake_timeout = 0.1;
    weft_tls_ctx_t *timed;
    EXPECT_RC(weft_tls_client_ctx_new(&timed, &o), 0);
    double t0 = weft_now();
    EXPECT_RC(weft_tls_connect(&s, "localhost", srv.port, timed), WEFT_ETIMEDOUT);
    EXPECT_NEAR(weft_now() - t0, 0.1, WT_SLACK);
    WAIT_FOR(atomic_load(&eofs) == 2);
    WT_SERVER_STOP(&srv);
    weft_tls_ctx_free(ctx);
    weft_tls_ctx_free(timed);
    return 0;
}

/* A connected pair of TLS streams over loopback. */
typedef struct tls_pair {
    weft_stream_t *client, *server;
    weft_stream_t *client_plain; /* the TCP stream the client wraps */
    weft_tls_ctx_t *cctx, *sctx;
    weft_listener_t *l;
} tls_pair_t;

static int pair_server(void *p)
{
    tls_pair_t *tp = p;
    EXPECT_RC(accept_tls(tp->l, tp->sctx, &tp->server), 0);
    return 0;
}

static int tls_pair_open(tls_pair_t *tp)
{
    memset(tp, 0, sizeof *tp);
    tp->cctx = client_ctx(NULL, 0);
    tp->sctx = server_ctx("server.pem", "server.key", NULL, 0);
    EXPECT_RC(weft_tcp_listen(&tp->l, "127.0.0.1", 0, NULL), 0);
    weft_group_t g;
    weft_group_open(&g);
    weft_group_spawn(&g, pair_server, tp);
    int rc = weft_tcp_connect(&tp->client_plain, "127.0.0.1", weft_listener_port(tp->l));
    EXPECT_RC(rc, 0);
    if (rc == 0)
        EXPECT_RC(rc = weft_tls_wrap(&tp->client, tp->client_plain, tp->cctx, "127.0.0.1"), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    return rc || !tp->server ? -1 : 0;
}

static void tls_pair_close(tls_pair_t *tp)
{
    if (tp->client)
        weft_stream_close(tp->client);
    if (tp->server)
        weft_stream_close(tp->server);
    weft_listener_close(tp->l);
    weft_tls_ctx_free(tp->cctx);
    weft_tls_ctx_free(tp->sctx);
}

typedef struct trickle {
    weft_stream_t *s;
    size_t len;
} trickle_t;

/* Pattern 9 in pieces of random sizes, with pauses. */
static int trickle_task(void *p)
{
    trickle_t *t = p;
    uint64_t rng = 42;
    char buf[20000];
    for (size_t off = 0; off < t->len;) {
        size_t n = 1 + wt_rand(&rng) % sizeof buf;
        if (n > t->len - off)
            n = t->len - off;
        wt_pat_fill(buf, n, 9, off);
        EXPECT_RC(weft_stream_send(t->s, buf, n), 0);
        off += n;
        if (wt_rand(&rng) % 8 == 0)
            weft_sleep(0.0002);
    }
    return 0;
}

/* Receives under tiny random deadlines: every byte arrives once, in order. */
static int cancel_receive(void *arg)
{
    (void)arg;
    tls_pair_t tp;
    if (tls_pair_open(&tp) != 0) {
        tls_pair_close(&tp);
        return 0;
    }
    trickle_t tr = {tp.server, WT_TSAN_PICK(4 * MIB, MIB / 2)};
    weft_group_t g;
    weft_group_open(&g);
    weft_group_spawn(&g, trickle_task, &tr);
    uint64_t rng = 7;
    size_t got = 0;
    int cancelled = 0;
    char buf[30000];
    while (got < tr.len) {
        weft_scope_t sc;
        weft_scope_enter(&sc, weft_now() + wt_tiny_deadline(&rng, 0.3, 0.2), 0);
        size_t want = 1 + wt_rand(&rng) % sizeof buf;
        int n = wt_rand(&rng) % 2 && want <= tr.len - got
                    ? weft_stream_receive_exactly(tp.client, buf, want)
                    : weft_stream_receive(tp.client, buf, want);
        n = weft_scope_exit(&sc, n);
        if (n == 0) {
            cancelled++;
            continue;
        }
        EXPECT(n > 0);
        if (n <= 0)
            break;
        long bad = wt_pat_check(buf, (size_t)n, 9, got);
        if (bad >= 0) {
            wt_failf(__FILE__, __LINE__, "byte %zu differs", got + (size_t)bad);
            break;
        }
        got += (size_t)n;
    }
    EXPECT(cancelled > 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    tls_pair_close(&tp);
    return 0;
}

/* A send cancelled while the peer does not read: the peer then gets a
 * prefix of whole 64 KiB steps, and after it what the next send sent. */
typedef struct drain_all {
    weft_stream_t *s;
    char *buf;
    size_t cap, got;
    int rc;
} drain_all_t;

static int drain_all_task(void *p)
{
    drain_all_t *d = p;
    int n;
    while (d->got < d->cap && (n = weft_stream_receive(d->s, d->buf + d->got, d->cap - d->got)) > 0)
        d->got += (size_t)n;
    char c;
    d->rc = weft_stream_receive(d->s, &c, 1);
    return 0;
}

static int cancel_send(void *arg)
{
    (void)arg;
    tls_pair_t tp;
    if (tls_pair_open(&tp) != 0) {
        tls_pair_close(&tp);
        return 0;
    }
    size_t len = 32 * MIB;
    char *big = malloc(len);
    wt_pat_fill(big, len, 11, 0);
    weft_scope_t sc;
    weft_move_on_after(&sc, 0.2);
    int rc = weft_stream_send(tp.client, big, len);
    EXPECT_RC(weft_scope_exit(&sc, rc), 0);
    EXPECT_RC(rc, WEFT_ECANCELED);
    /* Now the peer reads, up to the close_notify. */
    drain_all_t d = {tp.server, malloc(len + 11), len + 11, 0, 0};
    weft_group_t g;
    weft_group_open(&g);
    weft_group_spawn(&g, drain_all_task, &d);
    EXPECT_RC(weft_stream_send(tp.client, "--the end--", 11), 0);
    EXPECT_RC(weft_stream_send_eof(tp.client), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(d.rc, WEFT_EOF);
    EXPECT(d.got >= 11 && d.got < len);
    size_t prefix = d.got - 11;
    EXPECT(prefix > 0 && prefix % (64 * 1024) == 0);
    EXPECT(wt_pat_check(d.buf, prefix, 11, 0) == -1);
    EXPECT(memcmp(d.buf + prefix, "--the end--", 11) == 0);
    free(d.buf);
    free(big);
    tls_pair_close(&tp);
    return 0;
}

typedef struct waiter {
    weft_stream_t *s;
    int rc;
    atomic_int in;
} waiter_t;

static int receive_waiter(void *p)
{
    waiter_t *w = p;
    char c;
    atomic_store(&w->in, 1);
    w->rc = weft_stream_receive(w->s, &c, 1);
    return 0;
}

/* The wrapped stream is taken over; closing a TLS stream wakes a waiting
 * receive with WEFT_EBADF; a TLS stream is no stream to wrap. */
static int close_under_receive(void *arg)
{
    (void)arg;
    weft_listener_t *l;
    EXPECT_RC(weft_tcp_listen(&l, "127.0.0.1", 0, NULL), 0);
    tls_pair_t tp = {.cctx = client_ctx(NULL, 0),
                     .sctx = server_ctx("server.pem", "server.key", NULL, 0), .l = l};
    weft_group_t g;
    weft_group_open(&g);
    weft_group_spawn(&g, pair_server, &tp);
    weft_stream_t *plain;
    EXPECT_RC(weft_tcp_connect(&plain, "127.0.0.1", weft_listener_port(l)), 0);
    EXPECT_RC(weft_tls_wrap(&tp.client, plain, tp.cctx, "127.0.0.1"), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    char c;
    EXPECT_RC(weft_stream_receive(plain, &c, 1), WEFT_EBUSY);
    EXPECT_RC(weft_stream_send(plain, "x", 1), WEFT_EBUSY);
    EXPECT_RC(weft_stream_receive_exactly(plain, &c, 1), WEFT_EBUSY);
    waiter_t w = {tp.server, 0, 0};
    weft_group_open(&g);
    weft_group_spawn(&g, receive_waiter, &w);
    wt_wait_flag(&w.in, 1, 5);
    weft_sleep(0.02);
    EXPECT_RC(weft_stream_close(tp.server), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(w.rc, WEFT_EBADF);
    /* Wrapping the TLS stream fails and, as always, closes it. */
    weft_stream_t *again = (weft_stream_t *)&w;
    EXPECT_RC(weft_tls_wrap(&again, tp.client, tp.cctx, "127.0.0.1"), WEFT_EINVAL);
    EXPECT(again == NULL);
    tp.client = tp.server = NULL;
    tls_pair_close(&tp);
    return 0;
}

/* Closing the stream a TLS stream wraps closes both. */
static int close_plain_closes_tls(void *arg)
{
    (void)arg;
    tls_pair_t tp;
    if (tls_pair_open(&tp) != 0) {
        tls_pair_close(&tp);
        return 0;
    }
    waiter_t w = {tp.client, 0, 0};
    weft_group_t g;
    weft_group_open(&g);
    weft_group_spawn(&g, receive_waiter, &w);
    wt_wait_flag(&w.in, 1, 5);
    weft_sleep(0.02);
    EXPECT_RC(weft_stream_close(tp.client_plain), 0); /* the TCP stream, not the TLS one */
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(w.rc, WEFT_EBADF);
    /* The server sees a truncation: no close_notify came. */
    char c;
    EXPECT_RC(weft_stream_receive(tp.server, &c, 1), WEFT_ETLS);
    EXPECT_ERROR_TEXT("close_notify");
    tp.client = NULL;
    tls_pair_close(&tp);
    return 0;
}

/* ------------------------------------------------------------ allocation failures */

/* One TLS connection (weft to weft, 3 bytes each way, close_notify) with
 * the k-th allocation of the library failing, for every k: each call fails
 * cleanly or succeeds, nothing hangs, nothing leaks (LSan after every run). */
typedef struct sweep {
    weft_listener_t *l;
    weft_tls_ctx_t *sctx, *cctx;
    int server_rc, client_rc;
} sweep_t;

static int sweep_server(void *p)
{
    sweep_t *w = p;
    weft_stream_t *s;
    char buf[3];
    int rc = accept_tls(w->l, w->sctx, &s);
    weft_listener_close(w->l); /* no second connection: a waiting client is reset */
    w->l = NULL;
    if (rc == 0) {
        rc = weft_stream_receive_exactly(s, buf, 3);
        if (rc == 3)
            rc = weft_stream_send(s, buf, 3);
        if (rc == 0)
            rc = weft_stream_send_eof(s);
        weft_stream_close(s);
    }
    w->server_rc = rc;
    return 0;
}

static int sweep_body(void *p)
{
    sweep_t *w = p;
    int rc = weft_tcp_listen(&w->l, "127.0.0.1", 0, NULL);
    if (rc) {
        w->client_rc = w->server_rc = rc;
        return 0;
    }
    int port = weft_listener_port(w->l);
    weft_group_t g;
    if ((rc = weft_group_open(&g)) != 0 || (rc = weft_group_spawn(&g, sweep_server, w)) != 0) {
        weft_listener_close(w->l);
        if (rc == 0 || rc == WEFT_ENOMEM)
            weft_group_close(&g, 0);
        w->client_rc = w->server_rc = rc;
        return 0;
    }
    weft_stream_t *s;
    char buf[3];
    rc = weft_tls_connect(&s, "127.0.0.1", port, w->cctx);
    if (rc == 0) {
        rc = weft_stream_send(s, "abc", 3);
        if (rc == 0)
            rc = weft_stream_receive_exactly(s, buf, 3);
        if (rc == 3)
            rc = weft_stream_receive(s, buf, 1) == WEFT_EOF ? 0 : -1;
        weft_stream_close(s);
    }
    w->client_rc = rc;
    if (rc)
        weft_group_cancel(&g); /* the server may still wait for it */
    rc = weft_group_close(&g, 0);
    if (rc && rc != WEFT_ENOMEM)
        wt_failf(__FILE__, __LINE__, "group = %d", rc);
    return 0;
}

/* What a call may return when an allocation on either side failed. */
static int clean_error(int rc)
{
    return rc == 0 || rc == WEFT_ENOMEM || rc == WEFT_ETLS || rc == WEFT_EOF ||
           rc == WEFT_EINCOMPLETE || rc == -ECONNRESET || rc == -EPIPE || rc == WEFT_EBADF ||
           rc == WEFT_ECANCELED;
}

static void alloc_sweep(void)
{
    sweep_t w = {0};
    weft_tls_opts_t o;
    weft_tls_opts_init(&o);
    o.ca_file = path("ca.pem");
    assert_rc(weft_tls_client_ctx_new(&w.cctx, &o), 0);
    o.cert_file = path("server.pem");
    o.key_file = path("server.key");
    assert_rc(weft_tls_server_ctx_new(&w.sctx, &o), 0);
    wf_fault_fail_at(WF_FAULT_ALLOC, WF_FAULT_COUNT_ONLY);
    assert_rc(wt_run(sweep_body, &w, 1), 0);
    long total = wf_fault_count(WF_FAULT_ALLOC);
    print_message("alloc_sweep: %ld allocations in a run\n", total);
    assert_rc(w.client_rc, 0);
    assert_rc(w.server_rc, 0);
    int failed_runs = 0;
    for (long k = 1; k <= total + 2; k++) {
        sweep_t r = {.sctx = w.sctx, .cctx = w.cctx};
        wf_fault_fail_at(WF_FAULT_ALLOC, k);
        int rc = wt_run(sweep_body, &r, 1);
        failed_runs += wf_fault_injected(WF_FAULT_ALLOC) > 0;
        wf_fault_fail_at(WF_FAULT_ALLOC, 0);
        if (rc != 0 && rc != WEFT_ENOMEM)
            wt_failf(__FILE__, __LINE__, "k=%ld: weft_run = %d", k, rc);
        if (rc == 0 && (!clean_error(r.client_rc) || !clean_error(r.server_rc)))
            wt_failf(__FILE__, __LINE__, "k=%ld: client %d (%s), server %d (%s)", k, r.client_rc,
                     weft_err_name(r.client_rc), r.server_rc, weft_err_name(r.server_rc));
#ifdef WT_ASAN
        if (__lsan_do_recoverable_leak_check())
            wt_failf(__FILE__, __LINE__, "k=%ld leaked", k);
#endif
        WT_ASSERT_CLEAN();
    }
    assert_true(failed_runs > 10);
    weft_tls_ctx_free(w.cctx);
    weft_tls_ctx_free(w.sctx);
}

/* weft_stream_cancel_on_hangup on a TLS stream: the connection below reads
 * ahead, and the peer's close cancels the watching scope while the task
 * waits elsewhere; a peer gone already cancels it at once. */
static int close_client_later(void *p)
{
    tls_pair_t *tp = p;
    weft_sleep(0.05);
    weft_stream_close(tp->client);
    tp->client = NULL;
    return 0;
}

static int hangup_watch(void *arg)
{
    (void)arg;
    tls_pair_t tp;
    if (tls_pair_open(&tp) != 0) {
        tls_pair_close(&tp);
        return 0;
    }
    weft_group_t g;
    weft_group_open(&g);
    weft_group_spawn(&g, close_client_later, &tp);
    weft_scope_t sc;
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    EXPECT_RC(weft_stream_cancel_on_hangup(tp.server, &sc), 0);
    double t0 = weft_now();
    int rc = weft_sleep(10);
    EXPECT_RC(weft_stream_cancel_on_hangup(tp.server, NULL), 0);
    EXPECT_RC(weft_scope_exit(&sc, rc), 0);
    EXPECT(weft_scope_cancelled_caught(&sc));
    EXPECT(weft_now() - t0 < 5);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    /* Armed again after the hang-up: cancelled at once. */
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    EXPECT_RC(weft_stream_cancel_on_hangup(tp.server, &sc), 0);
    rc = weft_sleep(10);
    EXPECT_RC(weft_stream_cancel_on_hangup(tp.server, NULL), 0);
    EXPECT_RC(weft_scope_exit(&sc, rc), 0);
    EXPECT(weft_scope_cancelled_caught(&sc));
    tls_pair_close(&tp);
    return 0;
}

/* ------------------------------------------------------------ misuse */

static int misuse(void *arg)
{
    (void)arg;
    weft_tls_ctx_t *ctx = client_ctx(NULL, 0), *bad = (weft_tls_ctx_t *)&arg;
    weft_tls_opts_t o;
    weft_tls_opts_init(&o);
    EXPECT_RC(weft_tls_client_ctx_new(NULL, &o), WEFT_EINVAL);
    EXPECT_RC(weft_tls_server_ctx_new(&bad, &o), WEFT_EINVAL); /* no certificate */
    EXPECT(bad == NULL);
    o.alpn = "h2,,x";
    EXPECT_RC(weft_tls_client_ctx_new(&bad, &o), WEFT_EINVAL);
    o.alpn = NULL;
    o.min_version = 0x0301;
    EXPECT_RC(weft_tls_client_ctx_new(&bad, &o), WEFT_EINVAL);
    o.min_version = 0;
    o.cert_file = path("client.pem"); /* without its key */
    EXPECT_RC(weft_tls_client_ctx_new(&bad, &o), WEFT_EINVAL);
    o.key_file = path("nonexistent.key");
    EXPECT_RC(weft_tls_client_ctx_new(&bad, &o), WEFT_ETLS);
    EXPECT_ERROR_TEXT("private key");
    weft_tls_opts_init(&o);
    o.opts_size = sizeof o + 8;
    EXPECT_RC(weft_tls_client_ctx_new(&bad, &o), WEFT_EINVAL);
    EXPECT_RC(weft_tls_ctx_reload(NULL, NULL, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_tls_ctx_reload(ctx, NULL, NULL), WEFT_EINVAL); /* it has no pair */
    weft_tls_ctx_free(NULL);

    weft_listener_t *l;
    EXPECT_RC(weft_tcp_listen(&l, "127.0.0.1", 0, NULL), 0);
    weft_stream_t *s = NULL, *plain;
    EXPECT_RC(weft_tls_wrap(&s, NULL, ctx, "localhost"), WEFT_EINVAL);
    EXPECT_RC(weft_tls_connect(NULL, "localhost", 1, ctx), WEFT_EINVAL);
    EXPECT_RC(weft_tls_connect(&s, NULL, 1, ctx), WEFT_EINVAL);
    EXPECT_RC(weft_tls_connect(&s, "localhost", 1, NULL), WEFT_EINVAL);
    /* Every failing wrap closed plain: the peer sees the end. */
    for (int i = 0; i < 3; i++) {
        EXPECT_RC(weft_tcp_connect(&plain, "127.0.0.1", weft_listener_port(l)), 0);
        const char *no_name = NULL;
        int rc = i == 0   ? weft_tls_wrap(NULL, plain, ctx, "localhost")
                 : i == 1 ? weft_tls_wrap(&s, plain, NULL, "localhost")
                          : weft_tls_wrap(&s, plain, ctx, no_name); /* a verifying client */
        EXPECT_RC(rc, WEFT_EINVAL);
        weft_stream_t *acc;
        char c;
        EXPECT_RC(weft_listener_accept(l, &acc), 0);
        EXPECT_RC(weft_stream_receive(acc, &c, 1), WEFT_EOF);
        weft_stream_close(acc);
    }
    /* A closed stream. */
    EXPECT_RC(weft_tcp_connect(&plain, "127.0.0.1", weft_listener_port(l)), 0);
    weft_stream_close(plain);
    EXPECT_RC(weft_tls_wrap(&s, plain, ctx, "localhost"), WEFT_EBADF);
    /* Not a TLS stream / none. */
    EXPECT(weft_tls_alpn_selected(NULL) == NULL);
    weft_stream_t *acc;
    EXPECT_RC(weft_listener_accept(l, &acc), 0);
    EXPECT(weft_tls_alpn_selected(acc) == NULL);
    weft_stream_close(acc);
    weft_listener_close(l);
    weft_tls_ctx_free(ctx);
    return 0;
}

/* Outside a task: contexts work, streams do not. */
static void outside_a_task(void)
{
    assert_int_equal(WEFT_ETLS, -4191);
    assert_string_equal(weft_err_name(WEFT_ETLS), "WEFT_ETLS");
    assert_non_null(weft_tls_last_error());
    weft_tls_opts_t o;
    weft_tls_opts_init(&o);
    o.ca_file = path("nonexistent.pem");
    weft_tls_ctx_t *c;
    assert_rc(weft_tls_client_ctx_new(&c, &o), WEFT_ETLS);
    assert_non_null(strstr(weft_tls_last_error(), "CA"));
    o.ca_file = path("ca.pem");
    assert_rc(weft_tls_client_ctx_new(&c, &o), 0);
    weft_stream_t *s;
    assert_rc(weft_tls_wrap(&s, (weft_stream_t *)&o, c, "localhost"), WEFT_EPERM);
    weft_tls_ctx_free(c);
}

/* ------------------------------------------------------------ the table */

static const wt_case_t cases[] = {
    WT_CASE_ARG(client_vs_s_server, &tls13, WT_WORKERS),
    WT_CASE_ARG(client_vs_s_server, &tls12, WT_W2),
    WT_CASE(key_update_from_s_server),
    WT_CASE_ARG(server_vs_s_client, &tls13, WT_WORKERS),
    WT_CASE_ARG(server_vs_s_client, &tls12, WT_W2),
    WT_CASE(close_notify_from_s_client),
    WT_CASE(weft_to_weft),
    WT_CASE_ARG(weft_to_weft, "handler leaves it open", WT_W2),
    WT_CASE_ARG(verification, &v_good, WT_W2),
    WT_CASE_ARG(verification, &v_by_ip, WT_W2),
    WT_CASE_ARG(verification, &v_wrong_host, WT_W2),
    WT_CASE_ARG(verification, &v_unknown_ca, WT_W2),
    WT_CASE_ARG(verification, &v_insecure, WT_W2),
    WT_CASE_ARG(verification, &v_expired, WT_W2),
    WT_CASE_ARG(verification, &v_no_client_cert, WT_W2),
    WT_CASE_ARG(verification, &v_client_cert, WT_W2),
    WT_CASE(reload),
    WT_CASE(cancel_handshake),
    WT_CASE(cancel_receive),
    WT_CASE(cancel_send),
    WT_CASE(close_under_receive),
    WT_CASE(close_plain_closes_tls),
    WT_CASE(hangup_watch),
    WT_TEST(alloc_sweep),
    WT_CASE(misuse),
    WT_TEST(outside_a_task),
};

int main(void)
{
    if (make_certs() != 0) {
        fprintf(stderr, "test_tls: the openssl command could not make the certificates\n");
        remove_certs();
        return 1;
    }
    int failed = wt_run_suite(__FILE__, cases, sizeof cases / sizeof cases[0]);
    remove_certs();
    return failed;
}
