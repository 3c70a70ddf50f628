/* weft_serve_ex's options and weft_stream_cancel_on_hangup.
 *  - max_connections: a burst of real TCP clients, each held by its handler
 *    for a while; the handlers running at once never exceed the limit and
 *    reach it, and every client is answered (back-pressure, no refusal);
 *  - the error policies: WEFT_SERVE_LOG prints the task's name and the peer
 *    to stderr and serves on; WEFT_SERVE_FAIL cancels the other handlers and
 *    returns the first error; a cancelled handler is no failure;
 *  - per-connection state: conn_open / conn_close once per connection, also
 *    for handlers cancelled by the server's end (ASan and LSan see a lost or
 *    doubled free); a conn_open error closes the connection;
 *  - hang-up: a handler blocked elsewhere (sleeping) has its scope cancelled
 *    when the peer closes or resets; bytes that arrived meanwhile stay for
 *    the next receive; a peer gone before arming cancels at once;
 *  - misuse: bad arguments and options, a second scope, outside a task.
 */
/* WEFT_TEST_TIMEOUT 120 */
#define _GNU_SOURCE
#include "io_helpers.h"

#include <stdio.h>
#include <unistd.h>

/* ------------------------------------------------------------ a server with options */

typedef struct server {
    weft_listener_t *l;
    weft_group_t g;
    weft_handler_t handler;
    void *arg;
    weft_serve_opts_t opts;
    int port;
    int rc;
    atomic_int done;
} server_t;

static int serve_task(void *p)
{
    server_t *sv = p;
    sv->rc = weft_serve_ex(sv->l, sv->handler, sv->arg, &sv->opts);
    atomic_store(&sv->done, 1);
    return 0;
}

/* Listen on 127.0.0.1 and serve with the options in sv->opts (set them up
 * first); the group is the caller's to close (server_stop). */
static int server_start(server_t *sv, weft_handler_t handler, void *arg)
{
    sv->handler = handler;
    sv->arg = arg;
    weft_listen_opts_t lo = {.backlog = 256};
    int rc = weft_tcp_listen(&sv->l, "127.0.0.1", 0, &lo);
    EXPECT_RC(rc, 0);
    if (rc)
        return rc;
    sv->port = weft_listener_port(sv->l);
    EXPECT_RC(weft_group_open(&sv->g), 0);
    weft_group_spawn(&sv->g, serve_task, sv);
    return 0;
}

/* Cancel the server (unless it ended already) and close everything: what
 * serve returned. */
static int server_stop(server_t *sv)
{
    if (!atomic_load(&sv->done))
        weft_group_cancel(&sv->g);
    EXPECT_RC(weft_group_close(&sv->g, 0), 0);
    EXPECT_RC(weft_listener_close(sv->l), 0);
    return sv->rc;
}

/* Send a line and expect `want` back, or with want NULL no answer, only the
 * close (a connection of the test's own). */
static int ask(int port, const char *line, const char *want)
{
    weft_stream_t *s;
    int rc = weft_tcp_connect(&s, "127.0.0.1", port);
    if (rc)
        return rc;
    rc = weft_stream_send(s, line, strlen(line));
    char buf[64] = "";
    if (rc == 0 && want) {
        rc = weft_stream_receive_exactly(s, buf, strlen(want));
        if (rc >= 0)
            rc = memcmp(buf, want, strlen(want)) == 0 ? 0 : WEFT_EINVAL;
    } else if (rc == 0) { /* no answer: wait until the handler is done (it closed) */
        rc = weft_stream_receive(s, buf, sizeof buf);
        rc = rc == WEFT_EOF || rc == -ECONNRESET ? 0 : rc < 0 ? rc : WEFT_EINVAL;
    }
    weft_stream_close(s);
    return rc;
}

/* ------------------------------------------------------------ connection limit */

typedef struct load {
    atomic_int active, peak, served;
    int port;
} load_t;

