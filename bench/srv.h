/*
 * srv.h — what the servers measured by bench/realclients.sh share
 * (bench/srv_http.c, bench/srv_resp.c; header only, public API only).
 *
 * These are servers, not benchmark programs: they serve until SIGINT or
 * SIGTERM and print no result line (bench/run.sh and run_all.sh skip every
 * srv_* program).  What they share:
 *
 *   - the flags: -p PORT (0: a free one, the default), -w N (workers,
 *     default 2; 0: online CPUs);
 *   - srv_main: a runtime whose main task listens on 127.0.0.1 only, serves
 *     every connection with the program's handler (weft_serve) and receives
 *     signals as values: SIGUSR1 prints the runtime's statistics, SIGINT or
 *     SIGTERM cancels the server, prints them once more and ends the program;
 *   - srv_conn_t: a connection's input and output buffers.  A handler parses
 *     requests out of the input, appends answers to the output, and the
 *     output goes out in one send when the input holds no complete request
 *     any more (before waiting for more), so pipelined requests get their
 *     answers in one write as in Redis or nginx.
 *
 * Output (stdout, line-buffered by fflush):
 *   # <name> listening on 127.0.0.1:<port>, <workers> workers, weft <version>
 *   # stats <name>: threads_alive=N threads_idle=N offloads=N tasks_alive=N <server's own>
 */
#ifndef WEFT_BENCH_SRV_H
#define WEFT_BENCH_SRV_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft.h"

/* ------------------------------------------------------------------ flags */

typedef struct srv_args_t {
    int port;         /* -p, 0 = a free port */
    unsigned workers; /* -w, default 2 */
} srv_args_t;

static inline long srv_parse_num_(const char *prog, const char *flag, const char *s, long max)
{
    char *end = NULL;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : -1;
    if (!s || *s == '\0' || errno || *end != '\0' || v < 0 || v > max) {
        fprintf(stderr, "%s: bad value for %s: '%s' (want 0 .. %ld)\n", prog, flag,
                s ? s : "", max);
        exit(2);
    }
    return v;
}

/* Parse -p and -w; `what` (one line) says what the program serves. */
static inline srv_args_t srv_parse_args(int argc, char **argv, const char *what)
{
    srv_args_t a = {.port = 0, .workers = 2};
    const char *prog = argc > 0 ? argv[0] : "srv";
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (!strcmp(f, "-h") || !strcmp(f, "--help")) {
            printf("usage: %s [-p PORT] [-w N]\n%s\n"
                   "  -p PORT  port on 127.0.0.1 (default 0: a free one, printed)\n"
                   "  -w N     worker threads (default 2; 0: online CPUs)\n"
                   "SIGUSR1 prints the runtime's statistics, SIGINT/SIGTERM stops.\n",
                   prog, what);
            exit(0);
        }
        if ((strcmp(f, "-p") && strcmp(f, "-w")) || i + 1 >= argc) {
            fprintf(stderr, "%s: bad argument '%s' (try -h)\n", prog, f);
            exit(2);
        }
        if (f[1] == 'p')
            a.port = (int)srv_parse_num_(prog, f, argv[++i], 65535);
        else
            a.workers = (unsigned)srv_parse_num_(prog, f, argv[++i], 4096);
    }
    return a;
}

/* ------------------------------------------------------------------ connections */

#define SRV_IN_SIZE 16384 /* the largest request a connection takes */

typedef struct srv_conn_t {
    weft_stream_t *s;
    size_t start, end;    /* unparsed input: in[start .. end) */
    char *out;            /* answers not sent yet: out[0 .. out_len) */
    size_t out_len, out_cap;
    char in[SRV_IN_SIZE];
} srv_conn_t;

/* A connection's buffers on the heap (the input buffer is too large for a
 * task's stack to hold comfortably); NULL when out of memory. */
static inline srv_conn_t *srv_conn_new(weft_stream_t *s)
{
    srv_conn_t *c = malloc(sizeof *c);
    if (c) {
        c->s = s;
        c->start = c->end = 0;
        c->out = NULL;
        c->out_len = c->out_cap = 0;
    }
    return c;
}

static inline void srv_conn_free(srv_conn_t *c)
{
    free(c->out);
    free(c);
}

/* The input not parsed yet. */
static inline const char *srv_conn_data(const srv_conn_t *c)
{
    return c->in + c->start;
}

static inline size_t srv_conn_avail(const srv_conn_t *c)
{
    return c->end - c->start;
}

/* The first n bytes of the input are parsed: drop them. */
static inline void srv_conn_consume(srv_conn_t *c, size_t n)
{
    c->start += n;
    if (c->start == c->end)
        c->start = c->end = 0;
}

/* Append to the answers.  Never sends (so it may be called while holding a
 * lock); the buffer grows as needed.  WEFT_ENOMEM if it cannot. */
static inline int srv_conn_append(srv_conn_t *c, const void *p, size_t n)
{
    if (c->out_len + n > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap < c->out_len + n)
            cap *= 2;
        char *out = realloc(c->out, cap);
        if (!out)
            return WEFT_ENOMEM;
        c->out = out;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
    return 0;
}

static inline int srv_conn_append_str(srv_conn_t *c, const char *s)
{
    return srv_conn_append(c, s, strlen(s));
}

