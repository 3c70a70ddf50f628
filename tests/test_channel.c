/* Channels (memory object streams): rendezvous, buffering, FIFO service,
 * clones, EOF / EPIPE / EBADF, item ownership on cancellation, statistics,
 * _nowait forms, misuse, huge capacities (a buffer that grows on demand, in
 * order, under allocation failure and under RLIMIT_AS). */
#define _GNU_SOURCE
#include "helpers.h"

#include <errno.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sched/fault.h"

#define ITEM(i) ((void *)(intptr_t)(0x1000 + (i)))

static weft_channel_stats_t rx_stats(weft_receiver_t *rx)
{
    weft_channel_stats_t st;
    weft_receiver_stats(rx, &st);
    return st;
}

#define NW 5

typedef struct {
    weft_sender_t *tx;
    weft_receiver_t *rx;
    atomic_int order[NW];
    void *got[NW];
    atomic_int next;
    atomic_int rc[NW];
    weft_scope_t *scope[NW];
    atomic_int done;
    atomic_int go; /* cancellable tasks keep their scope alive until main set it */
} shared_t;

typedef struct {
    shared_t *s;
    int i;
} arg_t;

static int receiver(void *p)
{
    arg_t *a = p;
    void *it = NULL;
    int rc = weft_recv(a->s->rx, &it);
    a->s->rc[a->i] = rc;
    a->s->got[a->i] = it;
    atomic_fetch_add(&a->s->done, 1);
    return 0;
}

static int sender(void *p)
{
    arg_t *a = p;
    int rc = weft_send(a->s->tx, ITEM(a->i));
    a->s->rc[a->i] = rc;
    atomic_fetch_add(&a->s->done, 1);
    return 0;
}

/* ------------------------------------------------------------ rendezvous */

static int rendezvous(void *p)
{
    (void)p;
    shared_t s = {0};
    arg_t a = {&s, 7 % NW};
    weft_group_t g;
    void *it;
    EXPECT_RC(weft_channel(0, &s.tx, &s.rx), 0);
    EXPECT_RC(weft_send_nowait(s.tx, ITEM(1)), WEFT_EAGAIN); /* nobody receives */
    EXPECT_RC(weft_recv_nowait(s.rx, &it), WEFT_EAGAIN);
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, sender, &a), 0);
    WAIT_FOR(rx_stats(s.rx).tasks_waiting_send == 1);
    EXPECT(atomic_load(&s.done) == 0); /* blocked until someone takes it */
    EXPECT(rx_stats(s.rx).current_buffer_used == 0);
    EXPECT_RC(weft_recv(s.rx, &it), 0);
    EXPECT(it == ITEM(a.i));
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(s.rc[a.i], 0);
    /* A waiting receiver makes send_nowait succeed. */
    a.i = 3;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, receiver, &a), 0);
    WAIT_FOR(rx_stats(s.rx).tasks_waiting_receive == 1);
    EXPECT_RC(weft_send_nowait(s.tx, ITEM(42)), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(s.rc[3], 0);
    EXPECT(s.got[3] == ITEM(42));
    weft_sender_close(s.tx);
    weft_receiver_close(s.rx);
    return 0;
}

/* ------------------------------------------------------------ buffered */

static void buffered_nowait(void)
{
    /* The _nowait forms work from a plain thread. */
    weft_sender_t *tx;
    weft_receiver_t *rx;
    weft_channel_stats_t cs;
    void *it;
    assert_rc(weft_channel(3, &tx, &rx), 0);
    for (int i = 0; i < 3; i++)
        assert_rc(weft_send_nowait(tx, ITEM(i)), 0);
    assert_rc(weft_send_nowait(tx, ITEM(3)), WEFT_EAGAIN);
    weft_sender_stats(tx, &cs);
    assert_int_equal(cs.current_buffer_used, 3);
    assert_int_equal(cs.max_buffer_size, 3);
    assert_int_equal(cs.open_send_streams, 1);
    assert_int_equal(cs.open_receive_streams, 1);
    for (int i = 0; i < 3; i++) {
        assert_rc(weft_recv_nowait(rx, &it), 0);
        assert_ptr_equal(it, ITEM(i));
    }
    assert_rc(weft_recv_nowait(rx, &it), WEFT_EAGAIN);
    /* Wrap around the ring a few times. */
    for (int i = 0; i < 20; i++) {
        assert_rc(weft_send_nowait(tx, ITEM(i)), 0);
        if (i % 2) {
            assert_rc(weft_recv_nowait(rx, &it), 0);
            assert_rc(weft_recv_nowait(rx, &it), 0);
            assert_ptr_equal(it, ITEM(i));
        }
    }
    assert_rc(weft_send(tx, ITEM(0)), WEFT_EPERM); /* not a task */
    assert_rc(weft_recv(rx, &it), WEFT_EPERM);
    weft_sender_close(tx);
    assert_rc(weft_recv_nowait(rx, &it), WEFT_EOF);
    weft_receiver_close(rx);
}

/* ------------------------------------------------------------ FIFO */

