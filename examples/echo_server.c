/*
 * echo_server — a TCP echo server that shuts down politely.
 *
 *   - every connection is a task (weft_serve); each receive runs under an
 *     idle deadline (weft_move_on_after): a client silent for --idle seconds
 *     is told so and disconnected;
 *   - SIGINT / SIGTERM arrive through a weft signal receiver, as an ordinary
 *     value, in a task: no async-signal-safe handler, no self-pipe;
 *   - shutting down is cancelling the task group that holds the server.
 *     Every handler's pending receive returns WEFT_ECANCELED; it then says
 *     goodbye to its client in a shielded scope (checkpoints work again)
 *     bounded by weft_move_on_after, so a client that does not read cannot
 *     hold up the shutdown.  The program exits 0 once every handler ended.
 *   - with --tls CERT KEY it speaks TLS: each handler wraps its connection
 *     (weft_tls_wrap, the handshake under a 10 s deadline of its own), and
 *     the goodbye ends with close_notify.  weft_serve closes the TLS stream
 *     when the handler returns, as it closes a plain one.
 *
 * usage: echo_server [--port N] [--idle SECONDS] [--tls CERT KEY]
 *        (default: a free port, 30 s, plain TCP)
 * Try:   echo_server --port 7000 &  nc 127.0.0.1 7000  ...  kill -TERM %1
 *        echo_server --port 7000 --tls cert.pem key.pem &
 *        openssl s_client -connect 127.0.0.1:7000 -quiet
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weft.h>

#define GOODBYE_TIMEOUT 1.0 /* seconds a goodbye may take */

struct server {
    int port;
    double idle_timeout;
    weft_listener_t *listener;
    weft_tls_ctx_t *tls; /* NULL: plain TCP */
    atomic_int open, connections, idle_closed, shutdown_closed;
    atomic_llong bytes;
};

/* Runs after the caller may have been cancelled: the shield lets the send
 * proceed, the scope's own deadline still applies. */
static void say_goodbye(struct server *sv, weft_stream_t *s, const char *msg) {
    weft_scope_t cleanup;
    weft_move_on_after(&cleanup, GOODBYE_TIMEOUT);
    weft_scope_set_shield(&cleanup, 1);
    int rc = weft_stream_send(s, msg, strlen(msg));
    if (rc == 0 && sv->tls) rc = weft_stream_send_eof(s); /* close_notify: a clean end */
    weft_scope_exit(&cleanup, rc);
}

/* Receive and echo one chunk within the idle deadline: the byte count,
 * WEFT_EOF, an error, or 0 when the client stayed silent too long. */
static int echo_once(struct server *sv, weft_stream_t *s) {
    char buf[4096];
    weft_scope_t idle;
    weft_move_on_after(&idle, sv->idle_timeout);
    int n = weft_stream_receive(s, buf, sizeof buf);
    if (n > 0) {
        int rc = weft_stream_send(s, buf, (size_t)n);
        if (rc != 0) n = rc;
    }
    return weft_scope_exit(&idle, n); /* the idle deadline's cancellation stops here: 0 */
}

static int echo_connection(weft_stream_t *s, void *arg) {
    struct server *sv = arg;
    if (sv->tls) {
        /* The TLS stream takes the connection over (closing it on failure). */
        int rc = weft_tls_wrap(&s, s, sv->tls, NULL);
        if (rc != 0) return rc;
    }
    atomic_fetch_add(&sv->open, 1);
    atomic_fetch_add(&sv->connections, 1);
    int n;
    while ((n = echo_once(sv, s)) > 0) atomic_fetch_add(&sv->bytes, n);
    if (n == 0) {
        atomic_fetch_add(&sv->idle_closed, 1);
        say_goodbye(sv, s, "idle timeout, bye\n");
    } else if (n == WEFT_ECANCELED) { /* the server is shutting down */
        atomic_fetch_add(&sv->shutdown_closed, 1);
        say_goodbye(sv, s, "server shutting down, bye\n");
    }
    atomic_fetch_add(&sv->open, -1);
    return n == WEFT_EOF ? 0 : n; /* weft_serve closes the stream (a TLS one too) */
}

static int run_server(void *arg) {
    struct server *sv = arg;
    return weft_serve(sv->listener, echo_connection, sv);
}

static int echo_server(void *arg) {
    struct server *sv = arg;
    /* Catch the signals first: one arriving before the receiver exists
     * would still kill the process. */
    int signums[] = {SIGINT, SIGTERM};
    weft_signal_receiver_t *signals;
    int rc = weft_signal_open(&signals, signums, 2);
    if (rc != 0) return rc;
    rc = weft_tcp_listen(&sv->listener, "127.0.0.1", sv->port, NULL);
    if (rc != 0) {
        weft_signal_close(signals);
        return rc;
    }
    printf("echo_server: listening on 127.0.0.1:%d%s, idle timeout %.1f s; "
           "SIGINT or SIGTERM stops it\n",
           weft_listener_port(sv->listener), sv->tls ? " (TLS)" : "", sv->idle_timeout);

    weft_group_t g;
    weft_group_open(&g);
    weft_group_spawn(&g, run_server, sv);
    int signum = weft_signal_receive(signals); /* WEFT_ECANCELED if the server failed */
    if (signum > 0) {
        printf("echo_server: %s received, closing %d open connection(s)\n",
               signum == SIGINT ? "SIGINT" : "SIGTERM", atomic_load(&sv->open));
        weft_group_cancel(&g);
    }
    rc = weft_group_close(&g, 0); /* waits for every handler's goodbye */
    weft_listener_close(sv->listener);
    weft_signal_close(signals);
    if (rc == 0)
        printf("echo_server: shut down gracefully after %d connection(s): %lld bytes echoed, "
               "%d closed as idle, %d told about the shutdown\n",
               atomic_load(&sv->connections), (long long)atomic_load(&sv->bytes),
               atomic_load(&sv->idle_closed), atomic_load(&sv->shutdown_closed));
    return rc;
}

int main(int argc, char **argv) {
    struct server sv = {.port = 0, .idle_timeout = 30};
    const char *cert = NULL, *key = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            sv.port = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--idle") == 0 && i + 1 < argc) {
            sv.idle_timeout = atof(argv[++i]);
        } else if (strcmp(argv[i], "--tls") == 0 && i + 2 < argc) {
            cert = argv[++i];
            key = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--port N] [--idle SECONDS] [--tls CERT KEY]\n", argv[0]);
            return 2;
        }
    }
    if (cert) {
        weft_tls_opts_t o;
        weft_tls_opts_init(&o);
        o.cert_file = cert;
        o.key_file = key;
        o.handshake_timeout = 10; /* a client that never finishes its handshake is dropped */
        int rc = weft_tls_server_ctx_new(&sv.tls, &o);
        if (rc != 0) {
            fprintf(stderr, "echo_server: %s: %s\n", weft_strerror(rc), weft_tls_last_error());
            return 1;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* a line at a time, also into a pipe */
    weft_config_t config = {.workers = 2};
    int rc = weft_run(echo_server, &sv, &config);
    if (rc != 0) fprintf(stderr, "echo_server failed: %s\n", weft_strerror(rc));
    weft_tls_ctx_free(sv.tls);
    return rc == 0 ? 0 : 1;
}