/* [checkpoint] Send the answers appended so far. */
static inline int srv_conn_flush(srv_conn_t *c)
{
    if (c->out_len == 0)
        return 0;
    int rc = weft_stream_send(c->s, c->out, c->out_len);
    c->out_len = 0;
    return rc;
}

/* [checkpoint] The input holds no complete request: send the answers so far
 * (the client may wait for them before it sends more), then receive more.
 * The bytes received, WEFT_EOF, a receive error, or -E2BIG when the
 * unparsed input already fills the buffer (a request too large). */
static inline int srv_conn_fill(srv_conn_t *c)
{
    int rc = srv_conn_flush(c);
    if (rc != 0)
        return rc;
    if (c->end == sizeof c->in) {
        if (c->start == 0)
            return -E2BIG;
        memmove(c->in, c->in + c->start, c->end - c->start);
        c->end -= c->start;
        c->start = 0;
    }
    int got = weft_stream_receive(c->s, c->in + c->end, sizeof c->in - c->end);
    if (got > 0)
        c->end += (size_t)got;
    return got;
}

/* A handler's result for rc: a client that went away (EOF, reset, a broken
 * pipe) ends its connection normally. */
static inline int srv_result(int rc)
{
    if (rc == WEFT_EOF || rc == -ECONNRESET || rc == WEFT_EPIPE)
        return 0;
    return rc < 0 ? rc : 0;
}

/* ------------------------------------------------------------------ the server */

typedef struct srv_t {
    const char *name;                /* in the output lines */
    weft_handler_t handler;          /* one task per connection */
    void *arg;                       /* the handler's */
    void (*print_stats)(void *arg);  /* the server's own counters (may be NULL) */
} srv_t;

typedef struct srv_ctx_ {
    const srv_args_t *a;
    const srv_t *srv;
    weft_listener_t *l;
} srv_ctx_;

static inline void srv_print_stats_(const srv_t *srv)
{
    weft_runtime_stats_t st;
    if (weft_runtime_stats(&st) != 0)
        return;
    printf("# stats %s: threads_alive=%u threads_idle=%u offloads=%u tasks_alive=%llu", srv->name,
           st.threads_alive, st.threads_idle, st.offloads, st.tasks_alive);
    if (srv->print_stats)
        srv->print_stats(srv->arg);
    printf("\n");
    fflush(stdout);
}

static inline int srv_serve_task_(void *arg)
{
    srv_ctx_ *x = arg;
    return weft_serve(x->l, x->srv->handler, x->srv->arg);
}

static inline int srv_fail_(const char *what, int rc)
{
    fprintf(stderr, "srv: %s: %d (%s: %s)\n", what, rc, weft_err_name(rc), weft_strerror(rc));
    return rc;
}

/* Wait for signals: SIGUSR1 prints the statistics, SIGINT or SIGTERM
 * returns 0. */
static inline int srv_wait_for_stop_(const srv_t *srv, weft_signal_receiver_t *r)
{
    for (;;) {
        int sig = weft_signal_receive(r);
        if (sig < 0)
            return srv_fail_("weft_signal_receive", sig);
        if (sig != SIGUSR1)
            return 0;
        srv_print_stats_(srv);
    }
}

static inline int srv_main_task_(void *arg)
{
    srv_ctx_ *x = arg;
    static const int sigs[] = {SIGINT, SIGTERM, SIGUSR1};
    weft_signal_receiver_t *r;
    int rc = weft_signal_open(&r, sigs, sizeof sigs / sizeof sigs[0]);
    if (rc != 0)
        return srv_fail_("weft_signal_open", rc);
    /* 127.0.0.1 only: these servers are measured on loopback, never exposed. */
    if ((rc = weft_tcp_listen(&x->l, "127.0.0.1", x->a->port, NULL)) != 0) {
        weft_signal_close(r);
        return srv_fail_("weft_tcp_listen 127.0.0.1", rc);
    }
    weft_runtime_stats_t st;
    memset(&st, 0, sizeof st);
    weft_runtime_stats(&st);
    printf("# %s listening on 127.0.0.1:%d, %u workers, weft %s\n", x->srv->name,
           weft_listener_port(x->l), st.workers, weft_version_string());
    fflush(stdout);

    weft_group_t g;
    int closed = weft_group_open(&g);
    if (closed == 0) {
        if ((rc = weft_group_spawn(&g, srv_serve_task_, x)) == 0)
            rc = srv_wait_for_stop_(x->srv, r);
        weft_group_cancel(&g); /* stops the accept and every connection's handler */
        closed = weft_group_close(&g, 0);
        srv_print_stats_(x->srv);
    }
    weft_signal_close(r);
    weft_listener_close(x->l);
    if (closed != 0)
        srv_fail_("the server's group", closed);
    return rc != 0 ? rc : closed;
}

/* Run the server until SIGINT or SIGTERM; the program's exit status. */
static inline int srv_main(const srv_args_t *a, const srv_t *srv)
{
    weft_config_t cfg;
    weft_config_init(&cfg);
    cfg.workers = a->workers;
    srv_ctx_ x = {.a = a, .srv = srv, .l = NULL};
    int rc = weft_run(srv_main_task_, &x, &cfg);
    if (rc != 0)
        fprintf(stderr, "%s: %d (%s)\n", srv->name, rc, weft_err_name(rc));
    return rc == 0 ? 0 : 1;
}

#endif /* WEFT_BENCH_SRV_H */