/* Hold the connection 30 ms, then answer its line. */
static int slow_answer(weft_stream_t *s, void *arg)
{
    load_t *ld = arg;
    int now = atomic_fetch_add(&ld->active, 1) + 1;
    int peak = atomic_load(&ld->peak);
    while (now > peak && !atomic_compare_exchange_weak(&ld->peak, &peak, now)) {
    }
    char line[16];
    int rc = weft_stream_receive_until(s, line, sizeof line, "\n", 1);
    if (rc >= 0)
        rc = weft_sleep(0.03);
    if (rc == 0)
        rc = weft_stream_send(s, "ok\n", 3);
    atomic_fetch_sub(&ld->active, 1);
    if (rc == 0)
        atomic_fetch_add(&ld->served, 1);
    return rc;
}

static int client_task(void *p)
{
    load_t *ld = p;
    EXPECT_RC(ask(ld->port, "hi\n", "ok\n"), 0);
    return 0;
}

#define LIMIT 3
#define CLIENTS 24

static int limit_holds_main(void *arg)
{
    (void)arg;
    load_t ld = {0};
    server_t sv = {0};
    weft_serve_opts_init(&sv.opts);
    sv.opts.max_connections = LIMIT;
    server_start(&sv, slow_answer, &ld);
    ld.port = sv.port;
    weft_group_t clients;
    EXPECT_RC(weft_group_open(&clients), 0);
    for (int i = 0; i < CLIENTS; i++)
        weft_group_spawn(&clients, client_task, &ld);
    EXPECT_RC(weft_group_close(&clients, 0), 0);
    EXPECT_RC(server_stop(&sv), WEFT_ECANCELED);
    EXPECT_RC(atomic_load(&ld.served), CLIENTS); /* none refused */
    EXPECT_RC(atomic_load(&ld.peak), LIMIT);     /* reached, never passed */
    return 0;
}

/* Without a limit the same load runs more than LIMIT at once: the check
 * above is not vacuous. */
static int no_limit_main(void *arg)
{
    (void)arg;
    load_t ld = {0};
    server_t sv = {0};
    weft_serve_opts_init(&sv.opts);
    server_start(&sv, slow_answer, &ld);
    ld.port = sv.port;
    weft_group_t clients;
    EXPECT_RC(weft_group_open(&clients), 0);
    for (int i = 0; i < CLIENTS; i++)
        weft_group_spawn(&clients, client_task, &ld);
    EXPECT_RC(weft_group_close(&clients, 0), 0);
    EXPECT_RC(server_stop(&sv), WEFT_ECANCELED);
    EXPECT_RC(atomic_load(&ld.served), CLIENTS);
    EXPECT(atomic_load(&ld.peak) > LIMIT);
    return 0;
}

/* ------------------------------------------------------------ error policies */

/* "fail\n": ends with -ENOTSUP; "hang\n": waits until cancelled (counted);
 * anything else: answered. */
typedef struct policy {
    atomic_int hanging, cancelled;
} policy_t;

static int picky(weft_stream_t *s, void *arg)
{
    policy_t *pl = arg;
    char line[16];
    int rc = weft_stream_receive_until(s, line, sizeof line, "\n", 1);
    if (rc < 0)
        return rc;
    if (rc == 4 && memcmp(line, "fail", 4) == 0)
        return -ENOTSUP;
    if (rc == 4 && memcmp(line, "hang", 4) == 0) {
        atomic_fetch_add(&pl->hanging, 1);
        rc = weft_sleep(WEFT_FOREVER);
        if (rc == WEFT_ECANCELED)
            atomic_fetch_add(&pl->cancelled, 1);
        return rc;
    }
    return weft_stream_send(s, "ok\n", 3);
}

static int policy_log_main(void *arg)
{
    (void)arg;
    policy_t pl = {0};
    server_t sv = {0};
    weft_serve_opts_init(&sv.opts); /* WEFT_SERVE_LOG */
    server_start(&sv, picky, &pl);
    EXPECT_RC(ask(sv.port, "fail\n", NULL), 0);
    EXPECT_RC(ask(sv.port, "fail\n", NULL), 0);
    EXPECT_RC(ask(sv.port, "hello\n", "ok\n"), 0); /* still serving */
    EXPECT(!atomic_load(&sv.done));
    EXPECT_RC(server_stop(&sv), WEFT_ECANCELED);
    return 0;
}

/* Run policy_log_main with stderr in a file: the two failures are printed,
 * with the task's name and the peer. */
