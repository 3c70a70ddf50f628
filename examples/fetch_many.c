/*
 * fetch_many — many requests at once, a few of them doomed.
 *
 * The program starts its own servers on ephemeral ports of 127.0.0.1:
 *   fast    answers "GET <n>" with "item <n>: <n*n>" after a short delay;
 *   slow    reads the request and never answers;
 *   closed  a port where nothing listens any more (connection refused).
 * Then it fetches REQUESTS items spread over the three, with
 *   - a semaphore, so that at most CONCURRENCY requests are in flight;
 *   - weft_fail_after around each request (connect, send, read to EOF), so a
 *     slow server costs one deadline, not the whole run;
 *   - results collected as data: each task stores its outcome and returns 0,
 *     so one failed request does not cancel its siblings (as it would if the
 *     task returned the error: a task group treats errors as fatal).
 *
 * usage: fetch_many [--timeout SECONDS]   (default 1)
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weft.h>

#define REQUESTS 24
#define CONCURRENCY 6

enum target { FAST, SLOW, CLOSED, TARGETS };
static const char *const target_names[TARGETS] = {"fast", "slow", "closed"};

struct fetcher {
    int port[TARGETS];
    double timeout;
    weft_sem_t *slots;
    atomic_int in_flight;
};

struct request {
    struct fetcher *f;
    int id;
    enum target target;
    int rc;             /* the outcome: 0 or an error, as data */
    int in_flight;      /* requests in flight when this one started, itself included */
    char body[64];
};

/* ---------------------------------------------------------------- the servers */

/* Read one request line; returns the number in "GET <n>", or an error. */
static int read_request(weft_stream_t *s) {
    char line[32];
    size_t used = 0;
    do {
        int n = weft_stream_receive(s, line + used, sizeof line - 1 - used);
        if (n < 0) return n;
        used += (size_t)n;
        line[used] = '\0';
    } while (strchr(line, '\n') == NULL && used < sizeof line - 1);
    int id;
    return sscanf(line, "GET %d", &id) == 1 && id >= 0 ? id : WEFT_EINVAL;
}

static int serve_fast(weft_stream_t *s, void *arg) {
    (void)arg;
    int id = read_request(s);
    if (id < 0) return id;
    int rc = weft_sleep(0.01 * (id % 5)); /* "work" of 0 to 40 ms */
    if (rc != 0) return rc;
    char reply[48];
    int len = snprintf(reply, sizeof reply, "item %d: %d", id, id * id);
    return weft_stream_send(s, reply, (size_t)len);
}

static int serve_slow(weft_stream_t *s, void *arg) {
    (void)arg;
    int id = read_request(s);
    return id < 0 ? id : weft_sleep(WEFT_FOREVER); /* until the server is cancelled */
}

struct server {
    weft_listener_t *listener;
    weft_handler_t handler;
};

static int run_server(void *arg) {
    struct server *sv = arg;
    return weft_serve(sv->listener, sv->handler, NULL);
}

/* ---------------------------------------------------------------- the client */

static int fetch_once(struct request *r) {
    weft_stream_t *s;
    int rc = weft_tcp_connect(&s, "127.0.0.1", r->f->port[r->target]);
    if (rc != 0) return rc;
    char req[32];
    int len = snprintf(req, sizeof req, "GET %d\n", r->id);
    rc = weft_stream_send(s, req, (size_t)len);
    size_t used = 0;
    int n = 0;
    while (rc == 0 && (n = weft_stream_receive(s, r->body + used, sizeof r->body - 1 - used)) > 0)
        used += (size_t)n;
    r->body[used] = '\0';
    if (rc == 0 && n != WEFT_EOF) rc = n;
    weft_stream_close(s);
    return rc;
}

static int fetch(void *arg) {
    struct request *r = arg;
    int rc = weft_sem_acquire(r->f->slots); /* waiting for a slot is not part of the deadline */
    if (rc != 0) return r->rc = rc;         /* only WEFT_ECANCELED: the whole run was cancelled */
    r->in_flight = atomic_fetch_add(&r->f->in_flight, 1) + 1;
    weft_scope_t deadline;
    weft_fail_after(&deadline, r->f->timeout);
    rc = weft_scope_exit(&deadline, fetch_once(r));
    atomic_fetch_sub(&r->f->in_flight, 1);
    weft_sem_release(r->f->slots);
    r->rc = rc;
    /* A failed fetch is a result, not a reason to stop the others; only a
     * cancellation from outside travels on. */
    return rc == WEFT_ECANCELED ? rc : 0;
}

