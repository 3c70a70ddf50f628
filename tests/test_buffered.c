/* Buffered receives on byte streams: weft_stream_receive_exactly and
 * weft_stream_receive_until, on every kind of stream (TCP, Unix sockets, a
 * process's pipes through cat, adopted socketpairs and pipes).
 *  - AnyIO's tests of BufferedByteReceiveStream (tests/streams/
 *    test_buffered.py): exactly across chunks, until a delimiter, the end of
 *    the stream first (WEFT_EINCOMPLETE; the bytes stay readable);
 *  - until's limit: a delimiter starting at most max bytes in is found,
 *    -EMSGSIZE as soon as none can and nothing consumed; a delimiter split
 *    over two arrivals; an empty line; bytes after the delimiter stay for
 *    every kind of receive;
 *  - cancellation consumes nothing, also level (a cancelled scope with the
 *    bytes already there);
 *  - larger than the stream's 64 KiB buffer: exactly (read straight into the
 *    caller's buffer) and until (the buffer grows), both cancelled in the
 *    middle and then read again in order;
 *  - close under a waiting receive, a second receive (-EBUSY), bad arguments,
 *    the error's name.
 *
 * White box: stream.h gives what is pending in a stream's buffer (read on
 * one worker only, where no other thread touches it).
 */
/* WEFT_TEST_TIMEOUT 300 */
#define _GNU_SOURCE
#include "io_helpers.h"

#include "io/stream.h"

#include <limits.h>
#include <unistd.h>

/* ------------------------------------------------------------ stream pairs */

/* A connection to test on: bytes sent on tx arrive on rx. */
typedef struct pair {
    weft_stream_t *tx, *rx;
    weft_stream_t *other_rx, *other_tx; /* the unused directions (sockets) */
    weft_listener_t *l;
    weft_process_t *p;
    int one_way;       /* a pipe: the sender ends by closing */
} pair_t;

typedef int (*pair_open_t)(pair_t *p);

static int socket_pair(pair_t *p, int unix_socket)
{
    char path[64];
    int rc;
    if (unix_socket) {
        snprintf(path, sizeof path, "/tmp/weft-buffered-%d-%p.sock", (int)getpid(), (void *)p);
        unlink(path);
        rc = weft_unix_listen(&p->l, path, NULL);
    } else {
        rc = weft_tcp_listen(&p->l, "127.0.0.1", 0, NULL);
    }
    if (rc)
        return rc;
    rc = unix_socket ? weft_unix_connect(&p->tx, path)
                     : weft_tcp_connect(&p->tx, "127.0.0.1", weft_listener_port(p->l));
    if (rc == 0)
        rc = weft_listener_accept(p->l, &p->rx);
    if (unix_socket)
        unlink(path);
    p->other_rx = p->tx;
    p->other_tx = p->rx;
    return rc;
}

static int tcp_pair(pair_t *p) { return socket_pair(p, 0); }
static int unix_pair(pair_t *p) { return socket_pair(p, 1); }

/* Both ends of a socketpair, adopted. */
static int adopted_pair(pair_t *p)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return -errno;
    int rc = weft_stream_from_fd(&p->tx, sv[0]);
    if (rc) {
        close(sv[1]);
        return rc;
    }
    rc = weft_stream_from_fd(&p->rx, sv[1]);
    p->other_rx = p->tx;
    p->other_tx = p->rx;
    return rc;
}

/* Both ends of a pipe, adopted. */
static int adopted_pipe(pair_t *p)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -errno;
    p->one_way = 1;
    int rc = weft_stream_from_fd(&p->rx, fds[0]);
    if (rc) {
        close(fds[1]);
        return rc;
    }
    return weft_stream_from_fd(&p->tx, fds[1]);
}

/* cat copies its stdin (tx) to its stdout (rx). */
static int cat_pair(pair_t *p)
{
    const char *argv[] = {"cat", NULL};
    weft_process_opts_t o = {.stderr_mode = WEFT_STDIO_INHERIT};
    int rc = weft_process_open(&p->p, argv, &o);
    if (rc == 0) {
        p->tx = weft_process_stdin(p->p);
        p->rx = weft_process_stdout(p->p);
    }
    return rc;
}

static void pair_close(pair_t *p)
{
    if (p->p) {
        weft_process_free(p->p); /* closes its streams */
    } else {
        if (p->tx)
            weft_stream_close(p->tx);
        if (p->rx)
            weft_stream_close(p->rx);
    }
    if (p->l)
        weft_listener_close(p->l);
    memset(p, 0, sizeof *p);
}

