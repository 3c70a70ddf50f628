/*
 * Fault sweeps over a realistic program: a runtime with task groups, nested
 * cancel scopes, a channel between several producers and consumers,
 * to_thread calls sharing a limiter, and a TCP echo over loopback.  The
 * scenario runs once to count the library's allocations (thread starts, stack
 * mappings), then once per k failing the k-th one (fault.h), until a run
 * injects nothing (k went past the scenario's count: the counts vary a little
 * between runs, workers race).
 *
 * Every run must end with 0 or WEFT_ENOMEM from weft_run, in time (an alarm
 * turns a hang into a failure naming k), lose no item (each item whose send
 * succeeded is received exactly once, no other is received), leave no limiter
 * token borrowed, and (ASan builds) leak nothing: LeakSanitizer checks after
 * every run, so that a report names the k that leaked.
 *
 * docs/TESTING.md ("Fault injection") lists what the sweeps found.
 */
/* WEFT_TEST_TIMEOUT 240 */
#define _GNU_SOURCE
#include "io_helpers.h"

#include <signal.h>
#include <unistd.h>

#include "sched/fault.h"

#ifdef WT_ASAN
#include <sanitizer/lsan_interface.h>
#endif

enum { PRODUCERS = 3, CONSUMERS = 2, PER_PRODUCER = 6, ITEMS = PRODUCERS * PER_PRODUCER };
enum { OFFLOADERS = 2, ECHO_ROUNDS = 3, ECHO_BYTES = 1500 };

typedef struct scen scen_t;

typedef struct {
    scen_t *sc;
    int index;
    weft_sender_t *tx;
    weft_receiver_t *rx;
} worker_arg_t;

struct scen {
    worker_arg_t prod[PRODUCERS], cons[CONSUMERS];
    atomic_int accepted[ITEMS]; /* send returned 0 */
    atomic_int got[ITEMS];      /* times received */
    weft_limiter_t *lim;
    atomic_int fn_ok, bumped, offload_ok, abandon_calls, abandoned_ran, abandoned_cb;
    atomic_int handler_started, handler_err;
    int tokens_left; /* borrowed tokens at the end of main, -1 unchecked */
};

/* ------------------------------------------------------------ channel */

static int producer(void *p) {
    worker_arg_t *a = p;
    int rc = 0;
    for (int i = 0; i < PER_PRODUCER && rc == 0; i++) {
        int item = a->index * PER_PRODUCER + i;
        rc = weft_send(a->tx, (void *)(uintptr_t)(item + 1));
        if (rc == 0) atomic_store(&a->sc->accepted[item], 1);
    }
    weft_sender_close(a->tx);
    a->tx = NULL;
    return rc;
}

static void got_item(scen_t *sc, void *item) {
    uintptr_t v = (uintptr_t)item;
    if (v < 1 || v > ITEMS) {
        wt_failf(__FILE__, __LINE__, "received a foreign item %p", item);
        return;
    }
    atomic_fetch_add(&sc->got[v - 1], 1);
}

static int consumer(void *p) {
    worker_arg_t *a = p;
    int rc;
    void *item;
    while ((rc = weft_recv(a->rx, &item)) == 0) got_item(a->sc, item);
    weft_receiver_close(a->rx);
    a->rx = NULL;
    return rc == WEFT_EOF ? 0 : rc;
}

/* ------------------------------------------------------------ threads */

static int bump(void *p) {
    atomic_fetch_add(&((scen_t *)p)->bumped, 1);
    return 0;
}

/* On the blocking thread: a call back into the runtime, as a task. */
static int offload_fn(void *p) {
    int rc = weft_from_thread_run(bump, p);
    if (rc == 0) atomic_fetch_add(&((scen_t *)p)->fn_ok, 1);
    return rc;
}

static void on_abandoned(void *p, int rc) {
    scen_t *sc = p;
    if (rc == 0) atomic_fetch_add(&sc->abandoned_ran, 1);
    atomic_fetch_add(&sc->abandoned_cb, 1);
}