static int fetch_all(struct fetcher *f, struct request *reqs) {
    weft_group_t g;
    weft_group_open(&g);
    for (int i = 0; i < REQUESTS; i++) {
        int id = i + 1;
        reqs[i] = (struct request){.f = f, .id = id,
                                   .target = id % 6 == 0 ? SLOW : id % 6 == 3 ? CLOSED : FAST};
        weft_group_spawn(&g, fetch, &reqs[i]);
    }
    return weft_group_close(&g, 0);
}

/* ---------------------------------------------------------------- main */

/* A port on which nothing listens: listen on a free one, then close it. */
static int closed_port(void) {
    weft_listener_t *l;
    int rc = weft_tcp_listen(&l, "127.0.0.1", 0, NULL);
    if (rc != 0) return rc;
    int port = weft_listener_port(l);
    weft_listener_close(l);
    return port;
}

static void report(const struct fetcher *f, const struct request *reqs, double seconds) {
    int ok = 0, timed_out = 0, refused = 0, peak = 0;
    for (int i = 0; i < REQUESTS; i++) {
        const struct request *r = &reqs[i];
        peak = r->in_flight > peak ? r->in_flight : peak;
        if (r->rc == 0) {
            ok++;
            printf("  #%-2d %-6s ok: \"%s\"\n", r->id, target_names[r->target], r->body);
        } else {
            timed_out += r->rc == WEFT_ETIMEDOUT;
            refused += r->rc == -ECONNREFUSED;
            printf("  #%-2d %-6s failed: %s (%s)\n", r->id, target_names[r->target],
                   weft_err_name(r->rc), weft_strerror(r->rc));
        }
    }
    printf("%d requests in %.1f s, peak %d in flight (limit %d): %d ok, %d timed out after "
           "%.1f s, %d refused\n",
           REQUESTS, seconds, peak, CONCURRENCY, ok, timed_out, f->timeout, refused);
}

static int fetch_many(void *arg) {
    struct fetcher *f = arg;
    weft_listener_t *fast, *slow;
    int rc = weft_tcp_listen(&fast, "127.0.0.1", 0, NULL);
    if (rc == 0 && (rc = weft_tcp_listen(&slow, "127.0.0.1", 0, NULL)) != 0) weft_listener_close(fast);
    if (rc != 0) return rc;
    f->port[FAST] = weft_listener_port(fast);
    f->port[SLOW] = weft_listener_port(slow);
    f->port[CLOSED] = closed_port();
    if (f->port[CLOSED] < 0) rc = f->port[CLOSED];
    if (rc == 0) rc = weft_sem_new(&f->slots, CONCURRENCY, CONCURRENCY);

    struct server servers[] = {{fast, serve_fast}, {slow, serve_slow}};
    struct request reqs[REQUESTS];
    weft_group_t g;
    weft_group_open(&g);
    if (rc == 0) {
        printf("fast server on 127.0.0.1:%d, slow one on :%d, nothing on :%d; %d requests, at "
               "most %d at once, each within %.1f s\n",
               f->port[FAST], f->port[SLOW], f->port[CLOSED], REQUESTS, CONCURRENCY, f->timeout);
        for (size_t i = 0; i < sizeof servers / sizeof servers[0]; i++)
            weft_group_spawn(&g, run_server, &servers[i]);
        double t0 = weft_now();
        rc = fetch_all(f, reqs);
        if (rc == 0) report(f, reqs, weft_now() - t0);
    }
    weft_group_cancel(&g); /* the servers' work is done */
    rc = weft_group_close(&g, rc);
    weft_listener_close(fast);
    weft_listener_close(slow);
    weft_sem_free(f->slots);
    return rc;
}

int main(int argc, char **argv) {
    struct fetcher f = {.timeout = 1.0};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            f.timeout = atof(argv[++i]);
        } else {
            fprintf(stderr, "usage: %s [--timeout SECONDS]\n", argv[0]);
            return 2;
        }
    }
    if (!(f.timeout > 0)) {
        fprintf(stderr, "fetch_many: the timeout must be positive\n");
        return 2;
    }
    weft_config_t config = {.workers = 2};
    int rc = weft_run(fetch_many, &f, &config);
    if (rc != 0) fprintf(stderr, "fetch_many failed: %s\n", weft_strerror(rc));
    return rc == 0 ? 0 : 1;
}
