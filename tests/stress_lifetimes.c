/* Stress: objects whose last user frees them at once, while the thread that
 * woke that user may still be on its way out of them, and fields that tasks
 * on two workers share.  Every case here is a use-after-free or a data race
 * that ThreadSanitizer reported against earlier code; each runs a shape that
 * reached it within a few rounds.  Round counts scale with WEFT_STRESS_SCALE. */
/* WEFT_TEST_TIMEOUT 300 */
#define _GNU_SOURCE
#include "helpers.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

/* ------------------------------------------------------------ events */

/* A plain thread sets an event; the waiting task frees it as soon as its wait
 * returns.  The setter must not touch the event after the waiter can see it
 * set (it used to unlock it after waking the waiter). */
static void *set_event(void *e)
{
    weft_event_set(e);
    return NULL;
}

static int event_freed_by_its_waiter(void *arg)
{
    (void)arg;
    int rounds = wt_scaled(WT_TSAN_PICK(400, 200));
    for (int i = 0; i < rounds; i++) {
        weft_event_t *e;
        EXPECT_RC(weft_event_new(&e), 0);
        pthread_t th;
        EXPECT(pthread_create(&th, NULL, set_event, e) == 0);
        EXPECT_RC(weft_event_wait(e), 0);
        weft_event_free(e); /* the wait is over: nobody waits on it or uses it */
        pthread_join(th, NULL);
    }
    return 0;
}

/* ------------------------------------------------------------ conditions */

static void *notify_when_waited(void *c)
{
    weft_cond_stats_t st;
    do {
        sched_yield();
        weft_cond_stats(c, &st);
    } while (st.tasks_waiting == 0);
    weft_cond_notify(c, 1);
    return NULL;
}

static int cond_freed_by_its_waiter(void *arg)
{
    (void)arg;
    int rounds = wt_scaled(WT_TSAN_PICK(200, 100));
    weft_lock_t *l;
    EXPECT_RC(weft_lock_new(&l), 0);
    for (int i = 0; i < rounds; i++) {
        weft_cond_t *c;
        EXPECT_RC(weft_cond_new(&c, l), 0);
        pthread_t th;
        EXPECT(pthread_create(&th, NULL, notify_when_waited, c) == 0);
        EXPECT_RC(weft_lock_acquire(l), 0);
        EXPECT_RC(weft_cond_wait(c), 0);
        EXPECT_RC(weft_lock_release(l), 0);
        weft_cond_free(c);
        pthread_join(th, NULL);
    }
    weft_lock_free(l);
    return 0;
}

/* ------------------------------------------------------------ the runtime */

/* A plain thread wakes the root task while every worker is busy; the root
 * returns and weft_run frees the runtime, which the waking thread was still
 * reading (its wake-up of an idle worker). */
typedef struct {
    weft_event_t *e;
    atomic_int done;
} ending_t;

static void *set_soon(void *arg)
{
    ending_t *x = arg;
    usleep(2000);
    weft_event_set(x->e);
    return NULL;
}

static int keep_busy(void *arg)
{
    ending_t *x = arg;
    while (!atomic_load(&x->done))
        weft_checkpoint();
    return 0;
}

static int end_right_after_wake(void *arg)
{
    ending_t *x = arg;
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, keep_busy, x), 0);
    int rc = weft_event_wait(x->e);
    atomic_store(&x->done, 1);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    return rc;
}

/* A plain test: the end of each round's runtime is what races. */
static void runtime_ends_under_a_waking_thread(void)
{
    int rounds = wt_scaled(WT_TSAN_PICK(40, 20));
    for (int i = 0; i < rounds; i++) {
        ending_t x;
        memset(&x, 0, sizeof x);
        assert_rc(weft_event_new(&x.e), 0);
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, set_soon, &x), 0);
        WT_RUN_OK(end_right_after_wake, &x, 1);
        pthread_join(th, NULL);
        weft_event_free(x.e);
    }
}

/* ------------------------------------------------------------ group failures */

/* Two nested groups of one host whose children fail at the same moment on
 * different workers: past its first failures each group allocates a chunk
 * for more and hangs it on the host for freeing, under its own lock only. */
static atomic_int fail_gate;

static int fail_at_gate(void *arg)
{
    (void)arg;
    while (!atomic_load_explicit(&fail_gate, memory_order_relaxed)) {
    }
    return -1; /* a failure, not WEFT_ECANCELED: no checkpoint on the way */
}

enum { FAILERS = 40 };

static int nested_groups_fail_together(void *arg)
{
    (void)arg;
    int rounds = wt_scaled(WT_TSAN_PICK(20, 10));
    for (int r = 0; r < rounds; r++) {
        atomic_store(&fail_gate, 0);
        weft_group_t outer, inner;
        EXPECT_RC(weft_group_open(&outer), 0);
        for (int i = 0; i < FAILERS; i++)
            EXPECT_RC(weft_group_spawn(&outer, fail_at_gate, NULL), 0);
        EXPECT_RC(weft_group_open(&inner), 0);
        for (int i = 0; i < FAILERS; i++)
            EXPECT_RC(weft_group_spawn(&inner, fail_at_gate, NULL), 0);
        atomic_store_explicit(&fail_gate, 1, memory_order_relaxed);
        EXPECT_RC(weft_group_close(&inner, 0), WEFT_EGROUP);
        EXPECT(weft_group_failure_count(&inner) == FAILERS);
        EXPECT_RC(weft_group_close(&outer, 0), WEFT_EGROUP);
        EXPECT(weft_group_failure_count(&outer) == FAILERS);
    }
    return 0;
}

