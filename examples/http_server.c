/*
 * http_server — a small HTTP/1.1 server: keep-alive, pipelining, bodies,
 * blocking work offloaded to threads, and a graceful shutdown.  Not a
 * framework: one file to read from top to bottom.
 *
 *   GET  /             200 "Hello, World!"
 *   GET  /work?ms=N    sleeps N ms (default 10) on a blocking thread
 *                      (weft_to_thread_run_sync), at most 4 at once (a
 *                      capacity limiter), within the per-request deadline
 *                      (--deadline, 504 when it passes); a client that
 *                      hangs up meanwhile abandons its request
 *                      (weft_stream_cancel_on_hangup)
 *   POST /echo         answers with the request's body (Content-Length)
 *   other paths: 404; other methods and Transfer-Encoding: 501; a malformed
 *   request: 400; a body over 1 MiB: 413; a request line and headers over
 *   8 KiB or 100 lines: 431 (each of those closes the connection).
 *
 * How it is built:
 *   - every connection is a task (weft_serve_ex): at most --max-conns at
 *     once (further clients wait in the listen backlog), a handler's error
 *     printed with its task's name;
 *   - a request is read with weft_stream_receive_until (one line at a time,
 *     within what is left of the head's limit) and its body with
 *     weft_stream_receive_exactly; bytes of the next, pipelined request stay
 *     in the stream's buffer for the next round;
 *   - SIGTERM / SIGINT arrive in a task (a signal receiver).  Shutting down
 *     is cancelling the server: accepting stops, connections waiting for
 *     their next request close at once, and a request in progress finishes
 *     first, because it runs in a shielded scope bounded by its deadline,
 *     and is answered with "Connection: close".  Then the program exits 0.
 *
 * usage: http_server [--port N] [--workers N] [--max-conns N] [--deadline SECONDS]
 * Try:   http_server --port 8080 &  curl -i 127.0.0.1:8080/  ...  kill -TERM %1
 */
#define _GNU_SOURCE /* memmem, strncasecmp */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <weft.h>

#define HEAD_LIMIT 8192        /* request line and headers, CRLFs included */
#define HEADER_LINES_LIMIT 100
#define BODY_LIMIT (1 << 20)
#define WORK_THREADS 4         /* blocking calls of /work at once */

static struct server {
    int port;
    unsigned workers, max_conns;
    double deadline;           /* of one request, in seconds */
    weft_limiter_t *work_limiter;
    atomic_int draining;       /* the shutdown began: answer with "Connection: close" */
    atomic_llong requests, connections;
} sv = {.workers = 2, .max_conns = 1024, .deadline = 5};

/* ------------------------------------------------------------ parsing */

typedef struct request {
    char method[16];
    char target[1024];
    int http11, keep_alive, chunked;
    long long content_length; /* -1: none */
} request_t;

/* Status codes that end the connection after their answer. */
enum { BAD_REQUEST = 400, TOO_LARGE = 413, HEADERS_TOO_LARGE = 431, NOT_IMPLEMENTED = 501 };

/* "Name: value" (case-insensitive name): the value, or NULL. */
static const char *header_value(const char *line, const char *name) {
    size_t n = strlen(name);
    if (strncasecmp(line, name, n) != 0 || line[n] != ':') return NULL;
    for (line += n + 1; *line == ' ' || *line == '\t'; line++) {
    }
    return line;
}

static int parse_header(request_t *r, const char *line) {
    const char *v;
    if ((v = header_value(line, "Content-Length"))) {
        char *end;
        if (*v < '0' || *v > '9' || r->content_length >= 0) return BAD_REQUEST;
        r->content_length = strtoll(v, &end, 10);
        if (*end != '\0' && *end != ' ') return BAD_REQUEST;
    } else if ((v = header_value(line, "Transfer-Encoding"))) {
        r->chunked = 1;
    } else if ((v = header_value(line, "Connection"))) {
        if (strcasecmp(v, "close") == 0) r->keep_alive = 0;
        if (strcasecmp(v, "keep-alive") == 0) r->keep_alive = 1;
    } else if (!strchr(line, ':')) {
        return BAD_REQUEST;
    }
    return 0;
}