/* Offloads inside two nested deadlines, then lets a third expire. */
static int offloader(void *p) {
    scen_t *sc = p;
    weft_scope_t outer, inner, quick;
    weft_fail_after(&outer, 60);
    weft_move_on_after(&inner, 30);
    int rc = 0;
    for (int abandonable = 0; abandonable < 2 && rc == 0; abandonable++) {
        weft_thread_opts_t opts = {.limiter = sc->lim,
                                   .abandon_on_cancel = abandonable,
                                   .on_abandoned = abandonable ? on_abandoned : NULL};
        rc = weft_to_thread_run_sync(offload_fn, sc, &opts);
        if (rc == 0) atomic_fetch_add(&sc->offload_ok, 1);
        else if (rc == WEFT_ECANCELED && abandonable) atomic_fetch_add(&sc->abandon_calls, 1);
    }
    if (rc == 0) {
        weft_move_on_after(&quick, 0.001);
        rc = weft_scope_exit(&quick, weft_sleep(10));
    }
    rc = weft_scope_exit(&inner, rc);
    return weft_scope_exit(&outer, rc);
}

/* ------------------------------------------------------------ TCP echo */

static int echo_handler(weft_stream_t *s, void *p) {
    scen_t *sc = p;
    atomic_store(&sc->handler_started, 1);
    int rc = wt_echo_handler(s, NULL);
    if (rc) atomic_store(&sc->handler_err, rc);
    return rc;
}

static int server_task(void *p) {
    weft_listener_t *l;
    int rc = weft_tcp_listen(&l, "127.0.0.1", 0, NULL);
    if (rc) return rc;
    weft_started((void *)(intptr_t)weft_listener_port(l));
    rc = weft_serve(l, echo_handler, p);
    weft_listener_close(l);
    return rc;
}

static int echo_rounds(weft_stream_t *s) {
    static char out[ECHO_BYTES], back[ECHO_BYTES];
    int rc = 0;
    for (int r = 0; r < ECHO_ROUNDS && rc == 0; r++) {
        wt_pat_fill(out, sizeof out, (uint64_t)r, 0);
        rc = weft_stream_send(s, out, sizeof out);
        if (rc == 0 && (rc = wt_recv_exact(s, back, sizeof back)) == (int)sizeof back) {
            rc = 0;
            EXPECT(memcmp(out, back, sizeof out) == 0);
        }
    }
    if (rc == 0) rc = weft_stream_send_eof(s);
    if (rc == 0) {
        rc = weft_stream_receive(s, back, sizeof back);
        rc = rc == WEFT_EOF ? 0 : rc < 0 ? rc : WEFT_EINVAL;
    }
    return rc;
}

static int echo_client(scen_t *sc, int port) {
    weft_stream_t *s;
    int rc = weft_tcp_connect(&s, "127.0.0.1", port);
    if (rc) return rc;
    rc = echo_rounds(s);
    weft_stream_close(s);
    /* The server ends a connection it has no memory for (serve drops it
     * before the handler starts, or the handler fails): the client sees the
     * end of the stream, the server's error is the reason. */
    int cut = rc == WEFT_EOF || rc == -ECONNRESET || rc == -EPIPE;
    if (cut && !atomic_load(&sc->handler_started)) return WEFT_ENOMEM;
    if (cut && atomic_load(&sc->handler_err)) return atomic_load(&sc->handler_err);
    return rc;
}

static int echo_task(void *p) {
    weft_group_t g;
    int rc = weft_group_open(&g);
    if (rc) return rc;
    void *port = NULL;
    rc = weft_group_start(&g, server_task, p, &port);
    if (rc == 0) rc = echo_client(p, (int)(intptr_t)port);
    weft_group_cancel(&g);
    return weft_group_close(&g, rc);
}

/* ------------------------------------------------------------ files */

static char file_path[64];

/* A file written whole and read back whole (read_all's buffer is the
 * caller's: freed with free()). */
static int file_task(void *p) {
    (void)p;
    static const char text[] = "weft fault injection\n";
    int rc = weft_file_write_all(file_path, text, sizeof text - 1);
    void *data = NULL;
    size_t len = 0;
    if (rc == 0) rc = weft_file_read_all(file_path, &data, &len);
    if (rc == 0) EXPECT(len == sizeof text - 1 && memcmp(data, text, len) == 0);
    free(data);
    return rc;
}

/* ------------------------------------------------------------ main */

