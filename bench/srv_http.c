/*
 * srv_http — a small HTTP/1.1 keep-alive server on weft's public API, one of
 * the servers bench/realclients.sh measures with wrk (bench/REALCLIENTS.md).
 *
 *   GET /          200 "Hello, World!"
 *   GET /offload   the same, after a 50 us blocking call (nanosleep) made on
 *                  one of the runtime's blocking threads through
 *                  weft_to_thread_run_sync (the default thread limiter)
 *   anything else  404
 *
 * Every connection is a task (weft_serve).  Requests may be pipelined; a
 * body (Content-Length) is read and dropped; chunked bodies are refused
 * (501).  HTTP/1.1 keeps the connection open unless the client says
 * "Connection: close"; HTTP/1.0 closes it unless it says "keep-alive".
 *
 * usage: srv_http [-p PORT] [-w N]   (see srv.h; SIGUSR1 prints statistics,
 * with the offloaded calls in flight at that moment)
 */
#include "srv.h"

#include <stdatomic.h>
#include <strings.h>
#include <time.h>

#define BODY "Hello, World!"
#define OFFLOAD_NS 50000 /* the blocking call of /offload */

/* The server's own counters, printed with the runtime's statistics. */
static atomic_long offloads_in_flight;
static atomic_ullong requests_served;

/* What a request asks for (decided before its bytes are consumed). */
typedef enum http_route_t { ROUTE_HELLO, ROUTE_OFFLOAD, ROUTE_NOT_FOUND } http_route_t;

typedef struct http_request_t {
    size_t head_len;       /* request line and headers, blank line included */
    http_route_t route;
    int keep_alive;
    int chunked;
    unsigned long long content_length;
} http_request_t;

/* Case-insensitive: does the header line [p, p+len) start with name ":"? */
static const char *header_value(const char *p, size_t len, const char *name)
{
    size_t n = strlen(name);
    if (len <= n || p[n] != ':' || strncasecmp(p, name, n) != 0)
        return NULL;
    for (p += n + 1; *p == ' ' || *p == '\t'; p++)
        ;
    return p;
}

/* The headers we act on: Content-Length, Connection, Transfer-Encoding.
 * Returns -1 for a malformed Content-Length. */
static int parse_header(http_request_t *r, const char *line, size_t len)
{
    const char *v;
    if ((v = header_value(line, len, "Content-Length"))) {
        char *end;
        if (*v < '0' || *v > '9') /* strtoull would take "-1" */
            return -1;
        errno = 0;
        r->content_length = strtoull(v, &end, 10);
        if (errno || end == v || (*end != '\r' && *end != ' '))
            return -1;
    } else if ((v = header_value(line, len, "Connection"))) {
        if (strncasecmp(v, "close", 5) == 0)
            r->keep_alive = 0;
        else if (strncasecmp(v, "keep-alive", 10) == 0)
            r->keep_alive = 1;
    } else if ((v = header_value(line, len, "Transfer-Encoding"))) {
        r->chunked = strncasecmp(v, "identity", 8) != 0;
    }
    return 0;
}

static int path_is(const char *path, size_t len, const char *want)
{
    return len == strlen(want) && memcmp(path, want, len) == 0;
}

/* GET / and GET /offload; everything else is not found. */
static http_route_t find_route(const char *method, size_t method_len, const char *path,
                               size_t path_len)
{
    if (!path_is(method, method_len, "GET"))
        return ROUTE_NOT_FOUND;
    if (path_is(path, path_len, "/"))
        return ROUTE_HELLO;
    return path_is(path, path_len, "/offload") ? ROUTE_OFFLOAD : ROUTE_NOT_FOUND;
}

/* Parse the request at p[0 .. len): 1 and *r when its head is complete, 0
 * when more bytes are needed, -1 when it is malformed. */