/* The sender ends: the receiver sees EOF after what was sent. */
static void pair_end(pair_t *p)
{
    if (p->p) {
        EXPECT_RC(weft_stream_close(p->tx), 0); /* cat exits, its stdout ends */
    } else if (p->one_way) {
        EXPECT_RC(weft_stream_close(p->tx), 0);
        p->tx = NULL;
    } else {
        EXPECT_RC(weft_stream_send_eof(p->tx), 0);
    }
}

#define OPEN_PAIR(p, open)                                                     \
    do {                                                                       \
        memset((p), 0, sizeof *(p));                                           \
        int wt_orc_ = (open)(p);                                               \
        EXPECT_RC(wt_orc_, 0);                                                 \
        if (wt_orc_) {                                                         \
            pair_close(p);                                                     \
            return 0;                                                          \
        }                                                                      \
    } while (0)

static void send_str(pair_t *p, const char *s)
{
    EXPECT_RC(weft_stream_send(p->tx, s, strlen(s)), 0);
}

/* What is pending in rx: a receive that does not wait (1 worker only). */
static size_t pending_bytes(const weft_stream_t *s) { return s->tail - s->head; }

static int one_worker(void)
{
    weft_runtime_stats_t st;
    return weft_runtime_stats(&st) == 0 && st.workers == 1;
}

/* ------------------------------------------------------------ a delayed sender */

/* Sends its chunks one by one, `gap` seconds apart, then ends if asked. */
typedef struct sender {
    pair_t *p;
    const char *chunks[4];
    double gap;
    int end;
} sender_t;

static int sender_task(void *arg)
{
    sender_t *s = arg;
    for (int i = 0; i < 4 && s->chunks[i]; i++) {
        if (i > 0)
            weft_sleep(s->gap);
        send_str(s->p, s->chunks[i]);
    }
    if (s->end)
        pair_end(s->p);
    return 0;
}

/* ------------------------------------------------------------ AnyIO's cases */

/* test_receive_exactly: two chunks, one receive of both. */
static int exactly_across_chunks(void *arg)
{
    pair_t p;
    OPEN_PAIR(&p, (pair_open_t)arg);
    weft_group_t g;
    sender_t s = {&p, {"abcd", "efgh"}, 0.02, 0};
    char buf[9] = {0};
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, sender_task, &s), 0);
    EXPECT_RC(weft_stream_receive_exactly(p.rx, buf, 8), 8);
    EXPECT_STR(buf, "abcdefgh");
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(weft_stream_receive_exactly(p.rx, buf, 0), 0);
    pair_close(&p);
    return 0;
}

/* test_receive_exactly_incomplete: the end comes first; the bytes stay. */
static int exactly_incomplete(void *arg)
{
    pair_t p;
    OPEN_PAIR(&p, (pair_open_t)arg);
    char buf[16] = {0};
    send_str(&p, "abcd");
    pair_end(&p);
    EXPECT_RC(weft_stream_receive_exactly(p.rx, buf, 8), WEFT_EINCOMPLETE);
    EXPECT_RC(weft_stream_receive_exactly(p.rx, buf, 8), WEFT_EINCOMPLETE); /* still there */
    EXPECT_RC(weft_stream_receive(p.rx, buf, sizeof buf), 4);
    EXPECT(memcmp(buf, "abcd", 4) == 0);
    EXPECT_RC(weft_stream_receive_exactly(p.rx, buf, 8), WEFT_EOF); /* nothing pending */
    EXPECT_RC(weft_stream_receive_until(p.rx, buf, 8, "\n", 1), WEFT_EOF);
    EXPECT_RC(weft_stream_receive(p.rx, buf, sizeof buf), WEFT_EOF);
    pair_close(&p);
    return 0;
}

/* test_receive_until: "abcd" "efgh", until "de" then until "h". */
static int until_delimiters(void *arg)
{
    pair_t p;
    OPEN_PAIR(&p, (pair_open_t)arg);
    weft_group_t g;
    sender_t s = {&p, {"abcd", "efgh"}, 0.02, 0};
    char buf[16] = {0};
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, sender_task, &s), 0);
    EXPECT_RC(weft_stream_receive_until(p.rx, buf, 10, "de", 2), 3);
    EXPECT(memcmp(buf, "abc", 3) == 0);
    memset(buf, 0, sizeof buf);
    EXPECT_RC(weft_stream_receive_until(p.rx, buf, 10, "h", 1), 2);
    EXPECT_STR(buf, "fg");
    EXPECT_RC(weft_group_close(&g, 0), 0);
    pair_close(&p);
    return 0;
}