static void fifo_receivers(void)
{
    shared_t s = {0};
    arg_t args[NW];
    weft_group_t g;
    EXPECT_RC(weft_channel(4, &s.tx, &s.rx), 0);
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < NW; i++) {
        args[i] = (arg_t){&s, i};
        EXPECT_RC(weft_group_spawn(&g, receiver, &args[i]), 0);
        WAIT_FOR(rx_stats(s.rx).tasks_waiting_receive == (size_t)i + 1);
    }
    for (int i = 0; i < NW; i++)
        EXPECT_RC(weft_send(s.tx, ITEM(i)), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    for (int i = 0; i < NW; i++) {
        EXPECT_RC(s.rc[i], 0);
        EXPECT(s.got[i] == ITEM(i));
    }
    EXPECT(rx_stats(s.rx).current_buffer_used == 0);
    weft_sender_close(s.tx);
    weft_receiver_close(s.rx);
}

/* Senders blocked on a full buffer of capacity cap are served in order. */
static void fifo_senders(size_t cap)
{
    shared_t s = {0};
    arg_t args[NW];
    weft_group_t g;
    void *it;
    EXPECT_RC(weft_channel(cap, &s.tx, &s.rx), 0);
    for (size_t i = 0; i < cap; i++)
        EXPECT_RC(weft_send_nowait(s.tx, ITEM(100 + i)), 0);
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < NW; i++) {
        args[i] = (arg_t){&s, i};
        EXPECT_RC(weft_group_spawn(&g, sender, &args[i]), 0);
        WAIT_FOR(rx_stats(s.rx).tasks_waiting_send == (size_t)i + 1);
    }
    for (size_t i = 0; i < cap; i++) {
        EXPECT_RC(weft_recv(s.rx, &it), 0);
        EXPECT(it == ITEM(100 + i));
    }
    for (int i = 0; i < NW; i++) {
        EXPECT_RC(weft_recv(s.rx, &it), 0);
        EXPECT(it == ITEM(i));
    }
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(weft_recv_nowait(s.rx, &it), WEFT_EAGAIN);
    weft_sender_close(s.tx);
    weft_receiver_close(s.rx);
}

static int fifo_order(void *p)
{
    (void)p;
    fifo_receivers();
    fifo_senders(0);
    fifo_senders(2);
    return 0;
}

/* ------------------------------------------------------------ EOF and EPIPE */

static int eof(void *p)
{
    (void)p;
    shared_t s = {0};
    arg_t args[2] = {{&s, 0}, {&s, 1}};
    weft_sender_t *tx2;
    weft_group_t g;
    void *it;
    EXPECT_RC(weft_channel(4, &s.tx, &s.rx), 0);
    EXPECT_RC(weft_sender_clone(s.tx, &tx2), 0);
    EXPECT(rx_stats(s.rx).open_send_streams == 2);
    EXPECT_RC(weft_send(s.tx, ITEM(1)), 0);
    EXPECT_RC(weft_send(tx2, ITEM(2)), 0);
    weft_sender_close(s.tx);
    EXPECT_RC(weft_recv(s.rx, &it), 0); /* tx2 still open */
    EXPECT(it == ITEM(1));
    weft_sender_close(tx2);
    EXPECT(rx_stats(s.rx).open_send_streams == 0);
    EXPECT_RC(weft_recv(s.rx, &it), 0); /* the buffer drains first */
    EXPECT(it == ITEM(2));
    it = NULL;
    EXPECT_RC(weft_recv(s.rx, &it), WEFT_EOF);
    EXPECT_RC(weft_recv(s.rx, &it), WEFT_EOF);
    EXPECT_RC(weft_recv_nowait(s.rx, &it), WEFT_EOF);
    EXPECT(it == NULL);
    weft_receiver_close(s.rx);

    /* Blocked receivers wake with EOF when the last sender closes. */
    EXPECT_RC(weft_channel(0, &s.tx, &s.rx), 0);
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < 2; i++) {
        EXPECT_RC(weft_group_spawn(&g, receiver, &args[i]), 0);
        WAIT_FOR(rx_stats(s.rx).tasks_waiting_receive == (size_t)i + 1);
    }
    weft_sender_close(s.tx);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(s.rc[0], WEFT_EOF);
    EXPECT_RC(s.rc[1], WEFT_EOF);
    weft_receiver_close(s.rx);
    return 0;
}