/* [checkpoint] One line of the head into buf, within *budget bytes (its
 * CRLF counted), its length in *len: 0, WEFT_EOF before any byte, another
 * error, or an HTTP status (400, 431) to answer with. */
static int read_line(weft_stream_t *s, char *buf, size_t *budget, size_t *len) {
    if (*budget <= 2) return HEADERS_TOO_LARGE;
    int n = weft_stream_receive_until(s, buf, *budget - 2, "\r\n", 2);
    if (n == -EMSGSIZE) return HEADERS_TOO_LARGE;
    if (n == WEFT_EINCOMPLETE) return BAD_REQUEST;
    if (n < 0) return n;
    buf[n] = '\0';
    *budget -= (size_t)n + 2;
    *len = (size_t)n;
    return 0;
}

/* [checkpoint] Read a request's head: 0, WEFT_EOF (the client is done), an
 * error, or an HTTP status to answer with before closing. */
static int read_head(weft_stream_t *s, request_t *r) {
    char line[HEAD_LIMIT];
    size_t budget = HEAD_LIMIT, len = 0;
    int rc;
    do { /* blank lines before a request are allowed */
        if ((rc = read_line(s, line, &budget, &len)) != 0) return rc;
    } while (len == 0);
    char version[16];
    if (sscanf(line, "%15s %1023s %15s", r->method, r->target, version) != 3 ||
        strncmp(version, "HTTP/1.", 7) != 0 || version[8] != '\0')
        return BAD_REQUEST;
    r->http11 = version[7] == '1';
    r->keep_alive = r->http11; /* HTTP/1.0 closes unless asked not to */
    r->chunked = 0;
    r->content_length = -1;
    for (int lines = 0;; lines++) {
        if (lines == HEADER_LINES_LIMIT) return HEADERS_TOO_LARGE;
        if ((rc = read_line(s, line, &budget, &len)) != 0) return rc == WEFT_EOF ? BAD_REQUEST : rc;
        if (len == 0) return 0; /* the blank line: the head is complete */
        if ((rc = parse_header(r, line)) != 0) return rc;
    }
}

/* ------------------------------------------------------------ answering */

static const char *reason(int status) {
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Gateway Timeout";
    }
}

/* [checkpoint] Send a whole answer (head and body in one send). */
static int respond(weft_stream_t *s, int status, const char *body, size_t len, int keep_alive) {
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n%s\r\n",
                     status, reason(status), len, keep_alive ? "" : "Connection: close\r\n");
    char *msg = malloc((size_t)n + len);
    if (!msg) return WEFT_ENOMEM;
    memcpy(msg, head, (size_t)n);
    memcpy(msg + n, body, len);
    int rc = weft_stream_send(s, msg, (size_t)n + len);
    free(msg);
    return rc;
}

/* The blocking call of /work, on a blocking thread. */
static int sleep_ms(void *arg) {
    long ms = (long)(intptr_t)arg;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
    return 0;
}

/* GET /work?ms=N: 200, 504 past the deadline, or an error (the client hung
 * up: the answer would go nowhere). */
static int work(weft_stream_t *s, const request_t *r, weft_scope_t *deadline, char *out,
                size_t *len) {
    const char *q = strstr(r->target, "?ms=");
    long ms = q ? strtol(q + 4, NULL, 10) : 10;
    if (ms < 0 || ms > 60000) return BAD_REQUEST;
    /* The thread sleeps on when the deadline passes (a thread cannot be
     * interrupted); abandoning it frees the request, and the limiter still
     * counts it until it returns, so at most WORK_THREADS ever run. */
    weft_thread_opts_t opts = {.limiter = sv.work_limiter, .abandon_on_cancel = 1,
                               .thread_name = "http-work"};
    weft_stream_cancel_on_hangup(s, deadline);
    int rc = weft_to_thread_run_sync(sleep_ms, (void *)(intptr_t)ms, &opts);
    weft_stream_cancel_on_hangup(s, NULL);
    if (rc == WEFT_ECANCELED && weft_scope_deadline(deadline) > weft_now()) return WEFT_EPIPE;
    if (rc) return rc;
    *len = (size_t)snprintf(out, 64, "worked %ld ms\n", ms);
    return 200;
}

