/* Signal receivers: delivery by raise() from a task and from plain threads
 * (thread- and process-directed), several signals on one receiver (order,
 * duplicates), two receivers on one signal, coalescing when the ring is
 * full, close waking a blocked receive with WEFT_EBADF, cancellation (a
 * deadline, an expired scope consumes nothing), a second receive at once
 * (-EBUSY), receivers used from tasks on other workers, wrong contexts.
 *
 * Dispositions: the signals a receiver may not take (synchronous ones,
 * SIGKILL, SIGSTOP, out of range), and what closing the last receiver of a
 * signal leaves behind — what was there before the first one opened: a
 * program's own handler (also after a half-failed open, with receivers in two
 * runtimes, and for a receiver left open when its runtime ends), weft_run's
 * SIG_IGN for SIGPIPE, the WEFT_DEBUG=1 SIGQUIT dump, the stack-overflow
 * report.  The cases that would kill the process or spin when it goes wrong
 * run in a child: this binary again, with WEFT_SIGNAL_CASE=<case>.
 *
 * A signal is raised only while a receiver or a handler of the test's own is
 * there for it: otherwise its disposition is SIG_DFL and SIGUSR1 would end
 * the test program. */
#define _GNU_SOURCE
#include "proc_helpers.h"
#include "thread_helpers.h"

#include <limits.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>

/* WEFT_TEST_TIMEOUT 120 */

#define CASE_ENV "WEFT_SIGNAL_CASE"

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

static int raise_from_task(void *p)
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

/* ------------------------------------------------------------ several signals */

static int several_signals(void *p)
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

static int raise_from_thread(void *p)
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

static int two_receivers_one_signal(void *p)
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

/* ------------------------------------------------------------ coalescing */

static int coalescing_when_full(void *p)
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

static int close_wakes_receive(void *p)
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

/* ------------------------------------------------------------ cancellation */

static int cancel_receive(void *p)
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

/* ------------------------------------------------------------ busy, other workers */

static int second_receive_busy(void *p)
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

static int tasks_on_other_workers(void *p)
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
    /* SIGKILL cannot be caught (refused_signals has the rest). */
    EXPECT_RC(weft_signal_open(&r, &kill9, 1), WEFT_EINVAL);
    const int mixed[] = {SIGUSR1, SIGKILL};
    EXPECT_RC(weft_signal_open(&r, mixed, 2), WEFT_EINVAL);
    EXPECT(r == NULL);
    EXPECT_RC(weft_signal_receive(NULL), WEFT_EINVAL);
    EXPECT_RC(weft_signal_close(NULL), WEFT_EINVAL);
    return 0;
}

static void wrong_context(void)
{
    weft_signal_receiver_t *r = NULL;
    int sig = SIGUSR1;
    assert_rc(weft_signal_open(&r, &sig, 1), WEFT_EPERM);
    assert_null(r);
    WT_RUN_OK(wrong_main, NULL, 1);
}

/* ------------------------------------------------------------ dispositions */

static atomic_int own_caught;

static void own_handler(int sig, siginfo_t *info, void *uctx)
{
    (void)sig;
    (void)info;
    (void)uctx;
    atomic_fetch_add(&own_caught, 1);
}

static int same_disposition(const struct sigaction *a, const struct sigaction *b)
{
    return a->sa_sigaction == b->sa_sigaction && a->sa_flags == b->sa_flags &&
           sigismember(&a->sa_mask, SIGHUP) == sigismember(&b->sa_mask, SIGHUP);
}

/* Give sig a handler of the test's own, with every part of a disposition
 * set (SA_SIGINFO, SA_RESTART, SIGHUP masked); *installed is what sigaction
 * reads back.  A check, not an assertion: it also runs in tasks. */
static void own_handler_install(int sig, struct sigaction *installed)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = own_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGHUP);
    EXPECT(sigaction(sig, &sa, NULL) == 0);
    EXPECT(sigaction(sig, NULL, installed) == 0);
}