static int epipe(void *p)
{
    (void)p;
    shared_t s = {0};
    arg_t args[2] = {{&s, 0}, {&s, 1}};
    weft_receiver_t *rx2;
    weft_group_t g;
    EXPECT_RC(weft_channel(1, &s.tx, &s.rx), 0);
    EXPECT_RC(weft_receiver_clone(s.rx, &rx2), 0);
    EXPECT(rx_stats(rx2).open_receive_streams == 2);
    EXPECT_RC(weft_send(s.tx, ITEM(0)), 0); /* buffer full now */
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < 2; i++) {
        EXPECT_RC(weft_group_spawn(&g, sender, &args[i]), 0);
        WAIT_FOR(rx_stats(s.rx).tasks_waiting_send == (size_t)i + 1);
    }
    weft_receiver_close(s.rx);
    EXPECT(rx_stats(rx2).tasks_waiting_send == 2); /* rx2 still open */
    weft_receiver_close(rx2);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(s.rc[0], WEFT_EPIPE);
    EXPECT_RC(s.rc[1], WEFT_EPIPE);
    EXPECT_RC(weft_send(s.tx, ITEM(5)), WEFT_EPIPE);
    EXPECT_RC(weft_send_nowait(s.tx, ITEM(5)), WEFT_EPIPE);
    weft_channel_stats_t cs;
    weft_sender_stats(s.tx, &cs);
    EXPECT(cs.open_receive_streams == 0 && cs.tasks_waiting_send == 0);
    EXPECT(cs.current_buffer_used == 0);
    weft_sender_close(s.tx);
    return 0;
}

/* ------------------------------------------------------------ EBADF */

/* Closing a handle wakes the tasks blocked on that handle only. */
static int ebadf(void *p)
{
    (void)p;
    shared_t s = {0}, s2 = {0};
    arg_t a0 = {&s, 0}, a1 = {&s2, 1};
    weft_receiver_t *rx_orig;
    weft_sender_t *tx_orig;
    weft_group_t g;
    void *it;
    EXPECT_RC(weft_channel(0, &tx_orig, &rx_orig), 0);
    EXPECT_RC(weft_receiver_clone(rx_orig, &s.rx), 0);
    s2.rx = rx_orig;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, receiver, &a0), 0);   /* through the clone */
    WAIT_FOR(rx_stats(rx_orig).tasks_waiting_receive == 1);
    EXPECT_RC(weft_group_spawn(&g, receiver, &a1), 0);   /* through the original */
    WAIT_FOR(rx_stats(rx_orig).tasks_waiting_receive == 2);
    weft_receiver_close(s.rx);
    WAIT_FOR(atomic_load(&s.done) == 1);
    EXPECT_RC(s.rc[0], WEFT_EBADF);
    EXPECT(rx_stats(rx_orig).tasks_waiting_receive == 1);
    EXPECT(rx_stats(rx_orig).open_receive_streams == 1);
    EXPECT_RC(weft_send(tx_orig, ITEM(9)), 0); /* the other receiver gets it */
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(s2.rc[1], 0);
    EXPECT(s2.got[1] == ITEM(9));

    /* Same for a sender: the blocked send keeps its item. */
    EXPECT_RC(weft_sender_clone(tx_orig, &s.tx), 0);
    s.done = 0;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, sender, &a0), 0);
    WAIT_FOR(rx_stats(rx_orig).tasks_waiting_send == 1);
    weft_sender_close(s.tx);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(s.rc[0], WEFT_EBADF);
    EXPECT_RC(weft_recv_nowait(rx_orig, &it), WEFT_EAGAIN); /* not delivered, not EOF */
    weft_sender_close(tx_orig);
    EXPECT_RC(weft_recv_nowait(rx_orig, &it), WEFT_EOF);
    weft_receiver_close(rx_orig);
    return 0;
}

/* ------------------------------------------------------------ cancellation */

static int cancellable_receiver(void *p)
{
    arg_t *a = p;
    weft_scope_t sc;
    void *it = NULL;
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    a->s->scope[a->i] = &sc;
    int rc = weft_recv(a->s->rx, &it);
    a->s->rc[a->i] = rc;
    a->s->got[a->i] = it;
    if (rc == 0 && weft_scope_cancel_called(&sc))
        EXPECT_RC(weft_checkpoint(), WEFT_ECANCELED);
    if (rc != 0)
        EXPECT(it == NULL);
    atomic_fetch_add(&a->s->done, 1);
    EXPECT(wt_wait_flag(&a->s->go, 1, 10.0));
    return weft_scope_exit(&sc, rc);
}

static int cancellable_sender(void *p)
{
    arg_t *a = p;
    weft_scope_t sc;
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    a->s->scope[a->i] = &sc;
    int rc = weft_send(a->s->tx, ITEM(a->i));
    a->s->rc[a->i] = rc;
    if (rc == 0 && weft_scope_cancel_called(&sc))
        EXPECT_RC(weft_checkpoint(), WEFT_ECANCELED);
    atomic_fetch_add(&a->s->done, 1);
    EXPECT(wt_wait_flag(&a->s->go, 1, 10.0));
    return weft_scope_exit(&sc, rc);
}

/* A cancelled receiver takes nothing; a cancelled sender delivers nothing
 * (through a channel of capacity cap). */