/* test_receive_until_incomplete: no delimiter before the end; the bytes stay. */
static int until_incomplete(void *arg)
{
    pair_t p;
    OPEN_PAIR(&p, (pair_open_t)arg);
    char buf[16] = {0};
    send_str(&p, "abcd");
    pair_end(&p);
    EXPECT_RC(weft_stream_receive_until(p.rx, buf, 10, "de", 2), WEFT_EINCOMPLETE);
    EXPECT_RC(weft_stream_receive_exactly(p.rx, buf, 4), 4);
    EXPECT(memcmp(buf, "abcd", 4) == 0);
    EXPECT_RC(weft_stream_receive_until(p.rx, buf, 10, "de", 2), WEFT_EOF);
    pair_close(&p);
    return 0;
}

/* test_buffered_stream: exactly(2) twice out of one chunk; a half-close of
 * the other direction leaves this one working. */
static int exactly_then_half_close(void *arg)
{
    pair_t p;
    OPEN_PAIR(&p, (pair_open_t)arg);
    char buf[4] = {0};
    send_str(&p, "abcd");
    EXPECT_RC(weft_stream_receive_exactly(p.rx, buf, 2), 2);
    EXPECT(memcmp(buf, "ab", 2) == 0);
    if (p.other_tx)
        EXPECT_RC(weft_stream_send_eof(p.other_tx), 0);
    EXPECT_RC(weft_stream_receive_exactly(p.rx, buf, 2), 2);
    EXPECT(memcmp(buf, "cd", 2) == 0);
    if (p.other_rx)
        EXPECT_RC(weft_stream_receive(p.other_rx, buf, 1), WEFT_EOF);
    pair_close(&p);
    return 0;
}

/* ------------------------------------------------------------ until's limit */

static int until_limit(void *arg)
{
    pair_t p;
    OPEN_PAIR(&p, (pair_open_t)arg);
    char buf[32];
    /* Starts at max: found (it ends within max + delim_len). */
    send_str(&p, "12345\n");
    EXPECT_RC(weft_stream_receive_until(p.rx, buf, 5, "\n", 1), 5);
    EXPECT(memcmp(buf, "12345", 5) == 0);
    send_str(&p, "12345\r\n");
    EXPECT_RC(weft_stream_receive_until(p.rx, buf, 5, "\r\n", 2), 5);
    /* One byte further: too long, nothing consumed, a larger max finds it. */
    send_str(&p, "123456\r\n");
    EXPECT_RC(weft_stream_receive_until(p.rx, buf, 5, "\r\n", 2), -EMSGSIZE);
    EXPECT_RC(weft_stream_receive_until(p.rx, buf, 5, "\r\n", 2), -EMSGSIZE);
    EXPECT_RC(weft_stream_receive_until(p.rx, buf, 6, "\r\n", 2), 6);
    EXPECT(memcmp(buf, "123456", 6) == 0);
    /* An empty line, max 0, and the bytes after the delimiter. */
    send_str(&p, "\nab--cd");
    EXPECT_RC(weft_stream_receive_until(p.rx, NULL, 0, "\n", 1), 0);
    EXPECT_RC(weft_stream_receive_until(p.rx, buf, 0, "--", 2), -EMSGSIZE);
    EXPECT_RC(weft_stream_receive_until(p.rx, buf, 2, "--", 2), 2);
    EXPECT(memcmp(buf, "ab", 2) == 0);
    EXPECT_RC(weft_stream_receive_exactly(p.rx, buf, 2), 2);
    EXPECT(memcmp(buf, "cd", 2) == 0);
    pair_close(&p);
    return 0;
}

/* max bytes pending and no delimiter can start within them: -EMSGSIZE at
 * once, without waiting for more (the sender sends nothing else). */
static int until_too_long_decides_early(void *arg)
{
    pair_t p;
    OPEN_PAIR(&p, (pair_open_t)arg);
    char buf[32];
    weft_scope_t sc;
    send_str(&p, "abcdefg"); /* 7 bytes: fewer than max + delim_len */
    weft_fail_after(&sc, 10.0);
    int rc = weft_stream_receive_until(p.rx, buf, 5, "\r\n\r\n", 4);
    EXPECT_RC(weft_scope_exit(&sc, rc), -EMSGSIZE);
    EXPECT_RC(weft_stream_receive_exactly(p.rx, buf, 7), 7);
    EXPECT(memcmp(buf, "abcdefg", 7) == 0);
    pair_close(&p);
    return 0;
}

