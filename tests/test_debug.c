/*
 * Seeing inside: the task-tree dump (golden output), SIGQUIT with
 * WEFT_DEBUG=1, the blocking detector, the virtual clock and
 * weft_runtime_stats.
 */
#include <ctype.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

static double real_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Replace every number by N and every 0x... pointer by P: the golden text
 * pins names, states and nesting, not times or addresses. */
/* Addresses and numbers out; the stacks' "at ..." lines too (test_stacks.c
 * checks those): what is left compares the same on every build. */
static char *normalise(const char *in) {
    char *out = malloc(strlen(in) + 1), *o = out;
    for (const char *p = in; *p;) {
        const char *text = p;
        while (*text == ' ') text++;
        if ((p == in || p[-1] == '\n') && strncmp(text, "at ", 3) == 0) {
            const char *eol = strchr(text, '\n');
            p = eol ? eol + 1 : text + strlen(text);
            continue;
        }
        if (p[0] == '0' && p[1] == 'x') {
            *o++ = 'P';
            for (p += 2; isxdigit((unsigned char)*p); p++) {}
        } else if (isdigit((unsigned char)*p)) {
            *o++ = 'N';
            while (isdigit((unsigned char)*p) || (*p == '.' && isdigit((unsigned char)p[1]))) p++;
        } else {
            *o++ = *p++;
        }
    }
    *o = 0;
    return out;
}

/* Run fn(arg) with stderr going to a temporary file; returns what it wrote. */
static char *capture_stderr(void (*fn)(void *), void *arg) {
    char path[] = "/tmp/weft-debug-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    fn(arg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    off_t len = lseek(fd, 0, SEEK_END);
    char *text = calloc(1, (size_t)len + 1);
    assert_int_equal(pread(fd, text, (size_t)len, 0), len);
    close(fd);
    return text;
}

/* ---------------------------------------------------------------- the dump */

typedef struct tree {
    weft_event_t *never, *release;
    weft_lock_t *lock;
    weft_sender_t *tx;
    weft_receiver_t *rx;
    char *text;
} tree_t;

static int sleeper(void *arg) {
    (void)arg;
    return weft_sleep(3600);
}
static int event_waiter(void *arg) { return weft_event_wait(((tree_t *)arg)->never); }
static int lock_waiter(void *arg) {
    int rc = weft_lock_acquire(((tree_t *)arg)->lock);
    if (rc == 0) weft_lock_release(((tree_t *)arg)->lock);
    return rc;
}
static int receiver(void *arg) {
    void *item;
    return weft_recv(((tree_t *)arg)->rx, &item);
}
static int shielded(void *arg) {
    weft_scope_t s;
    weft_scope_enter(&s, weft_now() + 60, WEFT_SHIELD);
    int rc = weft_event_wait(((tree_t *)arg)->release); /* the group's cancel can't reach it */
    return weft_scope_exit(&s, rc);
}
static int nested(void *arg) {
    weft_group_t g;
    weft_group_open(&g);
    weft_group_spawn(&g, sleeper, arg);
    return weft_group_close(&g, 0);
}

/* Dumps (into tr->text) a tree of tasks, each blocked on something else. */
static int dump_tree(tree_t *tr) {
    EXPECT_RC(weft_event_new(&tr->never), 0);
    EXPECT_RC(weft_event_new(&tr->release), 0);
    EXPECT_RC(weft_lock_new(&tr->lock), 0);
    EXPECT_RC(weft_channel(0, &tr->tx, &tr->rx), 0);
    EXPECT_RC(weft_lock_acquire(tr->lock), 0);
    weft_scope_t outer;
    weft_fail_after(&outer, 600);
    weft_group_t g;
    weft_group_open(&g);
    weft_group_spawn(&g, sleeper, tr);
    weft_group_spawn(&g, event_waiter, tr);
    weft_group_spawn(&g, lock_waiter, tr);
    weft_group_spawn(&g, receiver, tr);
    weft_group_spawn(&g, shielded, tr);
    weft_group_spawn(&g, nested, tr);
    EXPECT_RC(weft_sleep(0.05), 0); /* one worker: every task runs until it blocks */
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    weft_dump_tasks(mem);
    fclose(mem);
    tr->text = text;
    weft_group_cancel(&g);
    weft_event_set(tr->release);
    weft_lock_release(tr->lock);
    int rc = weft_group_close(&g, 0);
    rc = weft_scope_exit(&outer, rc);
    weft_sender_close(tr->tx);
    weft_receiver_close(tr->rx);
    weft_lock_free(tr->lock);
    weft_event_free(tr->never);
    weft_event_free(tr->release);
    return rc;
}