static void cancel_with_capacity(size_t cap)
{
    shared_t s = {0};
    arg_t args[3] = {{&s, 0}, {&s, 1}, {&s, 2}};
    weft_group_t g;
    void *it;
    EXPECT_RC(weft_channel(cap, &s.tx, &s.rx), 0);
    atomic_store(&s.go, 0);
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < 2; i++) {
        EXPECT_RC(weft_group_spawn(&g, cancellable_receiver, &args[i]), 0);
        WAIT_FOR(rx_stats(s.rx).tasks_waiting_receive == (size_t)i + 1);
    }
    weft_scope_cancel(s.scope[0]);
    WAIT_FOR(atomic_load(&s.done) == 1);
    EXPECT_RC(s.rc[0], WEFT_ECANCELED);
    EXPECT_RC(weft_send(s.tx, ITEM(7)), 0);
    atomic_store(&s.go, 1);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(s.rc[1], 0);
    EXPECT(s.got[1] == ITEM(7));

    /* Senders: fill the buffer, block two, cancel the first. */
    for (size_t i = 0; i < cap; i++)
        EXPECT_RC(weft_send_nowait(s.tx, ITEM(50 + i)), 0);
    s.done = 0;
    atomic_store(&s.go, 0);
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 1; i < 3; i++) {
        EXPECT_RC(weft_group_spawn(&g, cancellable_sender, &args[i]), 0);
        WAIT_FOR(rx_stats(s.rx).tasks_waiting_send == (size_t)i);
    }
    weft_scope_cancel(s.scope[1]);
    WAIT_FOR(atomic_load(&s.done) == 1);
    EXPECT_RC(s.rc[1], WEFT_ECANCELED);
    for (size_t i = 0; i < cap; i++) {
        EXPECT_RC(weft_recv(s.rx, &it), 0);
        EXPECT(it == ITEM(50 + i));
    }
    EXPECT_RC(weft_recv(s.rx, &it), 0);
    EXPECT(it == ITEM(2)); /* not ITEM(1): that send was cancelled */
    atomic_store(&s.go, 1);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(s.rc[2], 0);
    EXPECT_RC(weft_recv_nowait(s.rx, &it), WEFT_EAGAIN);

    /* In a cancelled scope: nothing is sent or received, even with room. */
    weft_scope_t sc;
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    weft_scope_cancel(&sc);
    if (cap) {
        EXPECT_RC(weft_send(s.tx, ITEM(1)), WEFT_ECANCELED);
        EXPECT(rx_stats(s.rx).current_buffer_used == 0);
        EXPECT_RC(weft_send_nowait(s.tx, ITEM(1)), 0);
        EXPECT_RC(weft_recv(s.rx, &it), WEFT_ECANCELED);
        EXPECT(rx_stats(s.rx).current_buffer_used == 1);
        EXPECT_RC(weft_recv_nowait(s.rx, &it), 0);
    } else {
        EXPECT_RC(weft_send(s.tx, ITEM(1)), WEFT_ECANCELED);
        EXPECT_RC(weft_recv(s.rx, &it), WEFT_ECANCELED);
    }
    EXPECT_RC(weft_scope_exit(&sc, WEFT_ECANCELED), 0);
    weft_sender_close(s.tx);
    weft_receiver_close(s.rx);
}

static int cancel_consumes_nothing(void *p)
{
    (void)p;
    cancel_with_capacity(0);
    cancel_with_capacity(3);
    return 0;
}

/* Delivered, then cancelled before the task ran: it has its item (through a
 * channel of capacity cap). */
static void delivered_then_cancelled(size_t cap)
{
    shared_t s = {0};
    arg_t a = {&s, 0};
    weft_group_t g;
    void *it;
    EXPECT_RC(weft_channel(cap, &s.tx, &s.rx), 0);
    atomic_store(&s.go, 0);
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, cancellable_receiver, &a), 0);
    WAIT_FOR(rx_stats(s.rx).tasks_waiting_receive == 1);
    EXPECT_RC(weft_send(s.tx, ITEM(3)), 0);
    weft_scope_cancel(s.scope[0]);
    atomic_store(&s.go, 1);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(s.rc[0], 0);
    EXPECT(s.got[0] == ITEM(3));
    EXPECT_RC(weft_recv_nowait(s.rx, &it), WEFT_EAGAIN);

    /* A sender whose item was taken. */
    for (size_t i = 0; i < cap; i++)
        EXPECT_RC(weft_send_nowait(s.tx, ITEM(60 + i)), 0);
    atomic_store(&s.go, 0);
    EXPECT_RC(weft_group_open(&g), 0);
    a.i = 1;
    EXPECT_RC(weft_group_spawn(&g, cancellable_sender, &a), 0);
    WAIT_FOR(rx_stats(s.rx).tasks_waiting_send == 1);
    EXPECT_RC(weft_recv(s.rx, &it), 0);
    weft_scope_cancel(s.scope[1]);
    atomic_store(&s.go, 1);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(s.rc[1], 0);
    for (size_t i = 1; i < cap; i++)
        EXPECT_RC(weft_recv_nowait(s.rx, &it), 0);
    if (cap)
        EXPECT_RC(weft_recv_nowait(s.rx, &it), 0);
    EXPECT(it == ITEM(1));
    EXPECT_RC(weft_recv_nowait(s.rx, &it), WEFT_EAGAIN);
    weft_sender_close(s.tx);
    weft_receiver_close(s.rx);
}

