/* weft_run returns with nothing leaked: after runs that use every feature
 * (groups, scopes and deadlines, cancellation, channels, locks, to_thread
 * including abandoned calls, from_thread, TCP), LeakSanitizer finds no
 * unreachable memory.  Meaningful in the ASan build (asan.test_leaks, with
 * detect_leaks=1); elsewhere the workload runs and the check is skipped. */
#define _GNU_SOURCE
#include "io_helpers.h"
#include "thread_helpers.h"

#ifdef WT_ASAN
#include <sanitizer/lsan_interface.h>
#endif

/* WEFT_TEST_TIMEOUT 120 */

typedef struct {
    weft_sender_t *tx;
    weft_receiver_t *rx;
    weft_lock_t *lock;
    int counter;
} work_t;

static int producer(void *arg)
{
    work_t *w = arg;
    for (intptr_t i = 1; i <= 50; i++)
        EXPECT_RC(weft_send(w->tx, (void *)i), 0);
    weft_sender_close(w->tx);
    return 0;
}

static int consumer(void *arg)
{
    work_t *w = arg;
    void *item;
    int n = 0;
    while (weft_recv(w->rx, &item) == 0) {
        EXPECT_RC(weft_lock_acquire(w->lock), 0);
        w->counter++;
        EXPECT_RC(weft_lock_release(w->lock), 0);
        n++;
    }
    EXPECT(n == 50);
    return 0;
}

static int sleeper(void *arg)
{
    (void)arg;
    return weft_sleep(WEFT_FOREVER); /* cancelled by the group */
}

static int on_worker(void *arg)
{
    (*(int *)arg)++;
    return 0;
}

static int blocking(void *arg)
{
    usleep(2000);
    return weft_from_thread_run_sync(on_worker, arg);
}

static void abandoned(void *arg, int rc)
{
    (void)rc;
    free(arg);
}

static int slow_blocking(void *arg)
{
    (void)arg;
    usleep(20000);
    return 0;
}

static int tcp_round_trip(void)
{
    wt_server_t sv;
    weft_stream_t *c = NULL;
    char buf[5];
    if (WT_SERVER_START(&sv, "127.0.0.1", wt_echo_handler, NULL) != 0)
        return 0;
    EXPECT_RC(weft_tcp_connect(&c, "127.0.0.1", sv.port), 0);
    if (c) {
        EXPECT_RC(weft_stream_send(c, "hello", 5), 0);
        EXPECT_RC(wt_recv_exact(c, buf, 5), 5);
        EXPECT_RC(weft_stream_close(c), 0);
    }
    WT_SERVER_STOP(&sv);
    return 0;
}

static int workload(void *arg)
{
    (void)arg;
    work_t w;
    weft_group_t g, idle;
    weft_scope_t s;
    int hits = 0;
    memset(&w, 0, sizeof w);
    EXPECT_RC(weft_channel(4, &w.tx, &w.rx), 0);
    EXPECT_RC(weft_lock_new(&w.lock), 0);
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, producer, &w), 0);
    EXPECT_RC(weft_group_spawn(&g, consumer, &w), 0);
    EXPECT_RC(weft_group_open(&idle), 0); /* cancelled at the end; g's tasks finish */
    EXPECT_RC(weft_group_spawn(&idle, sleeper, NULL), 0);
    EXPECT_RC(weft_to_thread_run_sync(blocking, &hits, NULL), 0);
    EXPECT(hits == 1);
    /* An abandoned call: its arg is freed by on_abandoned, on its thread. */
    weft_thread_opts_t opts = {.abandon_on_cancel = 1, .on_abandoned = abandoned};
    weft_move_on_after(&s, 0.001);
    int rc = weft_to_thread_run_sync(slow_blocking, malloc(16), &opts);
    EXPECT_RC(weft_scope_exit(&s, rc), 0);
    /* A deadline that expires in a wait. */
    weft_fail_after(&s, 0.001);
    EXPECT_RC(weft_scope_exit(&s, weft_sleep(1.0)), WEFT_ETIMEDOUT);
    EXPECT_RC(tcp_round_trip(), 0);
    weft_group_cancel(&idle);
    EXPECT_RC(weft_group_close(&idle, 0), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT(w.counter == 50);
    weft_receiver_close(w.rx);
    weft_lock_free(w.lock);
    return 0;
}

/* A plain test: the leak check runs after each runtime has ended. */
static void weft_run_leaks_nothing(void)
{
    for (int round = 0; round < 3; round++) {
        WT_RUN_CFG_OK(workload, NULL, 2, 4, 0.05);
#ifdef WT_ASAN
        /* Everything the runtime allocated is freed when weft_run returns
         * (not merely at exit): check now, while the process lives on. */
        if (__lsan_do_recoverable_leak_check() != 0)
            fail_msg("LeakSanitizer: weft_run (round %d) leaked memory (report above)", round);
#endif
    }
}

static const wt_case_t cases[] = {
    WT_TEST(weft_run_leaks_nothing),
};
WT_SUITE(cases)