static void policy_log(void)
{
    char path[] = "/tmp/weft-test-serve-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    dup2(fd, STDERR_FILENO);
    int rc = wt_run(policy_log_main, NULL, 2);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    WT_ASSERT_CLEAN();
    assert_rc(rc, 0);
    char log[4096] = "";
    ssize_t n = pread(fd, log, sizeof log - 1, 0);
    close(fd);
    unlink(path);
    assert_true(n > 0);
    log[n] = '\0';
    const char *want = "weft_serve: task 'connection' (peer 127.0.0.1:";
    const char *first = strstr(log, want);
    if (!first || !strstr(first + 1, want) || !strstr(log, "failed: ") ||
        !strstr(log, "(-95)")) {
        print_error("expected two lines \"%s<port>) failed: ... (-95)\" on stderr, got:\n%s\n",
                    want, log);
        fail();
    }
}

static int policy_fail_main(void *arg)
{
    (void)arg;
    policy_t pl = {0};
    server_t sv = {0};
    weft_serve_opts_init(&sv.opts);
    sv.opts.on_error = WEFT_SERVE_FAIL;
    server_start(&sv, picky, &pl);
    /* Two handlers waiting, then a normal one and a cancelled-looking one:
     * neither fails the server. */
    weft_stream_t *h1, *h2;
    EXPECT_RC(weft_tcp_connect(&h1, "127.0.0.1", sv.port), 0);
    EXPECT_RC(weft_tcp_connect(&h2, "127.0.0.1", sv.port), 0);
    EXPECT_RC(weft_stream_send(h1, "hang\n", 5), 0);
    EXPECT_RC(weft_stream_send(h2, "hang\n", 5), 0);
    EXPECT_RC(ask(sv.port, "hello\n", "ok\n"), 0);
    for (int i = 0; i < 500 && atomic_load(&pl.hanging) < 2; i++)
        weft_sleep(0.01);
    EXPECT(!atomic_load(&sv.done));
    /* The first error ends it all. */
    EXPECT_RC(ask(sv.port, "fail\n", NULL), 0);
    for (int i = 0; i < 500 && !atomic_load(&sv.done); i++)
        weft_sleep(0.01);
    EXPECT(atomic_load(&sv.done));
    EXPECT_RC(server_stop(&sv), -ENOTSUP);
    EXPECT_RC(atomic_load(&pl.cancelled), 2);
    weft_stream_close(h1);
    weft_stream_close(h2);
    return 0;
}

/* ------------------------------------------------------------ per-connection state */

typedef struct counts {
    atomic_int opened, closed, refused, handled, bad_arg;
    atomic_int next;
} counts_t;

typedef struct conn {
    counts_t *counts;
    int id;
    char *scratch; /* heap, so that a lost close leaks under LSan */
} conn_t;

/* Every fifth connection is refused by conn_open. */
static int conn_open(void *arg, void **out)
{
    counts_t *c = arg;
    int id = atomic_fetch_add(&c->next, 1);
    if (id % 5 == 4) {
        atomic_fetch_add(&c->refused, 1);
        return -ECONNREFUSED;
    }
    conn_t *k = malloc(sizeof *k);
    if (!k)
        return WEFT_ENOMEM;
    *k = (conn_t){c, id, malloc(64)};
    atomic_fetch_add(&c->opened, 1);
    *out = k;
    return 0;
}

static void conn_close(void *p, void *arg)
{
    conn_t *k = p;
    counts_t *c = arg;
    if (k->counts != c)
        atomic_fetch_add(&c->bad_arg, 1);
    atomic_fetch_add(&c->closed, 1);
    free(k->scratch);
    free(k);
}

/* Gets the connection's state; answers "hi", hangs on "hang". */
static int stateful(weft_stream_t *s, void *p)
{
    conn_t *k = p;
    char line[16];
    int rc = weft_stream_receive_until(s, line, sizeof line, "\n", 1);
    if (rc < 0)
        return rc;
    atomic_fetch_add(&k->counts->handled, 1);
    if (rc == 4 && memcmp(line, "hang", 4) == 0)
        return weft_sleep(WEFT_FOREVER);
    snprintf(k->scratch, 64, "conn %d\n", k->id);
    return weft_stream_send(s, "ok\n", 3);
}

