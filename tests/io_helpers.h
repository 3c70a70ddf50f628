/*
 * Shared helpers for the stream I/O suites (test_tcp, stress_tcp): byte
 * patterns that can be checked at any offset, receiving an exact count, an
 * echo handler, and a weft_serve server run in its own task group.
 *
 * Define _GNU_SOURCE before including it (as the suites do for helpers.h).
 * Checks made on a caller's behalf report the caller's file and line.
 */
#ifndef WEFT_TESTS_IO_HELPERS_H
#define WEFT_TESTS_IO_HELPERS_H

#include "helpers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

/* ------------------------------------------------------------ patterns */

/* Byte `i` of the pattern `seed`: pseudo-random, no short period, so that a
 * lost, duplicated or reordered chunk shows at the first byte it moves. */
static WT_UNUSED unsigned char wt_pat_byte(uint64_t seed, uint64_t i)
{
    uint64_t z = seed * 0x9E3779B97F4A7C15ull + (i >> 3) + 1;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (unsigned char)(z >> (8 * (i & 7)));
}

/* buf[k] = byte off + k of pattern seed. */
static WT_UNUSED void wt_pat_fill(void *buf, size_t len, uint64_t seed, uint64_t off)
{
    unsigned char *p = buf;
    for (size_t k = 0; k < len; k++)
        p[k] = wt_pat_byte(seed, off + k);
}

/* -1 when buf holds bytes off .. off+len-1 of pattern seed, else the index
 * of the first wrong byte. */
static WT_UNUSED long wt_pat_check(const void *buf, size_t len, uint64_t seed, uint64_t off)
{
    const unsigned char *p = buf;
    for (size_t k = 0; k < len; k++)
        if (p[k] != wt_pat_byte(seed, off + k))
            return (long)k;
    return -1;
}

/* ------------------------------------------------------------ receiving */

/* Receive exactly len bytes: len, or the first error (WEFT_EOF when the
 * peer ended the stream first). */
static WT_UNUSED int wt_recv_exact(weft_stream_t *s, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        int n = weft_stream_receive(s, (char *)buf + got, len - got);
        if (n < 0)
            return n;
        if (n == 0)
            return WEFT_EINVAL; /* receive never returns 0 */
        got += (size_t)n;
    }
    return (int)len;
}

/* Receive and discard exactly len bytes: len, or the first error. */
static WT_UNUSED long wt_skip(weft_stream_t *s, long len)
{
    char buf[16384];
    long got = 0;
    while (got < len) {
        long want = len - got < (long)sizeof buf ? len - got : (long)sizeof buf;
        int n = weft_stream_receive(s, buf, (size_t)want);
        if (n <= 0)
            return n ? n : WEFT_EINVAL;
        got += n;
    }
    return got;
}

/* Receive until EOF, discarding; the byte count or an error. */
static WT_UNUSED long wt_drain(weft_stream_t *s)
{
    char buf[16384];
    long total = 0;
    for (;;) {
        int n = weft_stream_receive(s, buf, sizeof buf);
        if (n == WEFT_EOF)
            return total;
        if (n <= 0)
            return n ? n : WEFT_EINVAL;
        total += n;
    }
}

/* ------------------------------------------------------------ servers */

/* Counters an echo handler keeps; arg of wt_echo_handler may be NULL. */
typedef struct {
    atomic_long bytes;      /* echoed */
    atomic_int started;     /* handlers that started */
    atomic_int ended;       /* handlers that returned */
    atomic_int eof;         /* handlers that saw EOF */
    atomic_int errors;      /* handlers that ended with an error */
    atomic_int last_error;
} wt_echo_stats_t;

/* Echo every byte back until EOF, then half-close.  Returns 0 at EOF or the
 * error that ended it (WEFT_ECANCELED when the server is cancelled). */
static WT_UNUSED int wt_echo_handler(weft_stream_t *s, void *arg)
{
    wt_echo_stats_t *st = arg;
    char buf[8192];
    int rc = 0;
    if (st)
        atomic_fetch_add(&st->started, 1);
    for (;;) {
        int n = weft_stream_receive(s, buf, sizeof buf);
        if (n == WEFT_EOF) {
            rc = weft_stream_send_eof(s);
            if (st && rc == 0)
                atomic_fetch_add(&st->eof, 1);
            break;
        }
        if (n < 0) {
            rc = n;
            break;
        }
        if ((rc = weft_stream_send(s, buf, (size_t)n)) != 0)
            break;
        if (st)
            atomic_fetch_add(&st->bytes, n);
    }
    if (st) {
        if (rc) {
            atomic_fetch_add(&st->errors, 1);
            atomic_store(&st->last_error, rc);
        }
        atomic_fetch_add(&st->ended, 1);
    }
    return rc;
}

