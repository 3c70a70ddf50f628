/* Signal receivers: delivery by raise() from a task and from plain threads
 * (thread- and process-directed), several signals on one receiver (order,
 * duplicates), two receivers on one signal, coalescing when the ring is
 * full, close waking a blocked receive with WEFT_EBADF, cancellation (a
 * deadline, an expired scope consumes nothing), a second receive at once
 * (-EBUSY), receivers used from tasks on other workers, wrong contexts.
 *
 * A signal is raised only while a receiver for it is open: with none, its
 * disposition is SIG_DFL again and SIGUSR1 would end the test program. */
#define _GNU_SOURCE
#include "thread_helpers.h"

#include <signal.h>
#include <sys/types.h>

/* WEFT_TEST_TIMEOUT 120 */

/* Receive with a relative deadline: the signal, or WEFT_ECANCELED. */
static int receive_within(weft_signal_receiver_t *r, double seconds)
{
    weft_scope_t sc;
    weft_move_on_after(&sc, seconds);
    int rc = weft_signal_receive(r);
    int xrc = weft_scope_exit(&sc, rc);
    return rc == WEFT_ECANCELED && xrc == 0 ? WEFT_ECANCELED : rc;
}

/* ------------------------------------------------------------ raise from a task */

static int raise_main(void *p)
{
    (void)p;
    weft_signal_receiver_t *r = NULL;
    int sig = SIGUSR1;
    EXPECT_RC(weft_signal_open(&r, &sig, 1), 0);
    for (int i = 0; i < 5; i++) {
        EXPECT_RC(raise(SIGUSR1), 0);
        EXPECT_RC(weft_signal_receive(r), SIGUSR1);
    }
    /* Nothing more is pending. */
    EXPECT_RC(receive_within(r, 0.02), WEFT_ECANCELED);
    EXPECT_RC(weft_signal_close(r), 0);
    return 0;
}

static void test_raise_from_task(void **st)
{
    (void)st;
    WT_RUN_OK(raise_main, NULL, 1);
    WT_RUN_OK(raise_main, NULL, 4);
}

/* ------------------------------------------------------------ several signals */

static int several_main(void *p)
{
    (void)p;
    weft_signal_receiver_t *r = NULL;
    const int sigs[] = {SIGUSR1, SIGUSR2, SIGUSR1, SIGHUP};
    EXPECT_RC(weft_signal_open(&r, sigs, 4), 0);
    EXPECT_RC(raise(SIGUSR2), 0);
    EXPECT_RC(raise(SIGUSR1), 0);
    EXPECT_RC(raise(SIGHUP), 0);
    EXPECT_RC(raise(SIGUSR2), 0);
    /* In arrival order, each once (the duplicate SIGUSR1 is one handle). */
    EXPECT_RC(weft_signal_receive(r), SIGUSR2);
    EXPECT_RC(weft_signal_receive(r), SIGUSR1);
    EXPECT_RC(weft_signal_receive(r), SIGHUP);
    EXPECT_RC(weft_signal_receive(r), SIGUSR2);
    EXPECT_RC(receive_within(r, 0.02), WEFT_ECANCELED);
    EXPECT_RC(weft_signal_close(r), 0);
    return 0;
}

static void test_several_signals(void **st)
{
    (void)st;
    WT_RUN_OK(several_main, NULL, 2);
}

/* ------------------------------------------------------------ from other threads */

typedef struct {
    int sig;
    int process_directed; /* kill(getpid()) instead of raise() */
    atomic_int done;
} thread_raise_t;

static void *raiser_thread(void *p)
{
    thread_raise_t *a = p;
    usleep(30000); /* the task is blocked in receive by then (mostly) */
    if (a->process_directed)
        kill(getpid(), a->sig);
    else
        raise(a->sig);
    atomic_store(&a->done, 1);
    return NULL;
}