static int conn_state_main(void *arg)
{
    (void)arg;
    counts_t c = {0};
    server_t sv = {0};
    weft_serve_opts_init(&sv.opts);
    sv.opts.conn_open = conn_open;
    sv.opts.conn_close = conn_close;
    server_start(&sv, stateful, &c);
    int refused_seen = 0;
    for (int i = 0; i < 10; i++) { /* one at a time: ids 4 and 9 are refused */
        int rc = ask(sv.port, "hi\n", "ok\n");
        if (i % 5 == 4) {
            EXPECT(rc != 0); /* closed without an answer */
            refused_seen += rc != 0;
        } else {
            EXPECT_RC(rc, 0);
        }
    }
    /* Three more left hanging: the server's end cancels them, and their
     * state is freed too. */
    weft_stream_t *h[3];
    for (int i = 0; i < 3; i++) {
        EXPECT_RC(weft_tcp_connect(&h[i], "127.0.0.1", sv.port), 0);
        EXPECT_RC(weft_stream_send(h[i], "hang\n", 5), 0);
    }
    for (int i = 0; i < 500 && atomic_load(&c.handled) < 11; i++)
        weft_sleep(0.01);
    EXPECT_RC(server_stop(&sv), WEFT_ECANCELED);
    for (int i = 0; i < 3; i++)
        weft_stream_close(h[i]);
    EXPECT_RC(refused_seen, 2);
    EXPECT_RC(atomic_load(&c.refused), 2);
    EXPECT_RC(atomic_load(&c.opened), 11);
    EXPECT_RC(atomic_load(&c.closed), 11);
    EXPECT_RC(atomic_load(&c.handled), 11);
    EXPECT_RC(atomic_load(&c.bad_arg), 0);
    return 0;
}

/* ------------------------------------------------------------ hang-up */

typedef struct hangup {
    atomic_int armed;   /* the handler armed its watch */
    atomic_int outcome; /* 1: its scope was cancelled by the hang-up */
    double blocked_for;
    char rest[32];      /* what a receive got after the watch */
    int rest_len;
    int mode;           /* 0: sleep until hung up; 1: first a quiet spell, then receive */
} hangup_t;

/* Read a line, then block (sleep) under a scope cancelled by a hang-up. */
static int watch_handler(weft_stream_t *s, void *arg)
{
    hangup_t *h = arg;
    char line[16];
    int rc = weft_stream_receive_until(s, line, sizeof line, "\n", 1);
    if (rc < 0)
        return rc;
    if (h->mode == 1) {
        /* Armed while bytes arrive: they stay for the receive after. */
        weft_scope_t quiet;
        weft_move_on_after(&quiet, 0.3);
        EXPECT_RC(weft_stream_cancel_on_hangup(s, &quiet), 0);
        atomic_store(&h->armed, 1);
        rc = weft_sleep(WEFT_FOREVER);
        EXPECT_RC(weft_stream_cancel_on_hangup(s, NULL), 0);
        EXPECT_RC(weft_scope_exit(&quiet, rc), 0);
        h->rest_len = weft_stream_receive_exactly(s, h->rest, 10);
    }
    weft_scope_t sc;
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    double t0 = weft_now();
    EXPECT_RC(weft_stream_cancel_on_hangup(s, &sc), 0);
    EXPECT_RC(weft_stream_cancel_on_hangup(s, &sc), 0); /* the same again */
    atomic_store(&h->armed, 1);
    weft_scope_t limit; /* a broken watch fails the case, not hangs it */
    weft_move_on_after(&limit, 10);
    rc = weft_sleep(WEFT_FOREVER);
    rc = weft_scope_exit(&limit, rc);
    h->blocked_for = weft_now() - t0;
    EXPECT_RC(weft_stream_cancel_on_hangup(s, NULL), 0);
    atomic_store(&h->outcome, weft_scope_cancel_called(&sc) ? 1 : 2);
    EXPECT_RC(weft_scope_exit(&sc, rc), 0);
    return 0;
}

static int wait_armed(hangup_t *h)
{
    for (int i = 0; i < 1000 && !atomic_load(&h->armed); i++)
        weft_sleep(0.005);
    return atomic_load(&h->armed);
}