static int spawn_channel_users(scen_t *sc, weft_group_t *g, weft_sender_t *tx, weft_receiver_t *rx) {
    int rc;
    for (int i = 0; i < PRODUCERS; i++) {
        worker_arg_t *a = &sc->prod[i];
        *a = (worker_arg_t){.sc = sc, .index = i};
        if ((rc = weft_sender_clone(tx, &a->tx)) != 0) return rc;
        if ((rc = weft_group_spawn(g, producer, a)) != 0) return rc;
    }
    for (int i = 0; i < CONSUMERS; i++) {
        worker_arg_t *a = &sc->cons[i];
        *a = (worker_arg_t){.sc = sc, .index = i};
        if ((rc = weft_receiver_clone(rx, &a->rx)) != 0) return rc;
        if ((rc = weft_group_spawn(g, consumer, a)) != 0) return rc;
    }
    return 0;
}

/* The handles of tasks that never ran: not spawned, or (a stack that could
 * not be mapped) failed before their first line.  Their arg is still ours. */
static void close_unclaimed(scen_t *sc) {
    for (int i = 0; i < PRODUCERS; i++)
        if (sc->prod[i].tx) weft_sender_close(sc->prod[i].tx);
    for (int i = 0; i < CONSUMERS; i++)
        if (sc->cons[i].rx) weft_receiver_close(sc->cons[i].rx);
}

static int spawn_all(scen_t *sc, weft_group_t *g, weft_sender_t *tx, weft_receiver_t *rx) {
    int rc = spawn_channel_users(sc, g, tx, rx);
    for (int i = 0; i < OFFLOADERS && rc == 0; i++) rc = weft_group_spawn(g, offloader, sc);
    if (rc == 0) rc = weft_group_spawn(g, echo_task, sc);
    if (rc == 0) rc = weft_group_spawn(g, file_task, NULL);
    return rc;
}

/* Tokens go back when fn returns, also for an abandoned call: wait for those
 * still finishing, then none may be left borrowed. */
static void check_tokens(scen_t *sc) {
    double end = weft_now() + 5;
    while (atomic_load(&sc->abandoned_cb) < atomic_load(&sc->abandon_calls) && weft_now() < end)
        if (weft_sleep(0.0002) != 0) break;
    weft_limiter_stats_t st;
    weft_limiter_stats(sc->lim, &st);
    sc->tokens_left = (int)st.borrowed_tokens;
}

static int scenario(void *p) {
    scen_t *sc = p;
    weft_sender_t *tx;
    weft_receiver_t *rx;
    int rc = weft_channel(2, &tx, &rx);
    if (rc) return rc;
    if ((rc = weft_limiter_new(&sc->lim, 1)) == 0) {
        weft_group_t g;
        if ((rc = weft_group_open(&g)) == 0) {
            rc = spawn_all(sc, &g, tx, rx);
            weft_sender_close(tx); /* the producers' clones end the stream */
            tx = NULL;
            rc = weft_group_close(&g, rc);
            close_unclaimed(sc);
        }
        check_tokens(sc);
        weft_limiter_free(sc->lim);
    }
    /* What the consumers left in the buffer (they were cancelled) is
     * still there: taking it proves no accepted item was lost. */
    void *item;
    while (weft_recv_nowait(rx, &item) == 0) got_item(sc, item);
    if (tx) weft_sender_close(tx);
    weft_receiver_close(rx);
    return rc;
}

/* ------------------------------------------------------------ the sweeps */

static const char *const kind_names[] = {"allocation", "thread start", "stack mapping"};
static volatile sig_atomic_t cur_kind, cur_k;

static void on_alarm(int sig) {
    (void)sig;
    char msg[128];
    int n = snprintf(msg, sizeof msg, "test_alloc_fail: run failing %s %ld hangs\n",
                     kind_names[cur_kind], (long)cur_k);
    if (n > 0) (void)!write(2, msg, (size_t)n);
    abort();
}

/* One run with the k-th operation of `kind` failing; checks it.  The
 * number of failures injected (0: k was past the run's operations). */