/* Wait up to 5 s for own_handler to have run `want` times (a sanitizer
 * delivers a signal at its next safe point, not inside raise). */
static int own_caught_reaches(int want)
{
    for (int i = 0; i < 5000 && atomic_load(&own_caught) < want; i++)
        usleep(1000);
    return atomic_load(&own_caught) == want;
}

/* sig's disposition is `own` again, and a raise reaches own_handler.  Raised
 * only if so: anything else (SIG_DFL) would end the test program. */
static void expect_own_handler(int sig, const struct sigaction *own, const char *when)
{
    struct sigaction now;
    sigaction(sig, NULL, &now);
    if (!same_disposition(&now, own)) {
        wt_failf(__FILE__, __LINE__, "%s: signal %d has handler %p flags 0x%x, not the program's own",
                 when, sig, (void *)now.sa_handler, (unsigned)now.sa_flags);
        return;
    }
    int before = atomic_load(&own_caught);
    raise(sig);
    if (!own_caught_reaches(before + 1))
        wt_failf(__FILE__, __LINE__, "%s: the program's own handler did not run", when);
}

/* A raise of sig goes to r, not to own_handler. */
static void expect_caught_by(weft_signal_receiver_t *r, int sig)
{
    int before = atomic_load(&own_caught);
    raise(sig);
    EXPECT_RC(receive_within(r, 5.0), sig);
    EXPECT(atomic_load(&own_caught) == before);
}

/* Open a receiver of sig that catches it. */
static weft_signal_receiver_t *open_and_catch(int sig)
{
    weft_signal_receiver_t *r = NULL;
    EXPECT_RC(weft_signal_open(&r, &sig, 1), 0);
    if (r != NULL)
        expect_caught_by(r, sig);
    return r;
}

/* In a task: fn(&own) while SIGUSR2 has the program's own handler `own`. */
static int with_own_handler(weft_fn_t fn)
{
    struct sigaction own;
    own_handler_install(SIGUSR2, &own);
    int rc = fn(&own);
    signal(SIGUSR2, SIG_DFL);
    return rc;
}

/* ------------------------------------------------------------ refused signals */

static int refused_main(void *p)
{
    const struct sigaction *own = p;
    const int refused[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGKILL, SIGSTOP,
                           0,       -1,     SIGRTMAX + 1, 1000, INT_MAX, INT_MIN};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        int sig = refused[i];
        int real = sig > 0 && sig < NSIG;
        struct sigaction before, after;
        if (real)
            sigaction(sig, NULL, &before);
        weft_signal_receiver_t *r = NULL, *r_mixed = NULL;
        const int with_usr2[] = {SIGUSR2, sig};
        int rc = weft_signal_open(&r, &sig, 1);
        int rc_mixed = weft_signal_open(&r_mixed, with_usr2, 2);
        if (rc != WEFT_EINVAL || rc_mixed != WEFT_EINVAL || r || r_mixed)
            wt_failf(__FILE__, __LINE__, "signal %d: open returned %s, with SIGUSR2 %s", sig,
                     weft_err_name(rc), weft_err_name(rc_mixed));
        weft_signal_close(r);
        weft_signal_close(r_mixed);
        /* Nothing was registered: what was there (weft's stack-overflow
         * report for SIGSEGV and SIGBUS) still is. */
        if (real && rc == WEFT_EINVAL) {
            sigaction(sig, NULL, &after);
            if (!same_disposition(&before, &after))
                wt_failf(__FILE__, __LINE__, "signal %d: its disposition changed", sig);
        }
    }
    expect_own_handler(SIGUSR2, own, "after the refused opens");
    return 0;
}

static int refused_signals(void *p)
{
    (void)p;
    return with_own_handler(refused_main);
}

/* ------------------------------------------------------------ the program's own handler */

