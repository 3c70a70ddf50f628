/* UDP sockets: send_to / receive_from, connected sockets, the sender's
 * address, a cancelled receive loses no datagram, close wakes a blocked
 * receive, bursts from other workers, wrong context and arguments. */
#define _GNU_SOURCE
#include "io_helpers.h"

typedef struct {
    weft_udp_t *u;
    int rc;
    atomic_int entered;
} blocked_t;

static int basics(void *p)
{
    (void)p;
    weft_udp_t *s = NULL, *c = NULL;
    EXPECT_RC(weft_udp_open(&s, "127.0.0.1", 0, NULL, 0), 0);
    if (!s)
        return 0;
    int port = weft_udp_port(s);
    EXPECT(port > 0);
    EXPECT_RC(weft_udp_open(&c, "127.0.0.1", 0, "127.0.0.1", port), 0);
    if (!c)
        return 0;
    EXPECT_RC(weft_udp_send(c, "ping", 4), 0);
    char buf[64];
    struct sockaddr_storage from;
    int fl = sizeof from;
    EXPECT_RC(weft_udp_receive_from(s, buf, sizeof buf, (struct sockaddr *)&from, &fl), 4);
    EXPECT(memcmp(buf, "ping", 4) == 0);
    EXPECT(fl == (int)sizeof(struct sockaddr_in) && wt_sa_is_lo4((struct sockaddr *)&from));
    EXPECT(wt_sa_port((struct sockaddr *)&from) == weft_udp_port(c));
    /* Reply to the sender's address; the connected socket receives it. */
    EXPECT_RC(weft_udp_send_to(s, "pong!", 5, (struct sockaddr *)&from), 0);
    EXPECT_RC(weft_udp_receive(c, buf, sizeof buf), 5);
    EXPECT(memcmp(buf, "pong!", 5) == 0);
    /* A datagram longer than the buffer is cut off. */
    EXPECT_RC(weft_udp_send(c, "0123456789", 10), 0);
    EXPECT_RC(weft_udp_receive_from(s, buf, 4, NULL, NULL), 4);
    EXPECT(memcmp(buf, "0123", 4) == 0);
    /* Unconnected sockets have no send / receive without an address. */
    EXPECT_RC(weft_udp_send(s, "x", 1), WEFT_EINVAL);
    EXPECT_RC(weft_udp_receive(s, buf, sizeof buf), WEFT_EINVAL);
    EXPECT_RC(weft_udp_close(c), 0);
    EXPECT_RC(weft_udp_close(s), 0);
    return 0;
}

/* Receives under tiny deadlines while datagrams arrive: every datagram is
 * received exactly once, in order (loopback keeps order). */
#define NDGRAM 300

static int sender(void *p)
{
    weft_udp_t *c = p;
    for (int i = 0; i < NDGRAM; i++) {
        EXPECT_RC(weft_udp_send(c, &i, sizeof i), 0);
        if (i % 16 == 0)
            weft_sleep(0.001); /* stay within the receive queue */
    }
    return 0;
}

static int cancelled_receive_loses_nothing(void *p)
{
    (void)p;
    weft_udp_t *s = NULL, *c = NULL;
    EXPECT_RC(weft_udp_open(&s, "127.0.0.1", 0, NULL, 0), 0);
    if (!s)
        return 0;
    EXPECT_RC(weft_udp_open(&c, "127.0.0.1", 0, "127.0.0.1", weft_udp_port(s)), 0);
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    weft_group_spawn(&g, sender, c);
    uint64_t rng = 0xd06;
    int next = 0, cancelled = 0;
    while (next < NDGRAM) {
        weft_scope_t sc;
        weft_move_on_after(&sc, wt_tiny_deadline(&rng, 0.3, 0.0005));
        int v = -1;
        int rc = weft_scope_exit(&sc, weft_udp_receive_from(s, &v, sizeof v, NULL, NULL));
        if (rc == 0) {
            cancelled++;
            continue;
        }
        EXPECT_RC(rc, (int)sizeof v);
        if (v != next) {
            wt_failf(__FILE__, __LINE__, "datagram %d, expected %d", v, next);
            break;
        }
        next++;
    }
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT(next == NDGRAM);
    print_message("udp: %d datagrams, %d receives cancelled\n", next, cancelled);
    EXPECT_RC(weft_udp_close(c), 0);
    EXPECT_RC(weft_udp_close(s), 0);
    return 0;
}

static int block_in_receive(void *p)
{
    blocked_t *b = p;
    char buf[8];
    atomic_store(&b->entered, 1);
    b->rc = weft_udp_receive_from(b->u, buf, sizeof buf, NULL, NULL);
    return 0;
}