static int thread_main(void *p)
{
    (void)p;
    const int sigs[] = {SIGUSR1, SIGUSR2};
    weft_signal_receiver_t *r = NULL;
    EXPECT_RC(weft_signal_open(&r, sigs, 2), 0);
    for (int round = 0; round < 4; round++) {
        thread_raise_t a = {.sig = round % 2 ? SIGUSR2 : SIGUSR1, .process_directed = round >= 2};
        pthread_t th;
        if (!WT_THREAD_START(&th, raiser_thread, &a))
            break;
        double t0 = weft_now();
        EXPECT_RC(weft_signal_receive(r), a.sig);
        EXPECT(weft_now() - t0 < 5.0);
        WT_THREADS_FINISH(&th, 1, &a.done, 1, 10.0);
    }
    EXPECT_RC(weft_signal_close(r), 0);
    return 0;
}

static void test_raise_from_thread(void **st)
{
    (void)st;
    WT_RUN_OK(thread_main, NULL, 1);
    WT_RUN_OK(thread_main, NULL, 3);
}

/* ------------------------------------------------------------ two receivers */

typedef struct {
    weft_signal_receiver_t *r;
    atomic_int *ready;
    int got, extra;
} recv_arg_t;

static int receive_one(void *p)
{
    recv_arg_t *a = p;
    atomic_fetch_add(a->ready, 1);
    a->got = weft_signal_receive(a->r);
    a->extra = receive_within(a->r, 0.03);
    return 0;
}

static int two_main(void *p)
{
    (void)p;
    int sig = SIGUSR1;
    weft_signal_receiver_t *r1 = NULL, *r2 = NULL;
    EXPECT_RC(weft_signal_open(&r1, &sig, 1), 0);
    EXPECT_RC(weft_signal_open(&r2, &sig, 1), 0);
    for (int round = 0; round < 3; round++) {
        atomic_int ready = 0;
        recv_arg_t a1 = {.r = r1, .ready = &ready}, a2 = {.r = r2, .ready = &ready};
        weft_group_t g;
        EXPECT_RC(weft_group_open(&g), 0);
        weft_group_spawn(&g, receive_one, &a1);
        weft_group_spawn(&g, receive_one, &a2);
        EXPECT(wt_wait_flag(&ready, 2, 5.0));
        if (round == 1)
            weft_sleep(0.01); /* now they are blocked */
        EXPECT_RC(raise(SIGUSR1), 0);
        EXPECT_RC(weft_group_close(&g, 0), 0);
        EXPECT_RC(a1.got, SIGUSR1);
        EXPECT_RC(a2.got, SIGUSR1);
        EXPECT_RC(a1.extra, WEFT_ECANCELED);
        EXPECT_RC(a2.extra, WEFT_ECANCELED);
    }
    /* Closing one leaves the other catching the signal. */
    EXPECT_RC(weft_signal_close(r1), 0);
    EXPECT_RC(raise(SIGUSR1), 0);
    EXPECT_RC(weft_signal_receive(r2), SIGUSR1);
    EXPECT_RC(weft_signal_close(r2), 0);
    return 0;
}

static void test_two_receivers_one_signal(void **st)
{
    (void)st;
    WT_RUN_OK(two_main, NULL, 1);
    WT_RUN_OK(two_main, NULL, 4);
}

/* ------------------------------------------------------------ coalescing */

static int coalesce_main(void *p)
{
    (void)p;
    const int sigs[] = {SIGUSR1, SIGUSR2};
    weft_signal_receiver_t *r = NULL;
    EXPECT_RC(weft_signal_open(&r, sigs, 2), 0);
    for (int i = 0; i < 150; i++)
        raise(SIGUSR1);
    raise(SIGUSR2);
    for (int i = 0; i < 20; i++)
        raise(SIGUSR1);
    weft_sleep(0.05); /* every delivery reached the receiver's ring */
    int n1 = 0, n2 = 0, other = 0;
    for (;;) {
        int rc = receive_within(r, 0.05);
        if (rc == SIGUSR1)
            n1++;
        else if (rc == SIGUSR2)
            n2++;
        else if (rc == WEFT_ECANCELED)
            break;
        else
            other++;
    }
    EXPECT(other == 0);
    /* SIGUSR2 arrived while the ring was full: coalesced, never lost. */
    EXPECT(n2 == 1);
    /* 64 queued, then the repeats coalesced into one. */
    EXPECT(n1 >= 1 && n1 <= 65);
#ifndef WT_TSAN /* TSan may merge repeated raises of a signal itself */
    EXPECT(n1 == 65);
#endif
    /* The ring works normally afterwards. */
    raise(SIGUSR2);
    raise(SIGUSR1);
    EXPECT_RC(weft_signal_receive(r), SIGUSR2);
    EXPECT_RC(weft_signal_receive(r), SIGUSR1);
    EXPECT_RC(weft_signal_close(r), 0);
    return 0;
}