/* Run the request's route: its status, the body in out (*len bytes). */
static int route(weft_stream_t *s, const request_t *r, char *body, size_t body_len,
                 weft_scope_t *deadline, char *out, size_t *len) {
    int get = strcmp(r->method, "GET") == 0, post = strcmp(r->method, "POST") == 0;
    if (!get && !post) return NOT_IMPLEMENTED;
    if (get && strcmp(r->target, "/") == 0) {
        *len = (size_t)snprintf(out, 64, "Hello, World!");
        return 200;
    }
    if (get && (strcmp(r->target, "/work") == 0 || strncmp(r->target, "/work?", 6) == 0))
        return work(s, r, deadline, out, len);
    if (post && strcmp(r->target, "/echo") == 0) {
        memcpy(out, body, body_len);
        *len = body_len;
        return 200;
    }
    *len = (size_t)snprintf(out, 64, "Not Found\n");
    return 404;
}

/* [checkpoint] Read the body, run the route, answer: 1 to keep the
 * connection, 0 to close it, or an error.  Shielded: the server's
 * cancellation waits for this request, for at most its deadline. */
static int serve_request(weft_stream_t *s, const request_t *r) {
    weft_scope_t deadline;
    weft_fail_after(&deadline, sv.deadline);
    weft_scope_set_shield(&deadline, 1);
    atomic_fetch_add(&sv.requests, 1);
    size_t body_len = r->content_length > 0 ? (size_t)r->content_length : 0;
    char *body = malloc(body_len + 64), *out = malloc(body_len + 64);
    int status = body && out ? 0 : WEFT_ENOMEM;
    if (status == 0 && body_len) {
        int n = weft_stream_receive_exactly(s, body, body_len);
        status = n == WEFT_EINCOMPLETE || n == WEFT_EOF ? BAD_REQUEST : n < 0 ? n : 0;
    }
    size_t len = 0;
    if (status == 0) status = route(s, r, body, body_len, &deadline, out, &len);
    if (status == WEFT_ECANCELED) { /* the deadline passed: answer in a scope of its own */
        status = weft_scope_exit(&deadline, status) == WEFT_ETIMEDOUT ? 504 : WEFT_ECANCELED;
        weft_fail_after(&deadline, 1.0);
        weft_scope_set_shield(&deadline, 1);
    }
    int keep = r->keep_alive && status < 400 && !atomic_load(&sv.draining);
    int rc = status < 0 ? status
                        : respond(s, status, status == 200 || status == 404 ? out : "",
                                  status == 200 || status == 404 ? len : 0, keep);
    free(body);
    free(out);
    rc = weft_scope_exit(&deadline, rc);
    return rc < 0 ? rc : keep;
}

/* ------------------------------------------------------------ connections */

/* After an error answer, before closing: closing with unread bytes (the
 * rest of a request we refused) would reset the connection, and the client
 * might lose the answer.  So half-close and read what still comes, for at
 * most a second (nginx's lingering close). */
static void linger(weft_stream_t *s) {
    char sink[4096];
    weft_scope_t sc;
    weft_move_on_after(&sc, 1.0);
    int rc = weft_stream_send_eof(s);
    while (rc == 0 && weft_stream_receive(s, sink, sizeof sink) > 0) {
    }
    weft_scope_exit(&sc, rc);
}