/* A delimiter that may still complete at the limit waits for the next
 * bytes: "12345\r" then "\n"; and one split "ab\r" "\ncd" far below it. */
static int until_split_delimiter(void *arg)
{
    pair_t p;
    OPEN_PAIR(&p, (pair_open_t)arg);
    weft_group_t g;
    char buf[32] = {0};
    sender_t s = {&p, {"12345\r", "\nab\r", "\ncd\r\n"}, 0.03, 0};
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, sender_task, &s), 0);
    EXPECT_RC(weft_stream_receive_until(p.rx, buf, 5, "\r\n", 2), 5);
    EXPECT(memcmp(buf, "12345", 5) == 0);
    EXPECT_RC(weft_stream_receive_until(p.rx, buf, 20, "\r\n", 2), 2);
    EXPECT(memcmp(buf, "ab", 2) == 0);
    EXPECT_RC(weft_stream_receive_until(p.rx, buf, 20, "\r\n", 2), 2);
    EXPECT(memcmp(buf, "cd", 2) == 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    pair_close(&p);
    return 0;
}

/* ------------------------------------------------------------ cancellation */

/* A receive waiting for more is cancelled: nothing consumed. */
static int cancelled_consumes_nothing(void *arg)
{
    pair_t p;
    OPEN_PAIR(&p, (pair_open_t)arg);
    char buf[16] = {0};
    weft_scope_t sc;
    send_str(&p, "abcd");
    weft_move_on_after(&sc, 0.05);
    EXPECT_RC(weft_stream_receive_exactly(p.rx, buf, 8), WEFT_ECANCELED);
    EXPECT_RC(weft_stream_receive_until(p.rx, buf, 10, "\n", 1), WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&sc, WEFT_ECANCELED), 0);
    EXPECT(weft_scope_cancelled_caught(&sc));
    /* Level: a cancelled scope with every byte already there. */
    send_str(&p, "efgh\n");
    EXPECT_RC(weft_stream_receive_exactly(p.rx, buf, 1), 1); /* the bytes are in */
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    weft_scope_cancel(&sc);
    EXPECT_RC(weft_stream_receive_exactly(p.rx, buf, 2), WEFT_ECANCELED);
    EXPECT_RC(weft_stream_receive_until(p.rx, buf, 10, "\n", 1), WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&sc, WEFT_ECANCELED), 0);
    EXPECT_RC(weft_stream_receive_until(p.rx, buf, 10, "\n", 1), 7);
    EXPECT(memcmp(buf, "bcdefgh", 7) == 0);
    pair_close(&p);
    return 0;
}

/* ------------------------------------------------------------ larger than the buffer */

#define BIG (1024u * 1024u + 7u)   /* well past the 64 KiB buffer */
#define HALF (300u * 1024u + 3u)   /* the part sent before the cancellation */

typedef struct big {
    pair_t *p;
    uint64_t seed;
    size_t from, to;     /* pattern bytes to send */
    weft_event_t *go;    /* then wait for it, and send to `to2` */
    size_t to2;
    const char *tail;    /* sent after the pattern */
    int end;             /* then the sender ends */
} big_t;

static int send_pattern(pair_t *p, uint64_t seed, size_t from, size_t to)
{
    char chunk[16384];
    while (from < to) {
        size_t n = to - from < sizeof chunk ? to - from : sizeof chunk;
        wt_pat_fill(chunk, n, seed, from);
        int rc = weft_stream_send(p->tx, chunk, n);
        if (rc)
            return rc;
        from += n;
    }
    return 0;
}

static int big_sender(void *arg)
{
    big_t *b = arg;
    EXPECT_RC(send_pattern(b->p, b->seed, b->from, b->to), 0);
    if (b->go) {
        EXPECT_RC(weft_event_wait(b->go), 0);
        EXPECT_RC(send_pattern(b->p, b->seed, b->to, b->to2), 0);
    }
    if (b->tail)
        send_str(b->p, b->tail);
    if (b->end)
        pair_end(b->p);
    return 0;
}

/* Receive while b is sent. */
#define SENDING(b, ...)                                                        \
    do {                                                                       \
        weft_group_t wt_sg_;                                                   \
        EXPECT_RC(weft_group_open(&wt_sg_), 0);                                \
        EXPECT_RC(weft_group_spawn(&wt_sg_, big_sender, (b)), 0);              \
        __VA_ARGS__;                                                           \
        EXPECT_RC(weft_group_close(&wt_sg_, 0), 0);                            \
    } while (0)