static int own_back_main(void *p)
{
    const struct sigaction *own = p;
    for (int round = 0; round < 2; round++) {
        weft_signal_receiver_t *r = open_and_catch(SIGUSR2);
        EXPECT_RC(weft_signal_close(r), 0);
        expect_own_handler(SIGUSR2, own, "after the only receiver closed");
    }
    /* Two receivers: closing the first leaves the signal with the second. */
    weft_signal_receiver_t *r1 = open_and_catch(SIGUSR2), *r2 = open_and_catch(SIGUSR2);
    EXPECT_RC(weft_signal_close(r1), 0);
    expect_caught_by(r2, SIGUSR2);
    EXPECT_RC(weft_signal_close(r2), 0);
    expect_own_handler(SIGUSR2, own, "after the second receiver closed");
    return 0;
}

static int own_handler_comes_back(void *p)
{
    (void)p;
    return with_own_handler(own_back_main);
}

/* An open that fails after its first signal was started: glibc keeps the
 * first real-time signals (32, 33) for itself, and libuv's sigaction of one
 * fails. */
static int half_failed_main(void *p)
{
    const struct sigaction *own = p;
    const int sigs[] = {SIGUSR2, SIGRTMIN - 1};
    weft_signal_receiver_t *r = NULL;
    EXPECT_RC(weft_signal_open(&r, sigs, 2), WEFT_EINVAL);
    EXPECT(r == NULL);
    expect_own_handler(SIGUSR2, own, "after the failed open");
    /* It gave back its count: the next last close still restores. */
    EXPECT_RC(weft_signal_close(open_and_catch(SIGUSR2)), 0);
    expect_own_handler(SIGUSR2, own, "after the next receiver closed");
    return 0;
}

static int half_failed_with_own_handler(void *p)
{
    (void)p;
    return with_own_handler(half_failed_main);
}

/* A plain test: a case's body cannot skip. */
static void half_failed_open_gives_back(void)
{
    if (SIGRTMIN <= 32)
        skip(); /* no reserved real-time signal to fail with */
    WT_RUN_OK(half_failed_with_own_handler, NULL, 1);
}

/* ------------------------------------------------------------ two runtimes */

typedef struct {
    atomic_int opened, closed; /* how many of the two runtimes did */
    const struct sigaction *own;
} pair_t;

typedef struct {
    pair_t *pair;
    int first_to_close;
    int rc;
} peer_t;

/* Each runtime opens a receiver of SIGUSR2; one closes, the other still
 * receives, then closes last and finds the program's handler back. */
static int peer_main(void *p)
{
    peer_t *me = p;
    pair_t *x = me->pair;
    int sig = SIGUSR2;
    weft_signal_receiver_t *r = NULL;
    EXPECT_RC(weft_signal_open(&r, &sig, 1), 0);
    atomic_fetch_add(&x->opened, 1);
    EXPECT(wt_wait_flag(&x->opened, 2, 10.0));
    if (me->first_to_close) {
        EXPECT_RC(weft_signal_close(r), 0);
        atomic_fetch_add(&x->closed, 1);
        return 0;
    }
    EXPECT(wt_wait_flag(&x->closed, 1, 10.0));
    expect_caught_by(r, SIGUSR2);
    EXPECT_RC(weft_signal_close(r), 0);
    expect_own_handler(SIGUSR2, x->own, "after the other runtime's receiver closed too");
    return 0;
}

static void *peer_thread(void *p)
{
    peer_t *me = p;
    me->rc = wt_run(peer_main, me, 1);
    return NULL;
}

static void two_runtimes_one_signal(void)
{
    struct sigaction own;
    own_handler_install(SIGUSR2, &own);
    for (int round = 0; round < 2; round++) {
        pair_t x = {.own = &own};
        peer_t there = {.pair = &x, .first_to_close = round == 0};
        peer_t here = {.pair = &x, .first_to_close = round != 0};
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, peer_thread, &there), 0);
        peer_thread(&here);
        pthread_join(th, NULL);
        WT_ASSERT_CLEAN();
        assert_rc(here.rc, 0);
        assert_rc(there.rc, 0);
    }
    signal(SIGUSR2, SIG_DFL);
}

/* ------------------------------------------------------------ left open */