static int delivered_wins_over_cancel(void *p)
{
    (void)p;
    for (int i = 0; i < 10; i++) {
        delivered_then_cancelled(0);
        delivered_then_cancelled(2);
    }
    return 0;
}

/* ------------------------------------------------------------ stats, misuse */

static int stats(void *p)
{
    (void)p;
    weft_sender_t *tx, *tx2;
    weft_receiver_t *rx, *rx2, *rx3;
    weft_channel_stats_t cs;
    EXPECT_RC(weft_channel(8, &tx, &rx), 0);
    EXPECT_RC(weft_sender_clone(tx, &tx2), 0);
    EXPECT_RC(weft_receiver_clone(rx, &rx2), 0);
    EXPECT_RC(weft_receiver_clone(rx2, &rx3), 0);
    EXPECT_RC(weft_send(tx2, ITEM(0)), 0);
    EXPECT_RC(weft_send(tx, ITEM(1)), 0);
    weft_sender_stats(tx2, &cs);
    EXPECT(cs.current_buffer_used == 2 && cs.max_buffer_size == 8);
    EXPECT(cs.open_send_streams == 2 && cs.open_receive_streams == 3);
    EXPECT(cs.tasks_waiting_send == 0 && cs.tasks_waiting_receive == 0);
    weft_receiver_close(rx);
    weft_receiver_close(rx3);
    weft_sender_close(tx);
    weft_receiver_stats(rx2, &cs);
    EXPECT(cs.open_send_streams == 1 && cs.open_receive_streams == 1);
    EXPECT(cs.current_buffer_used == 2);
    weft_receiver_close(rx2); /* the last receiver: the items are dropped */
    weft_sender_stats(tx2, &cs);
    EXPECT(cs.open_receive_streams == 0 && cs.current_buffer_used == 0);
    weft_sender_close(tx2);
    return 0;
}

