/* Stress: TCP through weft_serve on every worker.
 *  - round trips: C clients x R round trips of 64 bytes against an echo
 *    server (weft_serve) on 2 and 4 workers, all at once.  Four kinds of
 *    client: plain; "retry", whose every receive runs under a random tiny
 *    deadline and is retried when cancelled (a cancelled receive loses
 *    nothing: exact byte counts and contents); "duplex", where one task
 *    sends while another receives on the same stream (on any workers);
 *    "abandon", whose whole session runs under a random short deadline and
 *    gives up when it expires (what it got back must be what it sent, in
 *    order, as far as it got).  Invariants: every client that was not
 *    abandoned got exactly R * 64 bytes back, each byte right; every
 *    handler ended; serve returned WEFT_ECANCELED when cancelled; only
 *    abandoned connections may end with an error on the server's side.
 *  - connect storm: connects cancelled at random moments around the
 *    connection (random tiny deadlines), each connected stream used once
 *    and closed; every connect either succeeds or is cancelled.
 * Sizes scale with WEFT_STRESS_SCALE; much smaller under TSan. */
/* WEFT_TEST_TIMEOUT 600 */
#define _GNU_SOURCE
#include "thread_helpers.h"
#include "io_helpers.h"

#define MSG 64

enum { PLAIN, RETRY, DUPLEX, ABANDON, NKINDS };

typedef struct {
    int port, id, kind, rounds;
    uint64_t rng;
    double budget;          /* ABANDON: the session's deadline (s) */
    weft_stream_t *s;
    long sent, received;    /* bytes */
    int abandoned;          /* ABANDON and its deadline expired */
    int retries;            /* RETRY: cancelled receives */
    int failed;
} client_t;

/* Receive exactly n bytes into buf; RETRY clients under tiny deadlines. */
static int client_recv(client_t *c, char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        int r;
        if (c->kind == RETRY) {
            weft_scope_t sc;
            weft_move_on_after(&sc, wt_tiny_deadline(&c->rng, 0.3, 0.1));
            r = weft_stream_receive(c->s, buf + got, n - got);
            weft_scope_exit(&sc, 0);
            if (r == WEFT_ECANCELED) {
                c->retries++;
                continue;
            }
        } else {
            r = weft_stream_receive(c->s, buf + got, n - got);
        }
        if (r < 0)
            return r;
        got += (size_t)r;
    }
    return (int)n;
}

/* One round trip at a time (PLAIN, RETRY, ABANDON). */
static int client_rounds(client_t *c)
{
    char out[MSG], in[MSG];
    for (int r = 0; r < c->rounds; r++) {
        wt_pat_fill(out, MSG, (uint64_t)c->id, (uint64_t)c->sent);
        int rc = weft_stream_send(c->s, out, MSG);
        if (rc)
            return rc;
        c->sent += MSG;
        rc = client_recv(c, in, MSG);
        if (rc < 0)
            return rc;
        if (wt_pat_check(in, MSG, (uint64_t)c->id, (uint64_t)c->received) >= 0) {
            wt_failf(__FILE__, __LINE__, "client %d (kind %d): round %d came back wrong",
                     c->id, c->kind, r);
            c->failed = 1;
            return WEFT_EINVAL;
        }
        c->received += MSG;
    }
    return 0;
}

/* DUPLEX: this task sends everything while client_duplex receives. */
static int duplex_sender(void *p)
{
    client_t *c = p;
    char out[MSG];
    long off = 0;
    for (int r = 0; r < c->rounds; r++) {
        wt_pat_fill(out, MSG, (uint64_t)c->id, (uint64_t)off);
        int rc = weft_stream_send(c->s, out, MSG);
        EXPECT_RC(rc, 0);
        if (rc)
            break;
        off += MSG;
        if (r % 16 == 0)
            weft_checkpoint();
    }
    c->sent = off;
    return 0;
}