/* One receive_exactly of 1 MiB, with some bytes buffered before it. */
static int exactly_larger_than_buffer(void *arg)
{
    pair_t p;
    OPEN_PAIR(&p, (pair_open_t)arg);
    char *buf = malloc(BIG + 16);
    EXPECT(buf != NULL);
    weft_group_t g;
    big_t b = {.p = &p, .seed = 7, .to = BIG + 16};
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, big_sender, &b), 0);
    EXPECT_RC(weft_stream_receive_exactly(p.rx, buf, 10), 10);
    EXPECT_RC(weft_stream_receive_exactly(p.rx, buf + 10, BIG), (int)BIG);
    EXPECT_RC(weft_stream_receive_exactly(p.rx, buf + 10 + BIG, 6), 6);
    EXPECT(wt_pat_check(buf, BIG + 16, 7, 0) == -1);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    free(buf);
    pair_close(&p);
    return 0;
}

/* Cancelled in the middle of a 1 MiB receive_exactly: every byte that
 * arrived (more than the buffer holds) is given back; after the rest is
 * sent, everything reads in order. */
static int exactly_large_cancelled(void *arg)
{
    pair_t p;
    OPEN_PAIR(&p, (pair_open_t)arg);
    char *buf = malloc(BIG), *again = malloc(BIG);
    EXPECT(buf && again);
    weft_group_t g;
    big_t b = {.p = &p, .seed = 11, .to = HALF, .to2 = BIG};
    EXPECT_RC(weft_event_new(&b.go), 0);
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, big_sender, &b), 0);
    weft_scope_t sc;
    weft_move_on_after(&sc, 0.3 * WT_SLACK);
    int rc = weft_stream_receive_exactly(p.rx, buf, BIG);
    EXPECT_RC(rc, WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&sc, rc), 0);
    /* A smaller receive sees the given-back bytes first. */
    EXPECT_RC(weft_stream_receive_exactly(p.rx, again, 5), 5);
    weft_event_set(b.go);
    EXPECT_RC(weft_stream_receive_exactly(p.rx, again + 5, BIG - 5), (int)(BIG - 5));
    EXPECT(wt_pat_check(again, BIG, 11, 0) == -1);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    weft_event_free(b.go);
    free(buf);
    free(again);
    pair_close(&p);
    return 0;
}

/* The same, cancelled from another task once the receiver holds exactly the
 * first part (1 worker: the canceller reads the stream's progress on the
 * one thread that writes it). */
typedef struct watch {
    weft_stream_t *s;
    weft_scope_t *scope;
} watch_t;

static int cancel_when_half_in(void *arg)
{
    watch_t *w = arg;
    WAIT_FOR(w->s->direct && w->s->direct_got == HALF);
    weft_scope_cancel(w->scope);
    return 0;
}

static int exactly_large_cancelled_at_half(void *arg)
{
    pair_t p;
    OPEN_PAIR(&p, (pair_open_t)arg);
    char *buf = malloc(BIG);
    EXPECT(buf != NULL);
    weft_group_t g;
    weft_scope_t sc;
    big_t b = {.p = &p, .seed = 13, .to = HALF, .to2 = BIG};
    watch_t w = {p.rx, &sc};
    EXPECT_RC(weft_event_new(&b.go), 0);
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, big_sender, &b), 0);
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    EXPECT_RC(weft_group_spawn(&g, cancel_when_half_in, &w), 0);
    int rc = weft_stream_receive_exactly(p.rx, buf, BIG);
    EXPECT_RC(rc, WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&sc, rc), 0);
    EXPECT(pending_bytes(p.rx) == HALF);
    EXPECT(p.rx->direct == NULL);
    memset(buf, 0, BIG);
    weft_event_set(b.go);
    EXPECT_RC(weft_stream_receive_exactly(p.rx, buf, BIG), (int)BIG);
    EXPECT(wt_pat_check(buf, BIG, 13, 0) == -1);
    EXPECT(p.rx->cap == WF_STREAM_BUFFER); /* back to its usual size */
    EXPECT_RC(weft_group_close(&g, 0), 0);
    weft_event_free(b.go);
    free(buf);
    pair_close(&p);
    return 0;
}

/* The stream ends in the middle of a large receive_exactly: the bytes stay. */
static int exactly_large_incomplete(void *arg)
{
    pair_t p;
    OPEN_PAIR(&p, (pair_open_t)arg);
    char *buf = malloc(BIG);
    EXPECT(buf != NULL);
    big_t b = {.p = &p, .seed = 17, .to = HALF, .end = 1};
    SENDING(&b, EXPECT_RC(weft_stream_receive_exactly(p.rx, buf, BIG), WEFT_EINCOMPLETE));
    memset(buf, 0, BIG);
    EXPECT_RC(weft_stream_receive_exactly(p.rx, buf, HALF), (int)HALF);
    EXPECT(wt_pat_check(buf, HALF, 17, 0) == -1);
    EXPECT_RC(weft_stream_receive(p.rx, buf, 1), WEFT_EOF);
    free(buf);
    pair_close(&p);
    return 0;
}