static int misuse_main(void *p)
{
    (void)p;
    weft_sender_t *tx;
    weft_receiver_t *rx;
    void *it;
    EXPECT_RC(weft_send(NULL, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_recv(NULL, &it), WEFT_EINVAL);
    EXPECT_RC(weft_channel(1, &tx, &rx), 0);
    EXPECT_RC(weft_recv(rx, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_recv_nowait(rx, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_sender_clone(tx, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_receiver_clone(rx, NULL), WEFT_EINVAL);
    weft_sender_close(tx);
    weft_receiver_close(rx);
    return 0;
}

static void misuse(void)
{
    weft_sender_t *tx;
    weft_receiver_t *rx;
    weft_channel_stats_t cs;
    void *it;
    assert_rc(weft_channel(0, NULL, &rx), WEFT_EINVAL);
    assert_rc(weft_channel(0, &tx, NULL), WEFT_EINVAL);
    assert_rc(weft_send_nowait(NULL, NULL), WEFT_EINVAL);
    assert_rc(weft_recv_nowait(NULL, &it), WEFT_EINVAL);
    assert_rc(weft_sender_clone(NULL, &tx), WEFT_EINVAL);
    assert_rc(weft_receiver_clone(NULL, &rx), WEFT_EINVAL);
    weft_sender_close(NULL);
    weft_receiver_close(NULL);
    weft_sender_stats(NULL, NULL);
    memset(&cs, 0xff, sizeof cs);
    weft_sender_stats(NULL, &cs);
    assert_int_equal(cs.max_buffer_size, 0);
    memset(&cs, 0xff, sizeof cs);
    weft_receiver_stats(NULL, &cs);
    assert_int_equal(cs.open_send_streams, 0);
    WT_RUN_OK(misuse_main, NULL, 1);
}

/* ------------------------------------------------------------ a buffer that grows */

/* The process's address space, in bytes. */
static size_t vm_size(void)
{
    unsigned long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%lu", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    return pages * (size_t)sysconf(_SC_PAGESIZE);
}

static const size_t huge_caps[] = {(size_t)1 << 31, SIZE_MAX / 2, SIZE_MAX};

/* A channel of any capacity costs the items waiting in it, not its capacity
 * (2^31 pointers are 16 GiB). */
static void huge_capacity_is_cheap(void)
{
    for (size_t i = 0; i < sizeof huge_caps / sizeof huge_caps[0]; i++) {
        weft_sender_t *tx;
        weft_receiver_t *rx;
        weft_channel_stats_t cs;
        size_t before = vm_size();
        assert_rc(weft_channel(huge_caps[i], &tx, &rx), 0);
        size_t after = vm_size();
        if (after > before + ((size_t)64 << 20))
            fail_msg("weft_channel(%zu) took %zu MiB of address space", huge_caps[i],
                     (after - before) >> 20);
        weft_sender_stats(tx, &cs);
        assert_int_equal(cs.max_buffer_size, huge_caps[i]);
        weft_sender_close(tx);
        weft_receiver_close(rx);
    }
}

/* Items sent and received so far through a channel driven from this
 * thread; every item comes out in order. */
typedef struct {
    weft_sender_t *tx;
    weft_receiver_t *rx;
    size_t cap;
    long sent, got;
} churn_t;

/* Send up to n items; only a channel holding `cap` items may refuse one. */
static void churn_send(churn_t *c, long n)
{
    for (long i = 0; i < n; i++) {
        int rc = weft_send_nowait(c->tx, ITEM(c->sent));
        if (rc == WEFT_EAGAIN && (size_t)(c->sent - c->got) == c->cap)
            return;
        assert_rc(rc, 0);
        c->sent++;
    }
}

/* Receive up to n of the items waiting. */
static void churn_recv(churn_t *c, long n)
{
    void *it;
    for (long i = 0; i < n && c->got < c->sent; i++) {
        assert_rc(weft_recv_nowait(c->rx, &it), 0);
        assert_ptr_equal(it, ITEM(c->got));
        c->got++;
    }
}

/* `total` items through a channel of capacity cap.  First one in, then two
 * in and one out: the buffer grows whenever it is full, and the oldest item
 * then sits at the end of the ring, so the ring has wrapped each time it
 * grows.  Then random bursts (more in than out on average). */
static void churn(size_t cap, long total, uint64_t seed)
{
    churn_t c = {.cap = cap};
    void *it;
    assert_rc(weft_channel(cap, &c.tx, &c.rx), 0);
    churn_send(&c, 1);
    while (c.sent < total / 2) {
        churn_send(&c, 2);
        churn_recv(&c, 1);
    }
    while (c.sent < total) {
        churn_send(&c, (long)(wt_rand(&seed) % 64));
        churn_recv(&c, (long)(wt_rand(&seed) % 48));
        assert_int_equal(rx_stats(c.rx).current_buffer_used, c.sent - c.got);
    }
    weft_sender_close(c.tx);
    churn_recv(&c, total);
    assert_rc(weft_recv_nowait(c.rx, &it), WEFT_EOF);
    weft_receiver_close(c.rx);
}

static void growth_keeps_fifo(void)
{
    long total = WT_TSAN_PICK(200000, 50000);
    for (size_t i = 0; i < sizeof huge_caps / sizeof huge_caps[0]; i++)
        churn(huge_caps[i], total, i);
    /* Capacities that the doubling does not hit, and small ones. */
    const size_t caps[] = {1000, 100, 33, 3, 1};
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++)
        churn(caps[i], total / 10, 10 + i);
}

/* A producer task and a consumer task (on two workers, or taking turns on
 * one): the buffer grows under the consumer's waits and wake-ups. */
static int grow_producer(void *p)
{
    weft_sender_t *tx = p;
    long n = WT_TSAN_PICK(100000, 20000);
    for (long i = 0; i < n; i++)
        EXPECT_RC(weft_send(tx, ITEM(i)), 0);
    weft_sender_close(tx);
    return 0;
}

static void grow_concurrent(size_t cap)
{
    weft_sender_t *tx;
    weft_receiver_t *rx;
    weft_group_t g;
    void *it;
    long n = 0;
    int rc;
    rc = weft_channel(cap, &tx, &rx);
    EXPECT_RC(rc, 0);
    if (rc)
        return;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, grow_producer, tx), 0);
    while ((rc = weft_recv(rx, &it)) == 0) {
        EXPECT(it == ITEM(n));
        n++;
    }
    EXPECT_RC(rc, WEFT_EOF);
    EXPECT(n == WT_TSAN_PICK(100000, 20000));
    EXPECT_RC(weft_group_close(&g, 0), 0);
    weft_receiver_close(rx);
}

static int growth_while_tasks_wait(void *p)
{
    (void)p;
    grow_concurrent((size_t)1 << 31);
    grow_concurrent(SIZE_MAX);
    /* Senders waiting on a full buffer that grew to its capacity. */
    fifo_senders(1000);
    return 0;
}

/* Growing needs memory: a send that cannot get it returns WEFT_ENOMEM and did
 * not deliver its item (the caller still owns it), what the channel held
 * stays in order, and a later send grows the buffer. */
static void growth_out_of_memory(void)
{
    const size_t caps[] = {1000, SIZE_MAX};
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        churn_t c = {.cap = caps[i]};
        int rc = 0;
        assert_rc(weft_channel(caps[i], &c.tx, &c.rx), 0);
        /* No runtime runs: the library allocates for this channel only. */
        wf_fault_fail_at(WF_FAULT_ALLOC, WF_FAULT_ALWAYS);
        while (c.sent < 1000 && (rc = weft_send_nowait(c.tx, ITEM(c.sent))) == 0)
            c.sent++;
        long injected = wf_fault_injected(WF_FAULT_ALLOC);
        wf_fault_fail_at(WF_FAULT_ALLOC, 0);
        assert_rc(rc, WEFT_ENOMEM);
        assert_int_equal(injected, 1);
        assert_true(c.sent > 0);
        assert_int_equal(rx_stats(c.rx).current_buffer_used, c.sent);
        churn_send(&c, 1000 - c.sent); /* ITEM(c.sent) again first */
        assert_int_equal(c.sent, 1000);
        churn_recv(&c, 1000);
        weft_sender_close(c.tx);
        weft_receiver_close(c.rx);
    }
}