/* A weft_serve server on its own listener, running in a task group the
 * caller opens with wt_server_start and closes with wt_server_stop (nested
 * like any group: groups opened after it must be closed before). */
typedef struct {
    weft_listener_t *l;
    weft_handler_t handler;
    void *arg;
    int port;
    weft_group_t g;
    int serve_rc;
    atomic_int serve_done;
} wt_server_t;

static WT_UNUSED int wt_serve_task(void *p)
{
    wt_server_t *sv = p;
    sv->serve_rc = weft_serve(sv->l, sv->handler, sv->arg);
    atomic_store(&sv->serve_done, 1);
    return 0;
}

/* Listen on host (port 0) and serve there; 0 or the error (checked). */
#define WT_SERVER_START(sv, host, handler, arg)                                \
    wt_server_start_at(__FILE__, __LINE__, (sv), (host), (handler), (arg))

static WT_UNUSED int wt_server_start_at(const char *file, int line, wt_server_t *sv,
                                        const char *host, weft_handler_t handler, void *arg)
{
    memset(sv, 0, sizeof *sv);
    sv->handler = handler;
    sv->arg = arg;
    /* A deep backlog: a burst of clients must not overflow the accept queue
     * (the kernel would drop SYNs, and each client would wait 1 s). */
    weft_listen_opts_t opts = {.backlog = 1024};
    int rc = weft_tcp_listen(&sv->l, host, 0, &opts);
    if (rc) {
        wt_failf(file, line, "weft_tcp_listen(%s) = %d (%s)", host ? host : "NULL", rc,
                 weft_err_name(rc));
        return rc;
    }
    sv->port = weft_listener_port(sv->l);
    if (sv->port <= 0 || sv->port > 65535)
        wt_failf(file, line, "weft_listener_port = %d", sv->port);
    rc = weft_group_open(&sv->g);
    if (rc) {
        wt_failf(file, line, "weft_group_open = %d", rc);
        weft_listener_close(sv->l);
        return rc;
    }
    weft_group_spawn(&sv->g, wt_serve_task, sv);
    return 0;
}

/* Cancel the server, wait for it (and every handler), close the listener;
 * serve must have returned WEFT_ECANCELED. */
#define WT_SERVER_STOP(sv) wt_server_stop_at(__FILE__, __LINE__, (sv))

static WT_UNUSED void wt_server_stop_at(const char *file, int line, wt_server_t *sv)
{
    weft_group_cancel(&sv->g);
    int rc = weft_group_close(&sv->g, 0);
    if (rc != 0)
        wt_failf(file, line, "closing the server's group = %d (%s)", rc, weft_err_name(rc));
    if (sv->serve_rc != WEFT_ECANCELED)
        wt_failf(file, line, "weft_serve = %d (%s), expected WEFT_ECANCELED", sv->serve_rc,
                 weft_err_name(sv->serve_rc));
    rc = weft_listener_close(sv->l);
    if (rc != 0)
        wt_failf(file, line, "weft_listener_close = %d (%s)", rc, weft_err_name(rc));
}

/* ------------------------------------------------------------ descriptors */

/* In a child process that runs out of descriptors on purpose: lower
 * RLIMIT_NOFILE to a little above those open now (at least 128), so that
 * filling the table is quick, then run fn with 1 and with 2 workers.  The
 * child's exit status: 0, or 1 (a failed in-task check), 2 (weft_run
 * failed), 3 (setrlimit failed), with a message on stderr. */
static WT_UNUSED int wt_emfile_child(weft_fn_t fn)
{
    struct rlimit rl;
    int highest = 0;
    for (int fd = 0; fd < 1024; fd++)
        if (fcntl(fd, F_GETFD) >= 0)
            highest = fd;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = (rlim_t)(highest + 64 > 128 ? highest + 64 : 128);
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        fprintf(stderr, "setrlimit failed: %s\n", strerror(errno));
        return 3;
    }
    for (unsigned workers = 1; workers <= 2; workers++) {
        int rc = wt_run(fn, NULL, workers);
        if (atomic_load(&wt_fail_count)) {
            fprintf(stderr, "workers %u: %s\n", workers, wt_fail_msg);
            return 1;
        }
        if (rc) {
            fprintf(stderr, "workers %u: weft_run = %d\n", workers, rc);
            return 2;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ addresses */

/* The port of an AF_INET / AF_INET6 address, -1 for anything else. */
static WT_UNUSED int wt_sa_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return -1;
}

/* 1 when sa is 127.0.0.1. */
static WT_UNUSED int wt_sa_is_lo4(const struct sockaddr *sa)
{
    return sa->sa_family == AF_INET &&
           ((const struct sockaddr_in *)sa)->sin_addr.s_addr == htonl(INADDR_LOOPBACK);
}

#endif /* WEFT_TESTS_IO_HELPERS_H */