/* ------------------------------------------------------------ scope flags */

/* The dump (any thread) reads a scope's flags while a task gives the scope a
 * NaN deadline, which flags it. */
static atomic_int dumping;

static void *dump_loop(void *arg)
{
    (void)arg;
    FILE *f = fopen("/dev/null", "w");
    if (!f)
        return NULL;
    while (atomic_load(&dumping))
        weft_dump_tasks(f);
    fclose(f);
    return NULL;
}

static int scope_flags_under_dump(void *arg)
{
    (void)arg;
    int rounds = wt_scaled(WT_TSAN_PICK(200, 60));
    atomic_store(&dumping, 1);
    pthread_t th;
    EXPECT(pthread_create(&th, NULL, dump_loop, NULL) == 0);
    for (int r = 0; r < rounds; r++) {
        weft_scope_t s;
        weft_scope_enter(&s, WEFT_FOREVER, 0);
        EXPECT_RC(weft_sleep(0.0005), 0); /* links our root: the dump sees us */
        for (int i = 0; i < 300; i++)
            EXPECT_RC(weft_checkpoint(), 0);
        weft_scope_set_deadline(&s, NAN);
        EXPECT_RC(weft_scope_exit(&s, weft_checkpoint()), WEFT_EINVAL);
    }
    atomic_store(&dumping, 0);
    pthread_join(th, NULL);
    return 0;
}

/* ------------------------------------------------------------ one file, two readers */

/* Two tasks read one file on tmpfs, whose refusal of RWF_NOWAIT (on the
 * kernels that refuse it) is remembered in the file while the other task
 * reads the flag. */
static int pread_thrice(void *f)
{
    char b[64];
    for (int i = 0; i < 3; i++)
        EXPECT_RC(weft_file_pread(f, b, sizeof b, 0), 18);
    return 0;
}

static int two_readers(void *arg)
{
    int rounds = *(int *)arg;
    char path[64];
    snprintf(path, sizeof path, "/dev/shm/weft-two-readers-%ld", (long)getpid());
    EXPECT_RC(weft_file_write_all(path, "hello hello hello\n", 18), 0);
    for (int r = 0; r < rounds; r++) {
        weft_file_t *f;
        EXPECT_RC(weft_file_open(&f, path, O_RDONLY, 0), 0);
        weft_group_t g;
        EXPECT_RC(weft_group_open(&g), 0);
        EXPECT_RC(weft_group_spawn(&g, pread_thrice, f), 0);
        EXPECT_RC(weft_group_spawn(&g, pread_thrice, f), 0);
        EXPECT_RC(weft_group_close(&g, 0), 0);
        EXPECT_RC(weft_file_close(f), 0);
    }
    unlink(path);
    return 0;
}

/* A plain test: a case's body cannot skip. */
static void one_file_two_readers(void)
{
    if (access("/dev/shm", W_OK) != 0)
        skip();
    int rounds = wt_scaled(WT_TSAN_PICK(200, 100));
    WT_RUN_OK(two_readers, &rounds, 2);
}

/* ------------------------------------------------------------ task names */

/* A task's name may be freed once its group heard of its end; the blocking
 * detector and the dump copy the name of the task on each worker's CPU. */
static int spin_5ms(void *arg)
{
    (void)arg;
    double end = weft_now() + 0.005;
    while (weft_now() < end) {
    } /* no checkpoint: the detector is looking at us */
    return 0;
}

static int names_freed_after_close(void *arg)
{
    int rounds = *(int *)arg;
    atomic_store(&dumping, 1);
    pthread_t th;
    EXPECT(pthread_create(&th, NULL, dump_loop, NULL) == 0);
    for (int i = 0; i < rounds; i++) {
        char *name = strdup("a-name-on-the-heap");
        weft_group_t g;
        EXPECT_RC(weft_group_open(&g), 0);
        EXPECT_RC(weft_group_spawn_named(&g, spin_5ms, NULL, name), 0);
        EXPECT_RC(weft_group_close(&g, 0), 0);
        free(name); /* the task has ended */
    }
    atomic_store(&dumping, 0);
    pthread_join(th, NULL);
    return 0;
}

/* A plain test: the blocking detector needs a config of its own. */
static void task_names_freed_after_close(void)
{
    int rounds = wt_scaled(WT_TSAN_PICK(100, 40));
    weft_config_t c = {.workers = 2, .blocking_threshold = 0.5};
    WT_RUN_CONFIG_OK(names_freed_after_close, &rounds, &c);
}

static const wt_case_t cases[] = {
    WT_CASE_ON(event_freed_by_its_waiter, WT_W2),
    WT_CASE_ON(cond_freed_by_its_waiter, WT_W2),
    WT_TEST(runtime_ends_under_a_waking_thread),
    WT_CASE_ON(nested_groups_fail_together, WT_W4),
    WT_CASE_ON(scope_flags_under_dump, WT_W2),
    WT_TEST(one_file_two_readers),
    WT_TEST(task_names_freed_after_close),
};
WT_SUITE(cases)