/* until with a limit above the buffer: a 150 KiB line is found; a 200 KiB
 * one without a delimiter is too long and stays; cancelled halfway through a
 * line, nothing is lost. */
#define LINE (150u * 1024u)

/* Cancel `scope` once `s` has `n` bytes pending (1 worker, where reading
 * them is no race), or after a moment (more workers). */
typedef struct pending_watch {
    weft_stream_t *s;
    size_t n;
    weft_scope_t *scope;
} pending_watch_t;

static int cancel_when_pending(void *arg)
{
    pending_watch_t *w = arg;
    if (one_worker())
        WAIT_FOR(pending_bytes(w->s) == w->n);
    else
        weft_sleep(0.1);
    weft_scope_cancel(w->scope);
    return 0;
}
#define LIMIT (200u * 1024u)

static int until_larger_than_buffer(void *arg)
{
    pair_t p;
    OPEN_PAIR(&p, (pair_open_t)arg);
    char *buf = malloc(LIMIT + 4);
    EXPECT(buf != NULL);
    /* Pattern bytes 0..LINE, then the delimiter: the patterns have no
     * "\r\n\r\n" inside (patterns_have_no_delimiter), so it is ours. */
    big_t b = {.p = &p, .seed = 23, .to = LINE, .tail = "\r\n\r\ntail"};
    SENDING(&b, EXPECT_RC(weft_stream_receive_until(p.rx, buf, LIMIT, "\r\n\r\n", 4), (int)LINE));
    EXPECT(wt_pat_check(buf, LINE, 23, 0) == -1);
    EXPECT_RC(weft_stream_receive_exactly(p.rx, buf, 4), 4);
    EXPECT(memcmp(buf, "tail", 4) == 0);

    /* LIMIT + 4 bytes and no delimiter: too long, and all of it stays. */
    big_t c = {.p = &p, .seed = 29, .to = LIMIT + 4};
    SENDING(&c, EXPECT_RC(weft_stream_receive_until(p.rx, buf, LIMIT, "\r\n\r\n", 4), -EMSGSIZE));
    EXPECT_RC(weft_stream_receive_exactly(p.rx, buf, LIMIT + 4), (int)(LIMIT + 4));
    EXPECT(wt_pat_check(buf, LIMIT + 4, 29, 0) == -1);

    /* Half a line, then a cancellation: the half stays, the line completes. */
    weft_scope_t sc;
    weft_group_t g;
    pending_watch_t w = {p.rx, LINE / 2, &sc};
    big_t d = {.p = &p, .seed = 31, .to = LINE / 2};
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, big_sender, &d), 0);
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    EXPECT_RC(weft_group_spawn(&g, cancel_when_pending, &w), 0);
    int rc = weft_stream_receive_until(p.rx, buf, LIMIT, "\r\n\r\n", 4);
    EXPECT_RC(rc, WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&sc, rc), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    if (one_worker())
        EXPECT(pending_bytes(p.rx) == LINE / 2);
    big_t e = {.p = &p, .seed = 31, .from = LINE / 2, .to = LINE, .tail = "\r\n\r\n"};
    SENDING(&e, EXPECT_RC(weft_stream_receive_until(p.rx, buf, LIMIT, "\r\n\r\n", 4), (int)LINE));
    EXPECT(wt_pat_check(buf, LINE, 31, 0) == -1);
    free(buf);
    pair_close(&p);
    return 0;
}

/* Reading ahead stays within the usual 64 KiB whatever the buffer's size:
 * after a large receive_exactly, with more bytes coming; and with more than
 * 64 KiB left pending (after -EMSGSIZE), a receive_exactly of more than is
 * pending still completes. */