static void test_coalescing_when_full(void **st)
{
    (void)st;
    WT_RUN_OK(coalesce_main, NULL, 1);
    WT_RUN_OK(coalesce_main, NULL, 2);
}

/* ------------------------------------------------------------ close wakes a receive */

typedef struct {
    weft_signal_receiver_t *r;
    atomic_int entered, done;
    int rc;
} blocked_t;

static int blocked_receive(void *p)
{
    blocked_t *b = p;
    atomic_store(&b->entered, 1);
    b->rc = weft_signal_receive(b->r);
    atomic_store(&b->done, 1);
    return 0;
}

static int close_main(void *p)
{
    (void)p;
    int sig = SIGUSR1;
    for (int round = 0; round < 5; round++) {
        blocked_t b;
        memset(&b, 0, sizeof b);
        EXPECT_RC(weft_signal_open(&b.r, &sig, 1), 0);
        weft_group_t g;
        EXPECT_RC(weft_group_open(&g), 0);
        weft_group_spawn(&g, blocked_receive, &b);
        EXPECT(wt_wait_flag(&b.entered, 1, 5.0));
        weft_sleep(0.01);
        EXPECT(atomic_load(&b.done) == 0);
        EXPECT_RC(weft_signal_close(b.r), 0);
        EXPECT_RC(weft_group_close(&g, 0), 0);
        EXPECT_RC(b.rc, WEFT_EBADF);
    }
    return 0;
}

static void test_close_wakes_receive(void **st)
{
    (void)st;
    WT_RUN_OK(close_main, NULL, 1);
    WT_RUN_OK(close_main, NULL, 3);
}

/* ------------------------------------------------------------ cancellation */

static int cancel_main(void *p)
{
    (void)p;
    int sig = SIGUSR2;
    weft_signal_receiver_t *r = NULL;
    EXPECT_RC(weft_signal_open(&r, &sig, 1), 0);

    /* A deadline ends a blocked receive. */
    double t0 = weft_now();
    weft_scope_t sc;
    weft_move_on_after(&sc, 0.05);
    int rc = weft_signal_receive(r);
    EXPECT_RC(rc, WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&sc, rc), 0);
    EXPECT(weft_scope_cancelled_caught(&sc));
    double el = weft_now() - t0;
    EXPECT(el >= 0.045 && el < 0.05 + WT_SLACK);

    /* fail_after reports the expiry as a timeout. */
    weft_fail_after(&sc, 0.02);
    rc = weft_signal_receive(r);
    EXPECT_RC(weft_scope_exit(&sc, rc), WEFT_ETIMEDOUT);

    /* Already cancelled: the checkpoint comes first, nothing is consumed. */
    raise(SIGUSR2);
    weft_sleep(0.01);
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    weft_scope_cancel(&sc);
    rc = weft_signal_receive(r);
    EXPECT_RC(rc, WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&sc, rc), 0);
    EXPECT_RC(weft_signal_receive(r), SIGUSR2);

    /* Still usable after the cancellations. */
    raise(SIGUSR2);
    EXPECT_RC(receive_within(r, 5.0), SIGUSR2);
    EXPECT_RC(weft_signal_close(r), 0);
    return 0;
}

static void test_cancel_receive(void **st)
{
    (void)st;
    WT_RUN_OK(cancel_main, NULL, 1);
    WT_RUN_OK(cancel_main, NULL, 2);
}

/* ------------------------------------------------------------ busy, other workers */

static int busy_main(void *p)
{
    (void)p;
    int sig = SIGUSR1;
    blocked_t b;
    memset(&b, 0, sizeof b);
    EXPECT_RC(weft_signal_open(&b.r, &sig, 1), 0);
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    weft_group_spawn(&g, blocked_receive, &b);
    EXPECT(wt_wait_flag(&b.entered, 1, 5.0));
    weft_sleep(0.02);
    /* One receive at a time. */
    EXPECT_RC(weft_signal_receive(b.r), -EBUSY);
    raise(SIGUSR1);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(b.rc, SIGUSR1);
    EXPECT_RC(weft_signal_close(b.r), 0);
    return 0;
}