static int left_open_main(void *p)
{
    (void)p;
    open_and_catch(SIGUSR2); /* never closed: the runtime's end closes it */
    return 0;
}

static void left_open_at_the_end(void)
{
    struct sigaction own;
    own_handler_install(SIGUSR2, &own);
    WT_RUN_OK(left_open_main, NULL, 2);
    expect_own_handler(SIGUSR2, &own, "after the runtime with an open receiver ended");
    WT_ASSERT_CLEAN();
    /* Its count went with it: the next runtime's last close restores too. */
    WT_RUN_OK(own_back_main, &own, 1);
    signal(SIGUSR2, SIG_DFL);
}

/* ------------------------------------------------------------ in a child */

/* SIGSEGV's receiver, refused now; before, it took the signal over from the
 * stack-overflow report, and closing it left SIG_DFL behind. */
static weft_signal_receiver_t *try_segv_receiver(void)
{
    int sig = SIGSEGV;
    weft_signal_receiver_t *r = NULL;
    EXPECT_RC(weft_signal_open(&r, &sig, 1), WEFT_EINVAL);
    return r;
}

static int overflow_child(void *p)
{
    (void)p;
    weft_signal_close(try_segv_receiver());
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    weft_group_spawn_named(&g, wt_recurse_forever, NULL, "recurse_forever");
    return weft_group_close(&g, 0);
}

static int *volatile nowhere;

/* A NULL dereference while the receiver (if it opened) is open: a handler
 * that returns made the fault repeat for ever. */
static int null_deref_child(void *p)
{
    (void)p;
    try_segv_receiver();
    *nowhere = 1;
    return 0;
}

/* weft_run ignores SIGPIPE, and a receiver of it must leave it so: a send to
 * a pipe nobody reads then fails with WEFT_EPIPE instead of killing us. */
static int sigpipe_child(void *p)
{
    (void)p;
    weft_signal_close(open_and_catch(SIGPIPE));
    struct sigaction now;
    sigaction(SIGPIPE, NULL, &now);
    EXPECT(now.sa_handler == SIG_IGN);
    const char *const argv[] = {"true", NULL};
    weft_process_opts_t opts = {.stdout_mode = WEFT_STDIO_NULL, .stderr_mode = WEFT_STDIO_NULL};
    weft_process_t *proc = NULL;
    EXPECT_RC(weft_process_open(&proc, argv, &opts), 0);
    if (proc == NULL)
        return 0;
    EXPECT_RC(weft_process_wait(proc), 0);
    EXPECT_RC(weft_stream_send(weft_process_stdin(proc), "x", 1), WEFT_EPIPE);
    EXPECT_RC(weft_process_free(proc), 0);
    return 0;
}

static int sleep_long(void *p)
{
    (void)p;
    return weft_sleep(3600);
}

/* WEFT_DEBUG=1: SIGQUIT prints the task tree, also after a receiver of it
 * came and went. */
static int quit_dump_child(void *p)
{
    (void)p;
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    weft_group_spawn_named(&g, sleep_long, NULL, "sleeper");
    weft_signal_close(open_and_catch(SIGQUIT));
    raise(SIGQUIT);
    EXPECT_RC(weft_sleep(0.5), 0); /* the monitor serves it within 50 ms */
    weft_group_cancel(&g);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    return 0;
}

static int run_case(const char *name)
{
    static const struct {
        const char *name;
        weft_fn_t fn;
    } children[] = {
        {"overflow", overflow_child},
        {"null_deref", null_deref_child},
        {"sigpipe", sigpipe_child},
        {"quit_dump", quit_dump_child},
    };
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    alarm(20); /* a fault that repeats for ever ends as SIGALRM */
    setenv("WEFT_DEBUG", strcmp(name, "quit_dump") == 0 ? "1" : "0", 1);
    for (size_t i = 0; i < sizeof children / sizeof children[0]; i++) {
        if (strcmp(children[i].name, name) != 0)
            continue;
        int rc = wt_run(children[i].fn, NULL, 1);
        if (atomic_load(&wt_fail_count))
            fprintf(stderr, "%s: %s\n", name, wt_fail_msg);
        fprintf(stderr, "%s: weft_run returned %s, still alive\n", name, weft_err_name(rc));
        return rc == 0 && atomic_load(&wt_fail_count) == 0 ? 0 : 1;
    }
    fprintf(stderr, "unknown case %s\n", name);
    return 2;
}