static long run_failing(wf_fault_kind_t kind, long k, unsigned workers, int *rc_out) {
    static scen_t sc;
    memset(&sc, 0, sizeof sc);
    sc.tokens_left = -1;
    cur_kind = kind;
    cur_k = k;
    alarm(WT_TSAN_PICK(20, 60));
    wf_fault_fail_at(kind, k);
    int rc = wt_run(scenario, &sc, workers);
    wf_fault_fail_at(kind, 0);
    alarm(0);
    long injected = wf_fault_injected(kind);

    char what[64];
    snprintf(what, sizeof what, "%u worker(s), failing %s %ld", workers, kind_names[kind], k);
    if (atomic_load(&wt_fail_count)) print_error("%s: %s\n", what, wt_fail_msg);
    WT_ASSERT_CLEAN();
    if (rc != 0 && rc != WEFT_ENOMEM) {
        print_error("%s: weft_run = %d (%s)\n", what, rc, weft_err_name(rc));
        fail();
    }
    if (injected == 0 && rc != 0) {
        print_error("%s: nothing injected, yet weft_run = %d (%s)\n", what, rc, weft_err_name(rc));
        fail();
    }
    for (int i = 0; i < ITEMS; i++) {
        int want = atomic_load(&sc.accepted[i]), got = atomic_load(&sc.got[i]);
        if (got != want) {
            print_error("%s: item %d: accepted %d, received %d times\n", what, i, want, got);
            fail();
        }
    }
    if (sc.tokens_left > 0) {
        print_error("%s: %d limiter token(s) still borrowed\n", what, sc.tokens_left);
        fail();
    }
    /* Each call that succeeded had its fn succeed, and the fn's success is
     * a task that ran; a fn that succeeded after its call was abandoned
     * reported to on_abandoned instead. */
    int fn_ok = atomic_load(&sc.fn_ok), ok = atomic_load(&sc.offload_ok);
    if (ok != fn_ok - atomic_load(&sc.abandoned_ran) || atomic_load(&sc.bumped) < fn_ok) {
        print_error("%s: %d calls succeeded, fn succeeded %d times (%d abandoned), bump ran %d\n",
                    what, ok, fn_ok, atomic_load(&sc.abandoned_ran), atomic_load(&sc.bumped));
        fail();
    }
#ifdef WT_ASAN
    if (__lsan_do_recoverable_leak_check()) {
        print_error("%s: leaked (report above)\n", what);
        fail();
    }
#endif
    *rc_out = rc;
    return injected;
}

/* Count the scenario's operations of `kind`, then fail each in turn. */
static void sweep_once(wf_fault_kind_t kind, unsigned workers) {
    double t0 = weft_now();
    int rc;
    run_failing(kind, WF_FAULT_COUNT_ONLY, workers, &rc);
    assert_rc(rc, 0);
    long counted = wf_fault_count(kind), runs = 0, nomem = 0, k = 1;
    assert_true(counted > 0);
    /* WEFT_FAULT_ONLY=k replays one run (to debug it: break on the
     * injection in wf_fault_hit_slow). */
    const char *only = getenv("WEFT_FAULT_ONLY");
    if (only && *only) {
        run_failing(kind, atol(only), workers, &rc);
        return;
    }
    /* The count varies between runs (threads race); keep going until a run
     * has no k-th operation, with a bound against a runaway. */
    char absorbed[256] = "";
    for (; k <= 4 * counted + 16; k++) {
        runs++;
        if (run_failing(kind, k, workers, &rc) == 0) break;
        nomem += rc == WEFT_ENOMEM;
        size_t used = strlen(absorbed);
        if (rc == 0) snprintf(absorbed + used, sizeof absorbed - used, " %ld", k);
    }
    assert_true(k <= 4 * counted + 16);
    printf("[ sweep    ] %u worker(s), %s: %ld counted, %ld runs, %ld ended in WEFT_ENOMEM, "
           "%ld in 0 (absorbed:%s), %.2f s\n",
           workers, kind_names[kind], counted, runs, nomem, runs - nomem,
           absorbed[0] ? absorbed : " none", weft_now() - t0);
}

/* With one worker the k-th operation is nearly the same one every time; two
 * add stealing and cross-worker wakeups, and shift which operation is k-th
 * from round to round (more error paths over the rounds).  file_task's file
 * is named after this process and removed after the sweep. */
static void sweep(wf_fault_kind_t kind) {
    signal(SIGALRM, on_alarm);
    snprintf(file_path, sizeof file_path, "/tmp/weft_alloc_fail.%d", (int)getpid());
    for (unsigned workers = 1; workers <= 2; workers++)
        for (int round = 0; round < WT_TSAN_PICK(3, 1); round++) sweep_once(kind, workers);
    unlink(file_path);
}

static void alloc_sweep(void) { sweep(WF_FAULT_ALLOC); }

static void thread_sweep(void) { sweep(WF_FAULT_THREAD); }

static void stack_sweep(void) { sweep(WF_FAULT_STACK); }

static const wt_case_t cases[] = {
    WT_TEST(alloc_sweep),
    WT_TEST(thread_sweep),
    WT_TEST(stack_sweep),
};
WT_SUITE(cases)