static int dump_golden(void *arg) {
    (void)arg;
    tree_t tr = {0};
    int rc = dump_tree(&tr);
    char *got = normalise(tr.text);
    /* Tasks link into the tree when they first block, newest spawned first
     * on one worker (its LIFO stack). */
    const char *want =
        "weft runtime P: N workers\n"
        "  worker N: running 'main'\n"
        "  task 'main': running on worker N\n"
        "    cancel scope:\n" /* the test runner's, around the body */
        "      cancel scope: deadline in N s (fail_after)\n"
        "        group:\n"
        "          task 'nested': waiting on group close for N s\n"
        "            group:\n"
        "              task 'sleeper': waiting on sleep for N s\n"
        "          task 'shielded': waiting on event for N s\n"
        "            cancel scope: deadline in N s shielded\n"
        "          task 'receiver': waiting on channel receive for N s\n"
        "          task 'lock_waiter': waiting on lock for N s\n"
        "          task 'event_waiter': waiting on event for N s\n"
        "          task 'sleeper': waiting on sleep for N s\n"
        "  waiting for what others hold:\n"
        "    task 'lock_waiter' waits for lock P held by task 'main'\n";
    if (strcmp(got, want) != 0) fprintf(stderr, "dump:\n%s\nnormalised:\n%s", tr.text, got); /* not print_error: it cuts long texts */
    EXPECT(strcmp(got, want) == 0);
    free(got);
    free(tr.text);
    return rc;
}

/* Tasks that never blocked are not linked into the tree: a group counts them. */
static int spin_a_while(void *arg) {
    atomic_int *go = arg;
    while (!atomic_load(go)) {}
    return 0;
}

static int dump_counts_unlinked(void *arg) {
    (void)arg;
    atomic_int go = 0;
    weft_group_t g;
    weft_group_open(&g);
    for (int i = 0; i < 3; i++) weft_group_spawn(&g, spin_a_while, &go);
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    weft_dump_tasks(mem);
    fclose(mem);
    atomic_store(&go, 1);
    int rc = weft_group_close(&g, 0);
    EXPECT(strstr(text, "(3 more: never blocked yet, runnable or running)") != NULL);
    free(text);
    return rc;
}

/* From a plain thread, with no runtime: nothing but nothing. */
static void dump_no_runtime(void) {
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    weft_dump_tasks(mem);
    weft_dump_tasks(NULL);
    fclose(mem);
    assert_int_equal(len, 0);
    free(text);
}

/* ---------------------------------------------------------------- SIGQUIT */

static int quit_main(void *arg) {
    (void)arg;
    weft_group_t g;
    weft_group_open(&g);
    weft_group_spawn(&g, sleeper, NULL);
    EXPECT_RC(weft_sleep(0.02), 0);
    raise(SIGQUIT);
    EXPECT_RC(weft_sleep(0.5), 0); /* the monitor serves it within 50 ms */
    weft_group_cancel(&g);
    return weft_group_close(&g, 0);
}