/* Run this program again as case `name`: its status as wt_proc_finish
 * reports it, its output in p->out (free with wt_proc_free). */
static int run_child(wt_proc_t *p, const char *name)
{
    char env[64];
    snprintf(env, sizeof env, CASE_ENV "=%s", name);
    char *argv[] = {(char *)"/proc/self/exe", NULL};
    wt_proc_start(p, argv, env);
    return wt_proc_finish(p, 60);
}

static void expect_status(const wt_proc_t *p, const char *name, int got, int want)
{
    if (got != want) {
        print_error("case %s ended with %d, expected %d; its output:\n%s\n", name, got, want,
                    p->out);
        fail();
    }
}

static void overflow_report_after_segv_receiver(void)
{
#ifdef WT_SANITIZED
    skip(); /* the sanitizers' SIGSEGV handling runs there, as in test_death */
#else
    wt_proc_t p;
    expect_status(&p, "overflow", run_child(&p, "overflow"), 128 + SIGABRT);
    wt_assert_output(&p, "weft: task 'recurse_forever' overflowed its 256 KiB stack");
    wt_proc_free(&p);
#endif
}

static void null_deref_after_segv_receiver(void)
{
    wt_proc_t p;
    int status = run_child(&p, "null_deref");
#ifdef WT_SANITIZED
    /* The sanitizer reports the SEGV and exits; it must not spin. */
    if (status == 0 || status == 128 + SIGALRM || status == 128 + SIGKILL)
        expect_status(&p, "null_deref", status, 1);
#else
    expect_status(&p, "null_deref", status, 128 + SIGSEGV);
#endif
    wt_proc_free(&p);
}

static void sigpipe_ignored_after_receiver(void)
{
    wt_proc_t p;
    expect_status(&p, "sigpipe", run_child(&p, "sigpipe"), 0);
    wt_proc_free(&p);
}

static void sigquit_dump_after_receiver(void)
{
    wt_proc_t p;
    expect_status(&p, "quit_dump", run_child(&p, "quit_dump"), 0);
    wt_assert_output(&p, "task 'sleeper': waiting on sleep");
    wt_proc_free(&p);
}

static const wt_case_t cases[] = {
    WT_CASE_ON(raise_from_task, WT_W1 | WT_W4),
    WT_CASE_ON(several_signals, WT_W2),
    WT_CASE_ON(raise_from_thread, WT_W1 | WT_W4),
    WT_CASE_ON(two_receivers_one_signal, WT_W1 | WT_W4),
    WT_CASE(coalescing_when_full),
    WT_CASE_ON(close_wakes_receive, WT_W1 | WT_W4),
    WT_CASE(cancel_receive),
    WT_CASE(second_receive_busy),
    WT_CASE_ON(tasks_on_other_workers, WT_W4),
    WT_TEST(wrong_context),
    WT_CASE_ON(refused_signals, WT_W1),
    WT_CASE_ON(own_handler_comes_back, WT_W1 | WT_W4),
    WT_TEST(half_failed_open_gives_back),
    WT_TEST(two_runtimes_one_signal),
    WT_TEST(left_open_at_the_end),
    WT_TEST(overflow_report_after_segv_receiver),
    WT_TEST(null_deref_after_segv_receiver),
    WT_TEST(sigpipe_ignored_after_receiver),
    WT_TEST(sigquit_dump_after_receiver),
};

/* Not WT_SUITE: a child runs its one case (run_case) instead of the table. */
int main(void)
{
    const char *which = getenv(CASE_ENV);
    if (which != NULL)
        return run_case(which);
    return wt_run_suite(__FILE__, cases, sizeof cases / sizeof cases[0]);
}
