/*
 * Stress for the debugging aids (run under TSan too):
 *   - a busy runtime with the blocking detector's monitor sampling every
 *     millisecond while another thread dumps the task tree in a loop: no
 *     race, no lost item, no hang;
 *   - a virtual clock under load: many tasks on every worker sleeping
 *     virtual minutes and hours; each must wake at its own deadline, never
 *     after a jump that skipped it.
 */
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include "helpers.h"

/* ---------------------------------------------------------------- monitor + dumps */

#define PRODUCERS 8

typedef struct busy {
    weft_sender_t *tx;
    weft_receiver_t *rx;
    weft_lock_t *lock;
    long counter;            /* under lock */
    atomic_long received;
    atomic_int stop_dumping;
    int items, hog;
} busy_t;

typedef struct producer_arg {
    busy_t *b;
    weft_sender_t *tx;
} producer_arg_t;

static int producer(void *arg) {
    producer_arg_t *p = arg;
    busy_t *b = p->b;
    weft_sender_t *tx = p->tx;
    int rc = 0;
    for (int i = 0; i < b->items && rc == 0; i++) {
        weft_scope_t s;
        weft_scope_enter(&s, WEFT_FOREVER, 0);
        rc = weft_send(tx, (void *)(intptr_t)(i + 1));
        rc = weft_scope_exit(&s, rc);
        if (rc == 0 && i % 16 == 0) rc = weft_sleep(0.0001);
    }
    weft_sender_close(tx);
    return rc;
}

static int consumer(void *arg) {
    busy_t *b = arg;
    void *item;
    int rc;
    while ((rc = weft_recv(b->rx, &item)) == 0) {
        atomic_fetch_add(&b->received, 1);
        if ((rc = weft_lock_acquire(b->lock)) != 0) return rc;
        b->counter++;
        weft_lock_release(b->lock);
    }
    return rc == WEFT_EOF ? 0 : rc;
}

static int nap(void *arg) {
    (void)arg;
    usleep(200);
    return 0;
}

static int offloader(void *arg) {
    (void)arg;
    int rc = 0;
    for (int i = 0; i < wt_scaled(50) && rc == 0; i++) rc = weft_to_thread_run_sync(nap, NULL, NULL);
    return rc;
}

/* Holds its worker for 20 ms at a time: the spare comes and goes. */
static int intermittent_hog(void *arg) {
    (void)arg;
    int rc = 0;
    for (int i = 0; i < 10 && rc == 0; i++) {
        double until = weft_now() + 0.02;
        while (weft_now() < until) {}
        rc = weft_sleep(0.01);
    }
    return rc;
}

static int busy_main(void *arg) {
    busy_t *b = arg;
    EXPECT_RC(weft_channel(8, &b->tx, &b->rx), 0);
    EXPECT_RC(weft_lock_new(&b->lock), 0);
    producer_arg_t args[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++) {
        args[i] = (producer_arg_t){b, NULL};
        EXPECT_RC(weft_sender_clone(b->tx, &args[i].tx), 0);
    }
    weft_group_t g;
    weft_group_open(&g);
    for (int i = 0; i < PRODUCERS; i++) weft_group_spawn(&g, producer, &args[i]);
    for (int i = 0; i < 4; i++) weft_group_spawn(&g, consumer, b);
    weft_group_spawn(&g, offloader, NULL);
    if (b->hog) weft_group_spawn(&g, intermittent_hog, NULL);
    weft_sender_close(b->tx); /* the clones keep it open */
    int rc = weft_group_close(&g, 0);
    weft_receiver_close(b->rx);
    EXPECT(b->counter == (long)PRODUCERS * b->items);
    weft_lock_free(b->lock);
    return rc;
}

static void *dumper(void *arg) {
    busy_t *b = arg;
    FILE *null = fopen("/dev/null", "w");
    while (!atomic_load(&b->stop_dumping)) {
        weft_dump_tasks(null);
        usleep(500);
    }
    fclose(null);
    return NULL;
}