static int http_connection(weft_stream_t *s, void *arg) {
    (void)arg;
    atomic_fetch_add(&sv.connections, 1);
    weft_stream_set_nodelay(s, 1); /* pipelined answers go out one send each */
    int rc;
    for (;;) {
        request_t r;
        rc = read_head(s, &r); /* cancelled here: the server shuts down, we close */
        if (rc == 0 && r.chunked) rc = NOT_IMPLEMENTED;
        if (rc == 0 && r.content_length > BODY_LIMIT) rc = TOO_LARGE;
        if (rc >= 400) {
            atomic_fetch_add(&sv.requests, 1);
            rc = respond(s, rc, "", 0, 0);
            if (rc == 0) linger(s);
            break;
        }
        if (rc < 0 || (rc = serve_request(s, &r)) <= 0) break;
    }
    /* A client that went away or a shutdown is how connections end. */
    if (rc == WEFT_EOF || rc == WEFT_ECANCELED || rc == WEFT_EPIPE || rc == -ECONNRESET) rc = 0;
    return rc;
}

static int run_server(void *arg) {
    weft_serve_opts_t opts;
    weft_serve_opts_init(&opts);
    opts.max_connections = sv.max_conns;
    opts.on_error = WEFT_SERVE_LOG;
    return weft_serve_ex(arg, http_connection, NULL, &opts);
}

static int http_server(void *arg) {
    (void)arg;
    int signums[] = {SIGINT, SIGTERM};
    weft_signal_receiver_t *signals;
    weft_listener_t *l;
    int rc = weft_signal_open(&signals, signums, 2);
    if (rc) return rc;
    weft_listen_opts_t lo = {.backlog = 1024};
    if ((rc = weft_tcp_listen(&l, "127.0.0.1", sv.port, &lo)) != 0 ||
        (rc = weft_limiter_new(&sv.work_limiter, WORK_THREADS)) != 0) {
        weft_signal_close(signals);
        return rc;
    }
    printf("http_server: listening on 127.0.0.1:%d, %u workers, at most %u connections, "
           "%.1f s per request; SIGINT or SIGTERM stops it\n",
           weft_listener_port(l), sv.workers, sv.max_conns, sv.deadline);

    weft_group_t g;
    weft_group_open(&g);
    weft_group_spawn(&g, run_server, l);
    int signum = weft_signal_receive(signals); /* WEFT_ECANCELED if the server failed */
    if (signum > 0) {
        printf("http_server: %s received, finishing the requests in progress\n",
               signum == SIGINT ? "SIGINT" : "SIGTERM");
        atomic_store(&sv.draining, 1);
        weft_group_cancel(&g);
    }
    rc = weft_group_close(&g, 0);
    weft_listener_close(l);
    weft_signal_close(signals);
    weft_limiter_free(sv.work_limiter); /* abandoned calls keep it until they return */
    if (rc == 0)
        printf("http_server: shut down gracefully: %lld request(s) on %lld connection(s)\n",
               (long long)atomic_load(&sv.requests), (long long)atomic_load(&sv.connections));
    return rc;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v && strcmp(f, "--port") == 0) sv.port = atoi(v);
        else if (v && strcmp(f, "--workers") == 0) sv.workers = (unsigned)atoi(v);
        else if (v && strcmp(f, "--max-conns") == 0) sv.max_conns = (unsigned)atoi(v);
        else if (v && strcmp(f, "--deadline") == 0) sv.deadline = atof(v);
        else {
            fprintf(stderr, "usage: %s [--port N] [--workers N] [--max-conns N] "
                            "[--deadline SECONDS]\n", argv[0]);
            return 2;
        }
        i++;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* a line at a time, also into a pipe */
    weft_config_t config;
    weft_config_init(&config);
    config.workers = sv.workers;
    int rc = weft_run(http_server, NULL, &config);
    if (rc != 0) fprintf(stderr, "http_server failed: %s\n", weft_strerror(rc));
    return rc == 0 ? 0 : 1;
}