/* The same through weft_send in a task: it returns at once, it does not wait
 * for room that receivers would make. */
static int growth_out_of_memory_in_task(void *p)
{
    (void)p;
    weft_sender_t *tx;
    weft_receiver_t *rx;
    void *it;
    long n = 0;
    int rc = 0;
    EXPECT_RC(weft_channel(1000, &tx, &rx), 0);
    /* One worker and this task only: the next allocation is the buffer's. */
    wf_fault_fail_at(WF_FAULT_ALLOC, 1);
    while (n < 1000 && (rc = weft_send(tx, ITEM(n))) == 0)
        n++;
    long injected = wf_fault_injected(WF_FAULT_ALLOC);
    wf_fault_fail_at(WF_FAULT_ALLOC, 0);
    EXPECT_RC(rc, WEFT_ENOMEM);
    EXPECT(injected == 1);
    EXPECT(rx_stats(rx).current_buffer_used == (size_t)n);
    EXPECT(rx_stats(rx).tasks_waiting_send == 0);
    EXPECT_RC(weft_send_nowait(tx, ITEM(n)), 0); /* the caller kept it: again */
    for (long i = 0; i <= n; i++) {
        EXPECT_RC(weft_recv_nowait(rx, &it), 0);
        EXPECT(it == ITEM(i));
    }
    weft_sender_close(tx);
    EXPECT_RC(weft_recv_nowait(rx, &it), WEFT_EOF);
    weft_receiver_close(rx);
    return 0;
}

/* 2^31 pointers under a limit on address space far below their 16 GiB. */
static int limited_main(void *p)
{
    (void)p;
    weft_sender_t *tx;
    weft_receiver_t *rx;
    void *it;
    long n = 1 << 20;
    int rc = weft_channel((size_t)1 << 31, &tx, &rx);
    if (rc)
        return rc;
    for (long i = 0; i < n && rc == 0; i++)
        rc = weft_send(tx, ITEM(i));
    for (long i = 0; i < n && rc == 0; i++) {
        rc = weft_recv(rx, &it);
        if (rc == 0 && it != ITEM(i))
            rc = WEFT_EINVAL;
    }
    weft_sender_close(tx);
    weft_receiver_close(rx);
    return rc;
}

static void huge_capacity_under_rlimit_as(void)
{
#if defined(WT_SANITIZED)
    /* ASan and TSan map terabytes of shadow memory: a limit on address space
     * leaves them none.  huge_capacity_is_cheap measures it there. */
    skip();
#else
    fflush(NULL);
    pid_t pid = fork(); /* no runtime is running: this thread is the only one */
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(60); /* a hang becomes SIGALRM */
        struct rlimit lim;
        lim.rlim_cur = lim.rlim_max = vm_size() + ((size_t)1 << 30);
        int rc = setrlimit(RLIMIT_AS, &lim) ? -errno : wt_run(limited_main, NULL, 2);
        if (rc)
            fprintf(stderr, "under RLIMIT_AS: %s\n", weft_err_name(rc));
        _exit(rc ? 1 : 0);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        assert_int_equal(errno, EINTR);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
#endif
}

/* ------------------------------------------------------------ threads */

static void *thread_sender(void *p)
{
    weft_sender_t *tx = p;
    intptr_t sent = 0;
    while (sent < 1000) {
        int rc = weft_send_nowait(tx, ITEM(sent));
        if (rc == 0)
            sent++;
        else if (rc != WEFT_EAGAIN)
            return (void *)(intptr_t)-1;
    }
    weft_sender_close(tx);
    return (void *)sent;
}

/* A plain thread feeds a task through send_nowait; the task's blocked
 * receive is woken from the thread (through the injection queue). */
static int thread_feeds_task(void *p)
{
    (void)p;
    weft_sender_t *tx;
    weft_receiver_t *rx;
    EXPECT_RC(weft_channel(0, &tx, &rx), 0);
    pthread_t th;
    EXPECT(pthread_create(&th, NULL, thread_sender, tx) == 0);
    void *it;
    intptr_t n = 0;
    int rc;
    while ((rc = weft_recv(rx, &it)) == 0) {
        EXPECT(it == ITEM(n));
        n++;
    }
    EXPECT_RC(rc, WEFT_EOF);
    void *res = NULL;
    pthread_join(th, &res);
    EXPECT(res == (void *)1000 && n == 1000);
    weft_receiver_close(rx);
    return 0;
}

/* ------------------------------------------------------------ on_drop */

typedef struct {
    intptr_t seen[64];
    int n;
} drops_t;

static void record_drop(void *item, void *arg)
{
    drops_t *d = arg;
    d->seen[d->n++] = (intptr_t)item;
}

static void free_drop(void *item, void *arg)
{
    (*(int *)arg)++;
    free(item);
}