static int close_wakes_receive(void *p)
{
    (void)p;
    blocked_t b = {0};
    EXPECT_RC(weft_udp_open(&b.u, "127.0.0.1", 0, NULL, 0), 0);
    if (!b.u)
        return 0;
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    weft_group_spawn(&g, block_in_receive, &b);
    EXPECT(wt_wait_flag(&b.entered, 1, 5));
    weft_sleep(0.02);
    char buf[8];
    EXPECT_RC(weft_udp_receive_from(b.u, buf, sizeof buf, NULL, NULL), -EBUSY);
    EXPECT_RC(weft_udp_close(b.u), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(b.rc, WEFT_EBADF);
    return 0;
}

/* Many tasks on any worker send through one socket (each moves to its
 * owner for the call).  UDP may drop: a burst of 320 datagrams sent while
 * the receiver's worker is busy can overflow the kernel's receive buffer
 * (it did, on a loaded machine), so the senders take a permit per datagram
 * and the receiver gives one back per datagram it got, keeping at most
 * IN_FLIGHT on the way. */
#define NSEND 16
#define PER 20
#define IN_FLIGHT 32

typedef struct {
    weft_udp_t *c;
    weft_sem_t *window;
    int id;
} sarg_t;

static int burst(void *p)
{
    sarg_t *a = p;
    for (int i = 0; i < PER; i++) {
        int v = a->id * 1000 + i;
        EXPECT_RC(weft_sem_acquire(a->window), 0);
        EXPECT_RC(weft_udp_send(a->c, &v, sizeof v), 0);
        weft_checkpoint();
    }
    return 0;
}

static int sends_from_all_workers(void *p)
{
    (void)p;
    weft_udp_t *s = NULL, *c = NULL;
    EXPECT_RC(weft_udp_open(&s, "127.0.0.1", 0, NULL, 0), 0);
    if (!s)
        return 0;
    EXPECT_RC(weft_udp_open(&c, "127.0.0.1", 0, "127.0.0.1", weft_udp_port(s)), 0);
    weft_sem_t *window = NULL;
    EXPECT_RC(weft_sem_new(&window, IN_FLIGHT, 0), 0);
    sarg_t args[NSEND];
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < NSEND; i++) {
        args[i] = (sarg_t){c, window, i};
        weft_group_spawn(&g, burst, &args[i]);
    }
    int seen[NSEND] = {0};
    for (int n = 0; n < NSEND * PER; n++) {
        int v;
        EXPECT_RC(weft_udp_receive_from(s, &v, sizeof v, NULL, NULL), (int)sizeof v);
        if (v / 1000 < 0 || v / 1000 >= NSEND || v % 1000 != seen[v / 1000]) {
            wt_failf(__FILE__, __LINE__, "datagram %d out of order", v);
            break;
        }
        seen[v / 1000]++;
        EXPECT_RC(weft_sem_release(window), 0);
    }
    EXPECT_RC(weft_group_close(&g, 0), 0);
    weft_sem_free(window);
    EXPECT_RC(weft_udp_close(c), 0);
    EXPECT_RC(weft_udp_close(s), 0);
    return 0;
}

/* More datagrams than the socket's own queue holds (256), read only after
 * they all arrived: the queue stops reading the socket when full and the
 * rest wait in the kernel's buffer, so none is lost. */
#define OVER_QUEUE 300

static int full_queue_loses_nothing(void *p)
{
    (void)p;
    weft_udp_t *s = NULL, *c = NULL;
    EXPECT_RC(weft_udp_open(&s, "127.0.0.1", 0, NULL, 0), 0);
    if (!s)
        return 0;
    EXPECT_RC(weft_udp_open(&c, "127.0.0.1", 0, "127.0.0.1", weft_udp_port(s)), 0);
    for (int i = 0; i < OVER_QUEUE; i++) {
        EXPECT_RC(weft_udp_send(c, &i, sizeof i), 0);
        if (i % 25 == 24)
            EXPECT_RC(weft_sleep(0.01), 0); /* the loop reads them into the queue */
    }
    EXPECT_RC(weft_sleep(0.05), 0);
    weft_scope_t deadline;
    weft_fail_after(&deadline, 10);
    int rc = 0, got = 0;
    for (; got < OVER_QUEUE; got++) {
        int v = -1;
        if ((rc = weft_udp_receive_from(s, &v, sizeof v, NULL, NULL)) != (int)sizeof v)
            break;
        if (v != got) {
            wt_failf(__FILE__, __LINE__, "datagram %d where %d was due", v, got);
            break;
        }
    }
    EXPECT_RC(weft_scope_exit(&deadline, rc < 0 ? rc : 0), 0);
    EXPECT(got == OVER_QUEUE);
    EXPECT_RC(weft_udp_close(c), 0);
    EXPECT_RC(weft_udp_close(s), 0);
    return 0;
}

static int misuse_main(void *p)
{
    (void)p;
    weft_udp_t *u = NULL;
    EXPECT_RC(weft_udp_open(NULL, "127.0.0.1", 0, NULL, 0), WEFT_EINVAL);
    EXPECT_RC(weft_udp_open(&u, "127.0.0.1", 70000, NULL, 0), WEFT_EINVAL);
    EXPECT_RC(weft_udp_send_to(NULL, "x", 1, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_udp_receive_from(NULL, NULL, 0, NULL, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_udp_close(NULL), WEFT_EINVAL);
    EXPECT(weft_udp_port(NULL) == WEFT_EINVAL);
    EXPECT_RC(weft_udp_open(&u, "127.0.0.1", 0, NULL, 0), 0);
    if (u) {
        EXPECT_RC(weft_udp_close(u), 0);
    }
    return 0;
}

static void misuse(void)
{
    weft_udp_t *u = NULL;
    assert_int_equal(weft_udp_open(&u, "127.0.0.1", 0, NULL, 0), WEFT_EPERM);
    WT_RUN_OK(misuse_main, NULL, 1);
}

static const wt_case_t cases[] = {
    WT_CASE(basics),
    WT_CASE_ON(cancelled_receive_loses_nothing, WT_W2),
    WT_CASE(close_wakes_receive),
    WT_CASE_ON(sends_from_all_workers, WT_W4),
    WT_CASE_ON(full_queue_loses_nothing, WT_W2),
    WT_TEST(misuse),
};
WT_SUITE(cases)