static void sigquit_dumps_and_goes_on(void) {
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(pipefd[1], 2);
        close(pipefd[0]);
        setenv("WEFT_DEBUG", "1", 1);
        _exit(wt_run(quit_main, NULL, 2) == 0 ? 0 : 1);
    }
    close(pipefd[1]);
    char buf[8192];
    size_t len = 0;
    ssize_t n;
    while ((n = read(pipefd[0], buf + len, sizeof buf - 1 - len)) > 0) len += (size_t)n;
    buf[len] = 0;
    close(pipefd[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    if (!strstr(buf, "task 'main': waiting on sleep") || !strstr(buf, "task 'sleeper': waiting on sleep"))
        fail_msg("no task tree on stderr after SIGQUIT:\n%s", buf);
}

/* ---------------------------------------------------------------- blocking detector */

static int hog(void *arg) {
    double until = real_now() + *(double *)arg;
    while (real_now() < until) {} /* no checkpoint */
    return 0;
}

typedef struct detect {
    weft_fn_t fn;
    double seconds;
    /* polite's: the clock before its last checkpoint (or its spawn), and the
     * longest it may have held its worker (see polite) */
    double before, longest;
    weft_runtime_stats_t stats;
} detect_t;

static void note_stretch(detect_t *d, double end) {
    if (end - d->before > d->longest) d->longest = end - d->before;
}

/* Computes in 2 ms steps with a checkpoint after each.  A run of it (from
 * the switch to it to the next switch of its worker) lies between the clock
 * read before the checkpoint that ended its previous run (its spawn, for the
 * first) and the clock read after the checkpoint that ends this one (the
 * group's close, for the last): `longest` bounds every run.  It is about
 * 2 ms unless the machine kept the worker's thread off its CPU. */
static int polite(void *arg) {
    detect_t *d = arg;
    double until = real_now() + d->seconds;
    while (real_now() < until) {
        double step = real_now() + 0.002;
        while (real_now() < step) {}
        double call = real_now();
        int rc = weft_checkpoint();
        note_stretch(d, real_now());
        d->before = call;
        if (rc) return rc;
    }
    return 0;
}

static int detect_main(void *arg) {
    detect_t *d = arg;
    weft_group_t g;
    weft_group_open(&g);
    d->before = real_now();
    if (d->fn == hog) weft_group_spawn_named(&g, hog, &d->seconds, "hog");
    else weft_group_spawn_named(&g, polite, d, "polite");
    int rc = weft_group_close(&g, 0);
    note_stretch(d, real_now());
    EXPECT_RC(weft_runtime_stats(&d->stats), 0);
    return rc;
}

static void run_detect(void *arg) {
    weft_config_t c = {.workers = 2, .blocking_threshold = 0.05};
    assert_rc(wt_run_config(detect_main, arg, &c), 0);
}

static void detector_names_the_task(void) {
    detect_t d = {.fn = hog, .seconds = 0.4};
    char *err = capture_stderr(run_detect, &d);
    WT_ASSERT_CLEAN();
    if (!strstr(err, "weft: task 'hog' has held worker") || !strstr(err, "without reaching a checkpoint") ||
        !strstr(err, "weft: task 'hog' let worker"))
        fail_msg("detector said:\n%s", err);
    assert_int_equal(d.stats.blocked_warnings, 1);
    free(err);
}

/* A task that checkpoints every 2 ms never holds its worker for 50 ms, but a
 * loaded machine can keep the worker's thread off its CPU that long: a hold
 * too, which the detector reports (it never overstates one).  So a warning is
 * a false alarm when it claims more than the longest stretch the task could
 * have held its worker (polite's `longest`), only then. */
static void detector_quiet_for_checkpoints(void) {
    detect_t d = {.fn = polite, .seconds = 0.4};
    char *err = capture_stderr(run_detect, &d);
    WT_ASSERT_CLEAN();
    unsigned long long warnings = 0;
    char *lines = strdup(err), *save = NULL;
    for (char *line = strtok_r(lines, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        double held;
        unsigned worker;
        if (strncmp(line, "weft: task 'polite' let worker ", 31) == 0) continue;
        if (sscanf(line, "weft: task 'polite' has held worker %u for %lf s", &worker, &held) != 2)
            fail_msg("unexpected line from the detector:\n%s", err);
        if (held > d.longest + 0.0005) /* printed with 3 decimals */
            fail_msg("false alarm: the task went at most %.4f s without a switch:\n%s", d.longest, err);
        print_message("a hold of %.3f s (the machine kept the worker off its CPU for up to %.3f s)\n",
                      held, d.longest);
        warnings++;
    }
    assert_int_equal(d.stats.blocked_warnings, warnings);
    free(lines);
    free(err);
}

/* ---------------------------------------------------------------- the spare worker */

typedef struct stand_in {
    double hog_seconds, t0, sleeper_woke;
    weft_runtime_stats_t during, after;
} stand_in_t;

static int short_sleeper(void *arg) {
    stand_in_t *s = arg;
    int rc = weft_sleep(0.02);
    s->sleeper_woke = real_now() - s->t0;
    EXPECT_RC(weft_runtime_stats(&s->during), 0);
    return rc;
}

static int stand_in_main(void *arg) {
    stand_in_t *s = arg;
    s->t0 = real_now();
    weft_group_t g;
    weft_group_open(&g);
    weft_group_spawn(&g, hog, &s->hog_seconds);      /* runs second: holds the only worker */
    weft_group_spawn(&g, short_sleeper, s);          /* runs first (newest first), sleeps */
    int rc = weft_group_close(&g, 0);
    /* The spare goes back to sleep once the hog let go. */
    for (int i = 0; i < 400 && (rc = weft_runtime_stats(&s->after)) == 0 && s->after.spare_awake; i++)
        rc = weft_sleep(0.005);
    return rc;
}

static void run_stand_in(void *arg) {
    weft_config_t c = {.workers = 1, .blocking_threshold = 0.05, .flags = WEFT_CONFIG_SPARE_WORKER};
    assert_rc(wt_run_config(stand_in_main, arg, &c), 0);
}

static void spare_worker_stands_in(void) {
    stand_in_t s = {.hog_seconds = 1.0};
    char *err = capture_stderr(run_stand_in, &s);
    WT_ASSERT_CLEAN();
    assert_non_null(strstr(err, "weft: task 'hog' has held worker 0"));
    free(err);
    /* Without the spare the sleeper would wait for the hog's full second. */
    if (s.sleeper_woke >= 0.5) fail_msg("the sleeper woke after %.3f s", s.sleeper_woke);
    assert_int_equal(s.during.workers, 2);
    assert_int_equal(s.during.spare_awake, 1);
    assert_int_equal(s.after.spare_awake, 0);
}

/* ---------------------------------------------------------------- virtual clock */

static const weft_config_t virtual_config = {.workers = 2, .flags = WEFT_CONFIG_VIRTUAL_CLOCK};

static int hour_main(void *arg) {
    double *jumped = arg;
    double t0 = weft_now();
    EXPECT_RC(weft_sleep(3600), 0);
    EXPECT_RC(weft_sleep(2 * 3600), 0);
    *jumped = weft_now() - t0;
    weft_runtime_stats_t st;
    EXPECT_RC(weft_runtime_stats(&st), 0);
    EXPECT(st.clock_jumps >= 2);
    return 0;
}

static void virtual_hours_pass_at_once(void) {
    double jumped = 0, t0 = real_now();
    WT_RUN_CONFIG_OK(hour_main, &jumped, &virtual_config);
    assert_true(jumped >= 3 * 3600);
    assert_true(jumped < 3 * 3600 + 5);
    assert_true(real_now() - t0 < 2.0 + WT_SLACK);
}

static int timeout_main(void *arg) {
    (void)arg;
    weft_event_t *never;
    EXPECT_RC(weft_event_new(&never), 0);
    weft_scope_t s;
    weft_fail_after(&s, 30);
    double t0 = weft_now();
    int rc = weft_scope_exit(&s, weft_event_wait(never));
    EXPECT_RC(rc, WEFT_ETIMEDOUT);
    EXPECT_NEAR(weft_now() - t0, 30, 0.5);
    weft_event_free(never);
    return 0;
}

static void virtual_fail_after(void) {
    double t0 = real_now();
    WT_RUN_CONFIG_OK(timeout_main, NULL, &virtual_config);
    assert_true(real_now() - t0 < 2.0 + WT_SLACK);
}

/* A plain thread that sets an event is invisible to the virtual clock
 * unless it holds a token: without one, time jumps past the wait (the
 * documented pitfall); with one, the wait sees the event, and the clock
 * stays at real time meanwhile. */
typedef struct foreign_set {
    weft_event_t *e;
    weft_token_t *token;      /* NULL: the thread holds none */
    int rc;
    double waited;
} foreign_set_t;

static void *set_later(void *arg) {
    foreign_set_t *f = arg;
    usleep(50 * 1000);
    weft_event_set(f->e);
    weft_token_release(f->token); /* NULL is fine */
    return NULL;
}

static int foreign_set_main(void *arg) {
    foreign_set_t *f = arg;
    EXPECT_RC(weft_event_new(&f->e), 0);
    pthread_t th;
    EXPECT(pthread_create(&th, NULL, set_later, f) == 0);
    weft_scope_t s;
    double t0 = weft_now(); /* before the deadline is set: a jump lands just past it */
    weft_fail_after(&s, 5);
    f->rc = weft_scope_exit(&s, weft_event_wait(f->e));
    f->waited = weft_now() - t0;
    pthread_join(th, NULL);
    weft_event_free(f->e);
    return 0;
}

static int foreign_set_with_token(void *arg) {
    foreign_set_t *f = arg;
    f->token = weft_current_token();
    return foreign_set_main(f);
}

static void virtual_clock_and_foreign_threads(void) {
    foreign_set_t f = {0};
    WT_RUN_CONFIG_OK(foreign_set_main, &f, &virtual_config);
    assert_rc(f.rc, WEFT_ETIMEDOUT); /* jumped: nothing it knew of could wake the task */
    assert_true(f.waited >= 5);
    memset(&f, 0, sizeof f);
    WT_RUN_CONFIG_OK(foreign_set_with_token, &f, &virtual_config);
    assert_rc(f.rc, 0);
    assert_true(f.waited < 5);
}

/* Wake-ups keep their order: each task sleeps its own number of minutes. */
typedef struct order {
    atomic_int next;
    int seen[64];
} order_t;

static int ordered(void *arg) {
    order_t *o = arg;
    int me = atomic_fetch_add(&o->next, 1); /* spawn order, one worker busy spawning */
    int rc = weft_sleep(60.0 * (64 - me));
    if (rc == 0) {
        static atomic_int done;
        o->seen[atomic_fetch_add(&done, 1)] = me;
    }
    return rc;
}

static int order_main(void *arg) {
    weft_group_t g;
    weft_group_open(&g);
    for (int i = 0; i < 64; i++) weft_group_spawn(&g, ordered, arg);
    return weft_group_close(&g, 0);
}

static void virtual_order_kept(void) {
    order_t o = {0};
    WT_RUN_CONFIG_OK(order_main, &o, &virtual_config);
    for (int i = 0; i < 64; i++) assert_int_equal(o.seen[i], 63 - i);
}

/* A blocking thread is activity: time does not jump past it. */
static int slow_call(void *arg) {
    (void)arg;
    usleep(100 * 1000);
    return 0;
}

typedef struct race {
    atomic_int next;
    int thread_rank, sleeper_rank;
} race_t;

static int thread_side(void *arg) {
    race_t *r = arg;
    int rc = weft_to_thread_run_sync(slow_call, NULL, NULL);
    r->thread_rank = atomic_fetch_add(&r->next, 1);
    return rc;
}

static int sleep_side(void *arg) {
    race_t *r = arg;
    int rc = weft_sleep(5);
    r->sleeper_rank = atomic_fetch_add(&r->next, 1);
    return rc;
}

static int race_main(void *arg) {
    weft_group_t g;
    weft_group_open(&g);
    weft_group_spawn(&g, thread_side, arg);
    weft_group_spawn(&g, sleep_side, arg);
    return weft_group_close(&g, 0);
}

static void virtual_waits_for_threads(void) {
    race_t r = {0};
    WT_RUN_CONFIG_OK(race_main, &r, &virtual_config);
    assert_int_equal(r.thread_rank, 0);
    assert_int_equal(r.sleeper_rank, 1);
}

/* Without the flag, time is real. */
static int real_clock_by_default(void *arg) {
    (void)arg;
    double t0 = weft_now(), real_t0 = real_now();
    EXPECT_RC(weft_sleep(0.05), 0);
    EXPECT(weft_now() - t0 >= 0.05);
    EXPECT(real_now() - real_t0 >= 0.05);
    return 0;
}

/* ---------------------------------------------------------------- statistics */

static int nothing(void *arg) {
    (void)arg;
    return weft_sleep(0.001);
}

static int stats_from_thread(void *arg) { return weft_runtime_stats(arg); }

static int stats_main(void *arg) {
    (void)arg;
    weft_runtime_stats_t st;
    EXPECT_RC(weft_runtime_stats(NULL), WEFT_EINVAL);
    weft_group_t g;
    weft_group_open(&g);
    for (int i = 0; i < 100; i++) weft_group_spawn(&g, nothing, NULL);
    EXPECT_RC(weft_runtime_stats(&st), 0);
    EXPECT(st.tasks_alive >= 1 && st.tasks_alive <= 101);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(weft_to_thread_run_sync(stats_from_thread, &st, NULL), 0);
    EXPECT(st.workers == 2);
    EXPECT(st.tasks_spawned == 101);
    EXPECT(st.tasks_alive == 1); /* main */
    EXPECT(st.task_parks >= 100);
    EXPECT(st.threads_alive >= 1 && st.threads_idle < st.threads_alive); /* we are on one */
    EXPECT(st.offloads == 1);
    return 0;
}

static void stats(void) {
    weft_runtime_stats_t st;
    assert_rc(weft_runtime_stats(&st), WEFT_EPERM);
    WT_RUN_OK(stats_main, NULL, 2);
}

static const wt_case_t cases[] = {
    WT_CASE_ON(dump_golden, WT_W1),
    WT_CASE_ON(dump_counts_unlinked, WT_W1),
    WT_TEST(dump_no_runtime),
    WT_TEST(sigquit_dumps_and_goes_on),
    WT_TEST(detector_names_the_task),
    WT_TEST(detector_quiet_for_checkpoints),
    WT_TEST(spare_worker_stands_in),
    WT_TEST(virtual_hours_pass_at_once),
    WT_TEST(virtual_fail_after),
    WT_TEST(virtual_order_kept),
    WT_TEST(virtual_clock_and_foreign_threads),
    WT_TEST(virtual_waits_for_threads),
    WT_CASE_ON(real_clock_by_default, WT_W2),
    WT_TEST(stats),
};
WT_SUITE(cases)