static int read_ahead_bounded(void *arg)
{
    pair_t p;
    OPEN_PAIR(&p, (pair_open_t)arg);
    char *buf = malloc(BIG);
    EXPECT(buf != NULL);
    big_t b = {.p = &p, .seed = 37, .to = BIG + 512 * 1024};
    SENDING(&b, {
        EXPECT_RC(weft_stream_receive_exactly(p.rx, buf, BIG), (int)BIG);
        weft_sleep(0.05 * WT_SLACK); /* the rest arrives meanwhile, as far as it may */
        if (one_worker())
            EXPECT(pending_bytes(p.rx) <= WF_STREAM_BUFFER && p.rx->cap == WF_STREAM_BUFFER);
        EXPECT_RC(weft_stream_receive_exactly(p.rx, buf, 512 * 1024), 512 * 1024);
    });
    EXPECT(wt_pat_check(buf, 512 * 1024, 37, BIG) == -1);

    /* LIMIT + 4 bytes pending after -EMSGSIZE; take 100 KiB, then ask for
     * 150 KiB: more than is pending, less than the (grown) buffer holds. */
    big_t c = {.p = &p, .seed = 41, .to = LIMIT + 4, .go = NULL};
    EXPECT_RC(weft_event_new(&c.go), 0);
    c.to2 = LIMIT + 4 + 100 * 1024;
    SENDING(&c, {
        EXPECT_RC(weft_stream_receive_until(p.rx, buf, LIMIT, "\r\n\r\n", 4), -EMSGSIZE);
        EXPECT_RC(weft_stream_receive_exactly(p.rx, buf, 100 * 1024), 100 * 1024);
        weft_event_set(c.go);
        EXPECT_RC(weft_stream_receive_exactly(p.rx, buf + 100 * 1024, 200 * 1024 + 4),
                  200 * 1024 + 4);
    });
    EXPECT(wt_pat_check(buf, LIMIT + 4 + 100 * 1024, 41, 0) == -1);
    weft_event_free(c.go);
    free(buf);
    pair_close(&p);
    return 0;
}

/* The patterns the until case relies on have no delimiter inside. */
static void patterns_have_no_delimiter(void)
{
    size_t n = LIMIT + 4;
    char *b = malloc(n);
    assert_non_null(b);
    uint64_t seeds[] = {23, 29, 31, 41};
    for (size_t i = 0; i < 4; i++) {
        wt_pat_fill(b, n, seeds[i], 0);
        assert_null(memmem(b, n, "\r\n\r\n", 4));
    }
    free(b);
}

/* ------------------------------------------------------------ close, EBUSY, misuse */

static int close_later(void *arg)
{
    weft_sleep(0.05);
    EXPECT_RC(weft_stream_close(arg), 0);
    return 0;
}

/* Closed while a large receive_exactly waits: WEFT_EBADF. */
static int close_under_receive(void *arg)
{
    pair_t p;
    OPEN_PAIR(&p, (pair_open_t)arg);
    char *buf = malloc(BIG);
    EXPECT(buf != NULL);
    weft_group_t g;
    send_str(&p, "abc");
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, close_later, p.rx), 0);
    EXPECT_RC(weft_stream_receive_exactly(p.rx, buf, BIG), WEFT_EBADF);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(weft_stream_receive_exactly(p.rx, buf, 1), WEFT_EBADF);
    EXPECT_RC(weft_stream_receive_until(p.rx, buf, 1, "\n", 1), WEFT_EBADF);
    p.rx = NULL; /* closed: freed (a process's, by weft_process_free) */
    free(buf);
    pair_close(&p);
    return 0;
}

typedef struct busy {
    weft_stream_t *s;
    atomic_int in;
} busy_t;

static int long_receive(void *arg)
{
    busy_t *b = arg;
    char buf[8];
    atomic_store(&b->in, 1);
    EXPECT_RC(weft_stream_receive_exactly(b->s, buf, 8), 8);
    EXPECT(memcmp(buf, "12345678", 8) == 0);
    return 0;
}

/* A second receive of any kind while one waits: -EBUSY, nothing taken. */
static int second_receive_busy(void *arg)
{
    pair_t p;
    OPEN_PAIR(&p, (pair_open_t)arg);
    weft_group_t g;
    busy_t b = {.s = p.rx};
    char buf[8];
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, long_receive, &b), 0);
    EXPECT(wt_wait_flag(&b.in, 1, 10.0));
    send_str(&p, "1234");
    weft_sleep(0.05 * WT_SLACK); /* the waiting receive has 4 bytes, needs 4 more */
    EXPECT_RC(weft_stream_receive(p.rx, buf, 8), -EBUSY);
    EXPECT_RC(weft_stream_receive_exactly(p.rx, buf, 2), -EBUSY);
    EXPECT_RC(weft_stream_receive_until(p.rx, buf, 8, "4", 1), -EBUSY);
    send_str(&p, "5678");
    EXPECT_RC(weft_group_close(&g, 0), 0);
    pair_close(&p);
    return 0;
}