static int wait_outcome(hangup_t *h)
{
    for (int i = 0; i < 2000 && !atomic_load(&h->outcome); i++)
        weft_sleep(0.01);
    return atomic_load(&h->outcome);
}

static int hangup_start(server_t *sv, hangup_t *h)
{
    weft_serve_opts_init(&sv->opts);
    return server_start(sv, watch_handler, h);
}

/* The peer closes while the handler sleeps: its scope is cancelled. */
static int hangup_close_main(void *arg)
{
    (void)arg;
    hangup_t h = {0};
    server_t sv = {0};
    hangup_start(&sv, &h);
    weft_stream_t *c;
    EXPECT_RC(weft_tcp_connect(&c, "127.0.0.1", sv.port), 0);
    EXPECT_RC(weft_stream_send(c, "go\n", 3), 0);
    EXPECT(wait_armed(&h));
    weft_sleep(0.05); /* really blocked */
    EXPECT_RC(atomic_load(&h.outcome), 0);
    weft_stream_close(c);
    EXPECT_RC(wait_outcome(&h), 1);
    EXPECT(h.blocked_for < 5);
    EXPECT_RC(server_stop(&sv), WEFT_ECANCELED);
    return 0;
}

/* Bytes sent while the watch is armed are not taken by it; then the close. */
static int hangup_keeps_bytes_main(void *arg)
{
    (void)arg;
    hangup_t h = {.mode = 1};
    server_t sv = {0};
    hangup_start(&sv, &h);
    weft_stream_t *c;
    EXPECT_RC(weft_tcp_connect(&c, "127.0.0.1", sv.port), 0);
    EXPECT_RC(weft_stream_send(c, "go\n", 3), 0);
    EXPECT(wait_armed(&h));
    EXPECT_RC(weft_stream_send(c, "0123456789", 10), 0);
    weft_sleep(0.5); /* the quiet spell ends; the handler read the 10 bytes */
    EXPECT_RC(h.rest_len, 10);
    EXPECT(memcmp(h.rest, "0123456789", 10) == 0);
    EXPECT_RC(atomic_load(&h.outcome), 0);
    weft_stream_close(c);
    EXPECT_RC(wait_outcome(&h), 1);
    EXPECT_RC(server_stop(&sv), WEFT_ECANCELED);
    return 0;
}

/* A blocking client socket that resets the connection on close. */
typedef struct raw {
    int port, fd;
} raw_t;