/* The items still buffered when the last receiver closes go to on_drop, in
 * the order they were sent, once each; received ones and refused sends do
 * not; a receiver clone still open keeps them receivable. */
static void drop_callback_gets_buffered_items(void)
{
    drops_t d = {0};
    weft_channel_opts_t o;
    weft_channel_opts_init(&o);
    o.on_drop = record_drop;
    o.drop_arg = &d;
    weft_sender_t *tx;
    weft_receiver_t *rx, *rx2;
    assert_rc(weft_channel_open(40, &o, &tx, &rx), 0);
    for (intptr_t i = 1; i <= 40; i++) /* past the first ring: it wrapped and grew */
        assert_rc(weft_send_nowait(tx, (void *)i), 0);
    void *item;
    for (int i = 0; i < 5; i++)
        assert_rc(weft_recv_nowait(rx, &item), 0);
    for (intptr_t i = 41; i <= 45; i++) { /* the ring's head is now past slot 0 */
        assert_rc(weft_recv_nowait(rx, &item), 0);
        assert_rc(weft_send_nowait(tx, (void *)i), 0);
    }
    assert_rc(weft_receiver_clone(rx, &rx2), 0);
    weft_receiver_close(rx);
    assert_int_equal(d.n, 0); /* rx2 can still receive them */
    assert_rc(weft_recv_nowait(rx2, &item), 0);
    assert_int_equal((intptr_t)item, 11);
    weft_receiver_close(rx2);
    assert_int_equal(d.n, 34);
    for (int i = 0; i < 34; i++)
        assert_int_equal(d.seen[i], 12 + i);
    assert_rc(weft_send_nowait(tx, (void *)99), WEFT_EPIPE); /* still the caller's */
    weft_sender_close(tx);
    assert_int_equal(d.n, 34);
}

/* Heap items: nothing leaks (the ASan build's LeakSanitizer checks), also
 * when the senders closed first and a task was blocked on a full buffer. */
typedef struct {
    weft_sender_t *tx;
    int rc;
} blocked_send_t;

static int send_blocked(void *arg)
{
    blocked_send_t *b = arg;
    void *item = malloc(8);
    b->rc = weft_send(b->tx, item);
    if (b->rc)
        free(item); /* refused: still ours */
    weft_sender_close(b->tx);
    return 0;
}

static int drop_frees_heap_items_main(void *arg)
{
    (void)arg;
    int freed = 0;
    weft_channel_opts_t o = {.on_drop = free_drop, .drop_arg = &freed}; /* opts_size 0: this layout */
    weft_sender_t *tx;
    weft_receiver_t *rx;
    EXPECT_RC(weft_channel_open(3, &o, &tx, &rx), 0);
    for (int i = 0; i < 3; i++)
        EXPECT_RC(weft_send_nowait(tx, malloc(8)), 0);
    blocked_send_t b = {tx, 1};
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, send_blocked, &b), 0);
    weft_channel_stats_t st;
    do
        weft_receiver_stats(rx, &st);
    while (st.tasks_waiting_send == 0 && weft_checkpoint() == 0);
    weft_receiver_close(rx);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(b.rc, WEFT_EPIPE);
    EXPECT(freed == 3);
    return 0;
}

static void drop_options_misuse(void)
{
    weft_sender_t *tx;
    weft_receiver_t *rx;
    weft_channel_opts_t o;
    weft_channel_opts_init(&o);
    o.opts_size = sizeof o + 8; /* a newer header's */
    assert_rc(weft_channel_open(1, &o, &tx, &rx), WEFT_EINVAL);
    assert_rc(weft_channel_open(1, NULL, NULL, &rx), WEFT_EINVAL);
    weft_channel_opts_init(NULL);
    assert_rc(weft_channel_open(1, NULL, &tx, &rx), 0); /* no options: weft_channel */
    assert_rc(weft_send_nowait(tx, (void *)1), 0);
    weft_receiver_close(rx); /* dropped, nobody told */
    weft_sender_close(tx);
}

static const wt_case_t cases[] = {
    WT_CASE(rendezvous),
    WT_TEST(buffered_nowait),
    WT_CASE(fifo_order),
    WT_CASE(eof),
    WT_CASE(epipe),
    WT_CASE(ebadf),
    WT_CASE(cancel_consumes_nothing),
    WT_CASE(delivered_wins_over_cancel),
    WT_CASE_ON(stats, WT_W1),
    WT_TEST(misuse),
    WT_CASE(thread_feeds_task),
    WT_TEST(huge_capacity_is_cheap),
    WT_TEST(growth_keeps_fifo),
    WT_CASE(growth_while_tasks_wait),
    WT_TEST(growth_out_of_memory),
    WT_CASE_ON(growth_out_of_memory_in_task, WT_W1),
    WT_TEST(huge_capacity_under_rlimit_as),
    WT_TEST(drop_callback_gets_buffered_items),
    WT_CASE(drop_frees_heap_items_main),
    WT_TEST(drop_options_misuse),
};
WT_SUITE(cases)