static int bad_arguments(void *arg)
{
    pair_t p;
    char buf[4];
    (void)arg;
    OPEN_PAIR(&p, tcp_pair);
    EXPECT_RC(weft_stream_receive_exactly(NULL, buf, 1), WEFT_EINVAL);
    EXPECT_RC(weft_stream_receive_exactly(p.rx, NULL, 1), WEFT_EINVAL);
    EXPECT_RC(weft_stream_receive_exactly(p.rx, buf, (size_t)INT_MAX + 1), WEFT_EINVAL);
    EXPECT_RC(weft_stream_receive_until(NULL, buf, 4, "\n", 1), WEFT_EINVAL);
    EXPECT_RC(weft_stream_receive_until(p.rx, NULL, 4, "\n", 1), WEFT_EINVAL);
    EXPECT_RC(weft_stream_receive_until(p.rx, buf, 4, NULL, 1), WEFT_EINVAL);
    EXPECT_RC(weft_stream_receive_until(p.rx, buf, 4, "\n", 0), WEFT_EINVAL);
    EXPECT_RC(weft_stream_receive_until(p.rx, buf, (size_t)INT_MAX, "\n\n", 2), WEFT_EINVAL);
    EXPECT_RC(weft_stream_receive_until(p.rx, buf, (size_t)INT_MAX + 1, "\n", 1), WEFT_EINVAL);
    /* Nothing was consumed by any of them. */
    send_str(&p, "ok\n");
    EXPECT_RC(weft_stream_receive_until(p.rx, buf, 4, "\n", 1), 2);
    pair_close(&p);
    return 0;
}

static void outside_a_task(void)
{
    char buf[4];
    assert_rc(weft_stream_receive_exactly(NULL, buf, 1), WEFT_EINVAL);
    assert_string_equal(weft_err_name(WEFT_EINCOMPLETE), "WEFT_EINCOMPLETE");
    assert_string_not_equal(weft_strerror(WEFT_EINCOMPLETE), "unknown error");
    assert_int_equal(WEFT_EINCOMPLETE, -4192);
}

/* ------------------------------------------------------------ the table */

#define ON_EVERY_KIND(body, workers)                                           \
    {#body "/tcp", (body), NULL, (void *)tcp_pair, (workers)},                 \
    {#body "/unix", (body), NULL, (void *)unix_pair, (workers)},               \
    {#body "/cat", (body), NULL, (void *)cat_pair, (workers)},                 \
    {#body "/adopted", (body), NULL, (void *)adopted_pair, (workers)},         \
    {#body "/adopted_pipe", (body), NULL, (void *)adopted_pipe, (workers)}

static const wt_case_t cases[] = {
    ON_EVERY_KIND(exactly_across_chunks, WT_WORKERS),
    ON_EVERY_KIND(exactly_incomplete, WT_WORKERS),
    ON_EVERY_KIND(until_delimiters, WT_WORKERS),
    ON_EVERY_KIND(until_incomplete, WT_WORKERS),
    {"exactly_then_half_close/tcp", exactly_then_half_close, NULL, (void *)tcp_pair, WT_WORKERS},
    {"exactly_then_half_close/unix", exactly_then_half_close, NULL, (void *)unix_pair, WT_WORKERS},
    {"exactly_then_half_close/adopted", exactly_then_half_close, NULL, (void *)adopted_pair,
     WT_WORKERS},
    ON_EVERY_KIND(until_limit, WT_WORKERS),
    ON_EVERY_KIND(until_too_long_decides_early, WT_WORKERS),
    ON_EVERY_KIND(until_split_delimiter, WT_WORKERS),
    ON_EVERY_KIND(cancelled_consumes_nothing, WT_WORKERS),
    ON_EVERY_KIND(exactly_larger_than_buffer, WT_WORKERS),
    ON_EVERY_KIND(exactly_large_cancelled, WT_WORKERS),
    ON_EVERY_KIND(exactly_large_cancelled_at_half, WT_W1),
    ON_EVERY_KIND(exactly_large_incomplete, WT_WORKERS),
    ON_EVERY_KIND(until_larger_than_buffer, WT_WORKERS),
    ON_EVERY_KIND(read_ahead_bounded, WT_WORKERS),
    WT_TEST(patterns_have_no_delimiter),
    ON_EVERY_KIND(close_under_receive, WT_WORKERS),
    ON_EVERY_KIND(second_receive_busy, WT_WORKERS),
    WT_CASE(bad_arguments),
    WT_TEST(outside_a_task),
};
WT_SUITE(cases)