static int raw_connect(void *p)
{
    raw_t *r = p;
    r->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)r->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (r->fd < 0 || connect(r->fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        return -errno;
    return send(r->fd, "go\n", 3, MSG_NOSIGNAL) == 3 ? 0 : -errno;
}

static int raw_reset(void *p)
{
    raw_t *r = p;
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(r->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    return close(r->fd);
}

static int hangup_reset_main(void *arg)
{
    (void)arg;
    hangup_t h = {0};
    server_t sv = {0};
    hangup_start(&sv, &h);
    raw_t r = {.port = sv.port};
    EXPECT_RC(weft_to_thread_run_sync(raw_connect, &r, NULL), 0);
    EXPECT(wait_armed(&h));
    EXPECT_RC(weft_to_thread_run_sync(raw_reset, &r, NULL), 0);
    EXPECT_RC(wait_outcome(&h), 1);
    EXPECT_RC(server_stop(&sv), WEFT_ECANCELED);
    return 0;
}

/* The peer sent its line and closed before the handler armed: at once. */
static int hangup_before_main(void *arg)
{
    (void)arg;
    hangup_t h = {0};
    server_t sv = {0};
    hangup_start(&sv, &h);
    weft_stream_t *c;
    EXPECT_RC(weft_tcp_connect(&c, "127.0.0.1", sv.port), 0);
    EXPECT_RC(weft_stream_send(c, "go\n", 3), 0);
    weft_stream_close(c);
    EXPECT_RC(wait_outcome(&h), 1);
    EXPECT(h.blocked_for < 5);
    EXPECT_RC(server_stop(&sv), WEFT_ECANCELED);
    return 0;
}

/* ------------------------------------------------------------ misuse */

static int nop_handler(weft_stream_t *s, void *arg)
{
    (void)s;
    (void)arg;
    return 0;
}

static void free_nothing(void *conn, void *arg)
{
    (void)conn;
    (void)arg;
}

static int misuse_main(void *arg)
{
    (void)arg;
    weft_listener_t *l;
    EXPECT_RC(weft_tcp_listen(&l, "127.0.0.1", 0, NULL), 0);
    weft_serve_opts_t o;
    weft_serve_opts_init(&o);
    EXPECT_RC(o.opts_size, sizeof o);
    EXPECT_RC(weft_serve_ex(NULL, nop_handler, NULL, &o), WEFT_EINVAL);
    EXPECT_RC(weft_serve_ex(l, NULL, NULL, &o), WEFT_EINVAL);
    o.on_error = 7;
    EXPECT_RC(weft_serve_ex(l, nop_handler, NULL, &o), WEFT_EINVAL);
    weft_serve_opts_init(&o);
    o.conn_close = free_nothing; /* without conn_open */
    EXPECT_RC(weft_serve_ex(l, nop_handler, NULL, &o), WEFT_EINVAL);
    weft_serve_opts_init(&o);
    o.opts_size = sizeof o + 8; /* a newer header's */
    EXPECT_RC(weft_serve_ex(l, nop_handler, NULL, &o), WEFT_EINVAL);
    weft_serve_opts_init(NULL); /* nothing happens */

    /* A cancelled caller: returns at once; opts NULL and opts_size 0 work. */
    weft_scope_t sc;
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    weft_scope_cancel(&sc);
    EXPECT_RC(weft_serve_ex(l, nop_handler, NULL, NULL), WEFT_ECANCELED);
    weft_serve_opts_init(&o);
    o.opts_size = 0;
    o.max_connections = 2;
    EXPECT_RC(weft_serve_ex(l, nop_handler, NULL, &o), WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&sc, WEFT_ECANCELED), 0);

    /* Hang-up: NULL stream, a second scope, a closed stream's neighbour. */
    EXPECT_RC(weft_stream_cancel_on_hangup(NULL, &sc), WEFT_EINVAL);
    weft_stream_t *c, *a;
    EXPECT_RC(weft_tcp_connect(&c, "127.0.0.1", weft_listener_port(l)), 0);
    EXPECT_RC(weft_listener_accept(l, &a), 0);
    weft_scope_t s1, s2;
    weft_scope_enter(&s1, WEFT_FOREVER, 0);
    weft_scope_enter(&s2, WEFT_FOREVER, 0);
    EXPECT_RC(weft_stream_cancel_on_hangup(a, &s1), 0);
    EXPECT_RC(weft_stream_cancel_on_hangup(a, &s2), WEFT_EBUSY);
    EXPECT_RC(weft_stream_cancel_on_hangup(a, NULL), 0);
    EXPECT_RC(weft_stream_cancel_on_hangup(a, NULL), 0); /* disarming twice */
    EXPECT_RC(weft_stream_cancel_on_hangup(a, &s2), 0);
    EXPECT_RC(weft_stream_close(a), 0); /* disarms */
    EXPECT_RC(weft_stream_close(c), 0);
    weft_sleep(0.05);
    EXPECT(!weft_scope_cancel_called(&s1));
    EXPECT(!weft_scope_cancel_called(&s2));
    EXPECT_RC(weft_scope_exit(&s2, 0), 0);
    EXPECT_RC(weft_scope_exit(&s1, 0), 0);
    EXPECT_RC(weft_listener_close(l), 0);
    return 0;
}

/* Outside a task: WEFT_EPERM, nothing to serve. */
static void misuse_outside(void)
{
    weft_serve_opts_t o;
    weft_serve_opts_init(&o);
    assert_rc(weft_serve_ex((weft_listener_t *)&o, nop_handler, NULL, &o), WEFT_EPERM);
}

static const wt_case_t cases[] = {
    WT_CASE(limit_holds_main),
    WT_CASE(no_limit_main),
    WT_TEST(policy_log),
    WT_CASE(policy_fail_main),
    WT_CASE(conn_state_main),
    WT_CASE(hangup_close_main),
    WT_CASE(hangup_keeps_bytes_main),
    WT_CASE(hangup_reset_main),
    WT_CASE(hangup_before_main),
    WT_CASE(misuse_main),
    WT_TEST(misuse_outside),
};
WT_SUITE(cases)