static int client_duplex(client_t *c)
{
    weft_group_t g;
    int rc = weft_group_open(&g);
    if (rc)
        return rc;
    weft_group_spawn(&g, duplex_sender, c);
    char in[4 * MSG];
    long want = (long)c->rounds * MSG;
    while (c->received < want) {
        long left = want - c->received;
        int n = weft_stream_receive(c->s, in, left < (long)sizeof in ? (size_t)left : sizeof in);
        if (n < 0) {
            rc = n;
            weft_group_cancel(&g);
            break;
        }
        if (wt_pat_check(in, (size_t)n, (uint64_t)c->id, (uint64_t)c->received) >= 0) {
            wt_failf(__FILE__, __LINE__, "client %d (duplex): bytes at %ld came back wrong",
                     c->id, c->received);
            c->failed = 1;
            rc = WEFT_EINVAL;
            weft_group_cancel(&g);
            break;
        }
        c->received += n;
    }
    int closed = weft_group_close(&g, 0);
    return rc ? rc : closed;
}

static int client_task(void *p)
{
    client_t *c = p;
    weft_scope_t whole;
    if (c->kind == ABANDON)
        weft_move_on_after(&whole, c->budget);
    int rc = weft_tcp_connect(&c->s, "127.0.0.1", c->port);
    if (rc == 0) {
        if (c->id % 3 == 0)
            weft_stream_set_nodelay(c->s, 1);
        rc = c->kind == DUPLEX ? client_duplex(c) : client_rounds(c);
        if (rc == 0 && c->kind != ABANDON) {
            /* The end: our EOF, the handler's EOF back. */
            rc = weft_stream_send_eof(c->s);
            if (rc == 0) {
                char b[8];
                rc = weft_stream_receive(c->s, b, sizeof b);
                rc = rc == WEFT_EOF ? 0 : rc < 0 ? rc : WEFT_EINVAL;
            }
        }
        EXPECT_RC(weft_stream_close(c->s), 0);
    }
    if (c->kind == ABANDON) {
        rc = weft_scope_exit(&whole, rc);
        c->abandoned = weft_scope_cancelled_caught(&whole);
        if (c->abandoned)
            return 0;
    }
    if (rc) {
        wt_failf(__FILE__, __LINE__, "client %d (kind %d): %d (%s) after %ld of %ld bytes",
                 c->id, c->kind, rc, weft_err_name(rc), c->received, c->sent);
        c->failed = 1;
    }
    return 0;
}

typedef struct {
    int clients, rounds;
    uint64_t seed;
} rt_cfg_t;

static void round_trips_run(const rt_cfg_t *cfg)
{
    wt_echo_stats_t stats;
    memset(&stats, 0, sizeof stats);
    wt_server_t sv;
    if (WT_SERVER_START(&sv, "127.0.0.1", wt_echo_handler, &stats) != 0)
        return;
    client_t *cl = calloc((size_t)cfg->clients, sizeof *cl);
    uint64_t rng = cfg->seed;
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < cfg->clients; i++) {
        client_t *c = &cl[i];
        c->port = sv.port;
        c->id = i;
        c->kind = (int)(wt_rand(&rng) % NKINDS);
        c->rounds = cfg->rounds;
        c->rng = wt_rand(&rng);
        /* From before the connect to well into the round trips. */
        c->budget = wt_randf(&rng) * 0.05;
        weft_group_spawn(&g, client_task, c);
    }
    EXPECT_RC(weft_group_close(&g, 0), 0);
    /* Every handler ends by itself: at EOF, or (for an abandoned client,
     * which may close with bytes unread) at a reset. */
    WAIT_FOR(atomic_load(&stats.ended) == atomic_load(&stats.started));
    WT_SERVER_STOP(&sv);

    long expect_bytes = 0;
    int abandoned = 0, retries = 0, kinds[NKINDS] = {0};
    for (int i = 0; i < cfg->clients; i++) {
        client_t *c = &cl[i];
        kinds[c->kind]++;
        retries += c->retries;
        if (c->abandoned) {
            abandoned++;
            EXPECT(c->received <= c->sent);
            continue;
        }
        if (c->failed)
            continue;
        if (c->received != (long)cfg->rounds * MSG || c->sent != c->received)
            wt_failf(__FILE__, __LINE__, "client %d (kind %d): sent %ld, got back %ld of %ld",
                     i, c->kind, c->sent, c->received, (long)cfg->rounds * MSG);
        expect_bytes += c->received;
    }
    /* Only connections of ABANDON clients may end in errors (a reset, or
     * ENOTCONN from send_eof after one);
     * every other handler saw EOF; the server echoed at least what the
     * clients got back. */
    int errors = atomic_load(&stats.errors), last = atomic_load(&stats.last_error);
    if (errors > kinds[ABANDON] ||
        (errors && last != -ECONNRESET && last != WEFT_EPIPE && last != -ENOTCONN))
        wt_failf(__FILE__, __LINE__,
                 "%d handlers ended in errors (the last %s); %d ABANDON clients, %d abandoned",
                 errors, weft_err_name(last), kinds[ABANDON], abandoned);
    EXPECT(atomic_load(&stats.ended) == atomic_load(&stats.started));
    EXPECT(atomic_load(&stats.started) <= cfg->clients);
    EXPECT(atomic_load(&stats.started) >= cfg->clients - abandoned);
    EXPECT(atomic_load(&stats.eof) >= cfg->clients - kinds[ABANDON]);
    EXPECT(atomic_load(&stats.bytes) >= expect_bytes);
    EXPECT(kinds[RETRY] == 0 || retries > 0);
    free(cl);
}