/* Plain tests all: each runs with a config of its own. */
static void monitor_and_dumps_under_load(void) {
    busy_t b = {.items = wt_scaled(10000)};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, dumper, &b), 0);
    /* A high threshold: sampling runs at its fastest (1 ms) without
     * warning about TSan's slow tasks. */
    weft_config_t c = {.workers = 4, .blocking_threshold = 10.0};
    int rc = wt_run_config(busy_main, &b, &c);
    atomic_store(&b.stop_dumping, 1);
    pthread_join(th, NULL);
    WT_ASSERT_CLEAN();
    assert_rc(rc, 0);
    assert_int_equal(atomic_load(&b.received), (long)PRODUCERS * b.items);
}

/* The spare worker woken and put back to sleep again and again while the
 * rest of the runtime works: nothing lost, nothing raced. */
static void spare_worker_under_load(void) {
    busy_t b = {.items = wt_scaled(10000), .hog = 1};
    weft_config_t c = {.workers = 2, .blocking_threshold = 0.01, .flags = WEFT_CONFIG_SPARE_WORKER};
    fflush(stderr);
    int saved = dup(2), null = open("/dev/null", O_WRONLY); /* the detector's warnings */
    dup2(null, 2);
    int rc = wt_run_config(busy_main, &b, &c);
    dup2(saved, 2);
    close(saved);
    close(null);
    WT_ASSERT_CLEAN();
    assert_rc(rc, 0);
    assert_int_equal(atomic_load(&b.received), (long)PRODUCERS * b.items);
}

/* ---------------------------------------------------------------- virtual clock */

typedef struct sleepy {
    atomic_int late, woke;
    double lateness[256];
} sleepy_t;

typedef struct sleeper_arg {
    sleepy_t *s;
    int index;
    uint64_t seed;
} sleeper_arg_t;

static int virtual_sleeper(void *arg) {
    sleeper_arg_t *a = arg;
    uint64_t rng = a->seed;
    double worst = 0;
    for (int round = 0; round < 20; round++) {
        double deadline = weft_now() + 60.0 * (double)(1 + wt_rand(&rng) % 600); /* up to 10 h */
        int rc = weft_sleep_until(deadline);
        if (rc) return rc;
        double late = weft_now() - deadline;
        if (late < 0) atomic_fetch_add(&a->s->late, 1000000); /* woke early: never */
        if (late > worst) worst = late;
        if (wt_rand(&rng) % 4 == 0 && (rc = weft_checkpoint()) != 0) return rc;
    }
    a->s->lateness[a->index] = worst;
    atomic_fetch_add(&a->s->woke, 1);
    return 0;
}

static int virtual_main(void *arg) {
    sleepy_t *s = arg;
    static sleeper_arg_t args[256];
    weft_group_t g;
    weft_group_open(&g);
    for (int i = 0; i < 256; i++) {
        args[i] = (sleeper_arg_t){s, i, 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1)};
        weft_group_spawn(&g, virtual_sleeper, &args[i]);
    }
    return weft_group_close(&g, 0);
}

static void virtual_clock_under_load(void) {
    sleepy_t s = {0};
    weft_config_t c = {.workers = 4, .flags = WEFT_CONFIG_VIRTUAL_CLOCK};
    WT_RUN_CONFIG_OK(virtual_main, &s, &c);
    assert_int_equal(atomic_load(&s.woke), 256);
    assert_int_equal(atomic_load(&s.late), 0);
    /* 20 sleeps of up to 10 virtual hours each; a wake-up is late only by
     * real scheduling delay, never by a jump past its deadline (a minute
     * at least). */
    for (int i = 0; i < 256; i++)
        if (s.lateness[i] > 30.0) fail_msg("task %d woke %.3f s late", i, s.lateness[i]);
}

static const wt_case_t cases[] = {
    WT_TEST(monitor_and_dumps_under_load),
    WT_TEST(spare_worker_under_load),
    WT_TEST(virtual_clock_under_load),
};
WT_SUITE(cases)