static int parse_request(const char *p, size_t len, http_request_t *r)
{
    const char *head_end = memmem(p, len, "\r\n\r\n", 4);
    if (!head_end)
        return 0;
    memset(r, 0, sizeof *r);
    r->head_len = (size_t)(head_end - p) + 4;

    /* Request line: METHOD SP TARGET SP HTTP/1.x CRLF */
    const char *eol = memmem(p, r->head_len, "\r\n", 2);
    const char *sp1 = memchr(p, ' ', (size_t)(eol - p));
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
    if (!sp2 || eol - sp2 - 1 != 8 || strncmp(sp2 + 1, "HTTP/1.", 7) != 0)
        return -1;
    r->route = find_route(p, (size_t)(sp1 - p), sp1 + 1, (size_t)(sp2 - sp1 - 1));
    r->keep_alive = sp2[8] == '1'; /* HTTP/1.1: keep-alive unless told otherwise */

    for (const char *line = eol + 2; line < head_end + 2;) {
        const char *next = memmem(line, (size_t)(head_end + 2 - line), "\r\n", 2);
        if (parse_header(r, line, (size_t)(next - line)) != 0)
            return -1;
        line = next + 2;
    }
    return 1;
}

/* Append a whole response. */
static int respond(srv_conn_t *c, const char *status, const char *body, int keep_alive)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n%s\r\n",
                     status, strlen(body), keep_alive ? "" : "Connection: close\r\n");
    int rc = srv_conn_append(c, head, (size_t)n);
    return rc != 0 ? rc : srv_conn_append_str(c, body);
}

/* The blocking call of /offload, on a blocking thread. */
static int blocking_call(void *arg)
{
    (void)arg;
    struct timespec ts = {.tv_sec = 0, .tv_nsec = OFFLOAD_NS};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    return 0;
}

static int offload(void)
{
    atomic_fetch_add_explicit(&offloads_in_flight, 1, memory_order_relaxed);
    int rc = weft_to_thread_run_sync(blocking_call, NULL, NULL);
    atomic_fetch_sub_explicit(&offloads_in_flight, 1, memory_order_relaxed);
    return rc;
}

/* Answer one request (its body already dropped). */
static int route(srv_conn_t *c, const http_request_t *r)
{
    atomic_fetch_add_explicit(&requests_served, 1, memory_order_relaxed);
    if (r->route == ROUTE_NOT_FOUND)
        return respond(c, "404 Not Found", "Not Found", r->keep_alive);
    if (r->route == ROUTE_OFFLOAD) {
        int rc = offload();
        if (rc != 0)
            return rc;
    }
    return respond(c, "200 OK", BODY, r->keep_alive);
}

/* [checkpoint] Read and drop n bytes of body. */
static int skip_body(srv_conn_t *c, unsigned long long n)
{
    while (n > 0) {
        if (srv_conn_avail(c) == 0) {
            int rc = srv_conn_fill(c);
            if (rc < 0)
                return rc;
        }
        size_t k = srv_conn_avail(c) < n ? srv_conn_avail(c) : (size_t)n;
        srv_conn_consume(c, k);
        n -= k;
    }
    return 0;
}

/* One request at the head of the input: 1 to go on, 0 when the connection
 * is to close (after its answers went out), or an error. */
static int serve_one(srv_conn_t *c)
{
    http_request_t r;
    int rc;
    while ((rc = parse_request(srv_conn_data(c), srv_conn_avail(c), &r)) == 0) {
        if ((rc = srv_conn_fill(c)) < 0)
            return rc == -E2BIG ? respond(c, "431 Request Header Fields Too Large", "", 0) : rc;
    }
    if (rc < 0)
        return respond(c, "400 Bad Request", "", 0);
    if (r.chunked)
        return respond(c, "501 Not Implemented", "", 0);
    srv_conn_consume(c, r.head_len);
    if ((rc = skip_body(c, r.content_length)) != 0)
        return rc;
    if ((rc = route(c, &r)) != 0)
        return rc;
    return r.keep_alive;
}

static int http_handler(weft_stream_t *s, void *arg)
{
    (void)arg;
    srv_conn_t *c = srv_conn_new(s);
    if (!c)
        return WEFT_ENOMEM;
    int rc;
    while ((rc = serve_one(c)) == 1)
        ;
    if (rc == 0)
        rc = srv_conn_flush(c);
    srv_conn_free(c);
    return srv_result(rc);
}

static void print_stats(void *arg)
{
    (void)arg;
    printf(" offloads_in_flight=%ld requests=%llu",
           atomic_load_explicit(&offloads_in_flight, memory_order_relaxed),
           atomic_load_explicit(&requests_served, memory_order_relaxed));
}

int main(int argc, char **argv)
{
    srv_args_t a = srv_parse_args(argc, argv, "HTTP/1.1: GET / and GET /offload (50 us blocking call)");
    srv_t srv = {.name = "srv_http", .handler = http_handler, .print_stats = print_stats};
    return srv_main(&a, &srv);
}