/* Twice per worker count, a seed for each time and count. */
static int round_trips(void *p)
{
    (void)p;
    weft_runtime_stats_t rs;
    EXPECT_RC(weft_runtime_stats(&rs), 0);
    rt_cfg_t cfg = {.clients = wt_scaled(WT_TSAN_PICK(200, 100)),
                    .rounds = WT_TSAN_PICK(200, 50)};
    for (int rep = 0; rep < 2; rep++) {
        cfg.seed = 1000 + (uint64_t)rep * 10 + (rs.workers == 4);
        round_trips_run(&cfg);
    }
    return 0;
}

/* ------------------------------------------------------------ connect storm */

typedef struct {
    int port, tries;
    uint64_t rng;
    int connected, cancelled;
} storm_t;

static int storm_task(void *p)
{
    storm_t *s = p;
    for (int i = 0; i < s->tries; i++) {
        weft_scope_t sc;
        double d = wt_randf(&s->rng) < 0.5 ? wt_tiny_deadline(&s->rng, 0.1, 0.1)
                                           : wt_randf(&s->rng) * 2e-3;
        weft_move_on_after(&sc, d);
        weft_stream_t *c = NULL;
        int rc = weft_tcp_connect(&c, "127.0.0.1", s->port);
        weft_scope_exit(&sc, 0);
        if (rc == 0) {
            s->connected++;
            if (i % 2) { /* use it once */
                char b[MSG];
                wt_pat_fill(b, MSG, (uint64_t)i, 0);
                EXPECT_RC(weft_stream_send(c, b, MSG), 0);
                char in[MSG];
                EXPECT_RC(wt_recv_exact(c, in, MSG), MSG);
                EXPECT(memcmp(in, b, MSG) == 0);
            }
            EXPECT_RC(weft_stream_close(c), 0);
        } else {
            EXPECT_RC(rc, WEFT_ECANCELED);
            s->cancelled++;
        }
    }
    return 0;
}

static int connect_storm(void *p)
{
    (void)p;
    wt_echo_stats_t stats;
    memset(&stats, 0, sizeof stats);
    wt_server_t sv;
    if (WT_SERVER_START(&sv, "127.0.0.1", wt_echo_handler, &stats) != 0)
        return 0;
    int tasks = WT_TSAN_PICK(16, 8), tries = wt_scaled(WT_TSAN_PICK(100, 50));
    storm_t *s = calloc((size_t)tasks, sizeof *s);
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < tasks; i++) {
        s[i] = (storm_t){.port = sv.port, .tries = tries, .rng = 77 + (uint64_t)i};
        weft_group_spawn(&g, storm_task, &s[i]);
    }
    EXPECT_RC(weft_group_close(&g, 0), 0);
    int connected = 0, cancelled = 0;
    for (int i = 0; i < tasks; i++) {
        connected += s[i].connected;
        cancelled += s[i].cancelled;
    }
    EXPECT(connected + cancelled == tasks * tries);
    /* Every connection that connected reaches a handler (some cancelled
     * ones too: the kernel completed them first), and every handler ends
     * at the client's EOF. */
    WAIT_FOR(atomic_load(&stats.started) >= connected);
    WAIT_FOR(atomic_load(&stats.ended) == atomic_load(&stats.started));
    WT_SERVER_STOP(&sv);
    free(s);
    return 0;
}


static const wt_case_t cases[] = {
    WT_CASE_ON(round_trips, WT_W2 | WT_W4),
    WT_CASE_ON(connect_storm, WT_W2 | WT_W4),
};
WT_SUITE(cases)