static void test_second_receive_busy(void **st)
{
    (void)st;
    WT_RUN_OK(busy_main, NULL, 1);
    WT_RUN_OK(busy_main, NULL, 2);
}

typedef struct {
    weft_signal_receiver_t *r;
    atomic_int raised, received;
} spread_t;

static int spread_raiser(void *p)
{
    spread_t *s = p;
    for (int i = 0; i < 10; i++) {
        raise(SIGUSR1);
        atomic_fetch_add(&s->raised, 1);
        weft_sleep(0.001);
    }
    return 0;
}

static int spread_receiver(void *p)
{
    spread_t *s = p;
    /* Every raise is received (the ring never fills: 40 < 64). */
    while (atomic_load(&s->received) < 40) {
        int rc = receive_within(s->r, 10.0);
        EXPECT_RC(rc, SIGUSR1);
        if (rc != SIGUSR1)
            break;
        atomic_fetch_add(&s->received, 1);
    }
    return 0;
}

static int spread_main(void *p)
{
    (void)p;
    int sig = SIGUSR1;
    spread_t s;
    memset(&s, 0, sizeof s);
    EXPECT_RC(weft_signal_open(&s.r, &sig, 1), 0);
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    weft_group_spawn(&g, spread_receiver, &s);
    for (int i = 0; i < 4; i++)
        weft_group_spawn(&g, spread_raiser, &s);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT(atomic_load(&s.received) == 40);
    EXPECT_RC(receive_within(s.r, 0.02), WEFT_ECANCELED);
    EXPECT_RC(weft_signal_close(s.r), 0);
    return 0;
}

static void test_tasks_on_other_workers(void **st)
{
    (void)st;
    WT_RUN_OK(spread_main, NULL, 4);
}

/* ------------------------------------------------------------ wrong contexts */

static int wrong_main(void *p)
{
    (void)p;
    weft_signal_receiver_t *r = NULL;
    int sig = SIGUSR1, zero = 0, neg = -3, kill9 = SIGKILL;
    EXPECT_RC(weft_signal_open(NULL, &sig, 1), WEFT_EINVAL);
    EXPECT_RC(weft_signal_open(&r, NULL, 1), WEFT_EINVAL);
    EXPECT_RC(weft_signal_open(&r, &sig, 0), WEFT_EINVAL);
    EXPECT_RC(weft_signal_open(&r, &zero, 1), WEFT_EINVAL);
    EXPECT_RC(weft_signal_open(&r, &neg, 1), WEFT_EINVAL);
    /* SIGKILL cannot be caught: libuv's error, nothing leaks. */
    EXPECT(weft_signal_open(&r, &kill9, 1) < 0);
    const int mixed[] = {SIGUSR1, SIGKILL};
    EXPECT(weft_signal_open(&r, mixed, 2) < 0);
    EXPECT(r == NULL);
    EXPECT_RC(weft_signal_receive(NULL), WEFT_EINVAL);
    EXPECT_RC(weft_signal_close(NULL), WEFT_EINVAL);
    return 0;
}

static void test_wrong_context(void **st)
{
    (void)st;
    weft_signal_receiver_t *r = NULL;
    int sig = SIGUSR1;
    assert_rc(weft_signal_open(&r, &sig, 1), WEFT_EPERM);
    assert_null(r);
    WT_RUN_OK(wrong_main, NULL, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raise_from_task),
        cmocka_unit_test(test_several_signals),
        cmocka_unit_test(test_raise_from_thread),
        cmocka_unit_test(test_two_receivers_one_signal),
        cmocka_unit_test(test_coalescing_when_full),
        cmocka_unit_test(test_close_wakes_receive),
        cmocka_unit_test(test_cancel_receive),
        cmocka_unit_test(test_second_receive_busy),
        cmocka_unit_test(test_tasks_on_other_workers),
        cmocka_unit_test(test_wrong_context),
    };
    wt_apply_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
