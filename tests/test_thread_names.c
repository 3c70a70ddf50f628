/* Thread names: every thread weft starts says who it is (weft-worker-N,
 * weft-blocking-N, weft-monitor, weft-pool-mon, weft-portal, weft-test),
 * the thread that calls weft_run keeps its own, names stay distinct past
 * the system's 15 bytes, and a call's opts.thread_name lasts as long as
 * the call.  Names are read back from /proc/self/task/<tid>/comm and
 * pthread_getname_np. */
#define _GNU_SOURCE
#include "thread_helpers.h"

#include <dirent.h>
#include <sys/types.h>

/* ------------------------------------------------------------ reading names */

#define MAX_THREADS 256

typedef struct {
    int n;
    pid_t tid[MAX_THREADS];
    char name[MAX_THREADS][16];
} names_t;

static void own_name(char out[16])
{
    if (pthread_getname_np(pthread_self(), out, 16) != 0)
        strcpy(out, "?");
}

/* Every thread of the process with its name (from any thread). */
static void list_threads(names_t *out)
{
    out->n = 0;
    DIR *d = opendir("/proc/self/task");
    if (!d) {
        wt_failf(__FILE__, __LINE__, "cannot open /proc/self/task");
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) && out->n < MAX_THREADS) {
        if (e->d_name[0] == '.')
            continue;
        char path[300];
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue; /* it exited meanwhile */
        char *name = out->name[out->n];
        if (!fgets(name, 16, f))
            name[0] = '\0';
        fclose(f);
        name[strcspn(name, "\n")] = '\0';
        out->tid[out->n++] = (pid_t)atoi(e->d_name);
    }
    closedir(d);
}

static int count_named(const names_t *l, const char *name)
{
    int n = 0;
    for (int i = 0; i < l->n; i++)
        n += strcmp(l->name[i], name) == 0;
    return n;
}

/* Poll (sleeping, in a task) until a thread named `name` exists. */
static int wait_for_thread_named(const char *name, double timeout)
{
    names_t l;
    double end = weft_now() + timeout;
    for (;;) {
        list_threads(&l);
        if (count_named(&l, name))
            return 1;
        if (weft_now() > end)
            return 0;
        weft_sleep(0.001);
    }
}

/* ------------------------------------------------------------ workers */

/* Workers 1..n-1 are weft-worker-N (each names itself as it starts, so
 * main may look before they did); worker 0 is the caller (here the test
 * runner's thread, weft-test) and keeps its name. */
static int worker_names(void *p)
{
    (void)p;
    weft_runtime_stats_t st;
    EXPECT_RC(weft_runtime_stats(&st), 0);
    char name[32];
    for (unsigned i = 1; i < st.workers; i++) {
        snprintf(name, sizeof name, "weft-worker-%u", i);
        EXPECT(wait_for_thread_named(name, 5.0));
    }
    names_t l;
    list_threads(&l);
    EXPECT(count_named(&l, "weft-worker-0") == 0);
    EXPECT(count_named(&l, "weft-test") == 1);
    return 0;
}

static int note_own_name(void *p)
{
    own_name(p);
    return 0;
}

/* On a plain thread of the test's, named like a program's: it calls
 * weft_run itself, is worker 0 (with one worker main runs there), and keeps
 * its name throughout; also when the runtime had more workers. */
static void *caller_thread(void *p)
{
    char *seen = p; /* [0]: in main; [16]: after weft_run */
    pthread_setname_np(pthread_self(), "my-program");
    weft_config_t one = {.workers = 1}, four = {.workers = 4};
    EXPECT_RC(weft_run(note_own_name, seen, &one), 0);
    EXPECT_RC(weft_run(note_own_name, seen + 32, &four), 0);
    own_name(seen + 16);
    return NULL;
}

static void caller_keeps_its_name(void)
{
    char seen[48] = "";
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, caller_thread, seen), 0);
    pthread_join(th, NULL);
    WT_ASSERT_CLEAN();
    assert_string_equal(seen, "my-program");
    assert_string_equal(seen + 16, "my-program");
}

/* The spare is a worker like the others: the last index. */
static int spare_is_a_named_worker(void *p)
{
    (void)p;
    weft_runtime_stats_t st;
    EXPECT_RC(weft_runtime_stats(&st), 0);
    EXPECT(st.workers == 3); /* 2 and the spare */
    EXPECT(wait_for_thread_named("weft-worker-1", 5.0));
    EXPECT(wait_for_thread_named("weft-worker-2", 5.0));
    EXPECT(wait_for_thread_named("weft-monitor", 5.0)); /* the spare needs the detector */
    return 0;
}

static void spare_and_monitor_names(void)
{
    weft_config_t c;
    weft_config_init(&c);
    c.workers = 2;
    c.flags = WEFT_CONFIG_SPARE_WORKER;
    c.blocking_threshold = 5.0;
    WT_RUN_CONFIG_OK(spare_is_a_named_worker, NULL, &c);
}

/* ------------------------------------------------------------ blocking threads */

typedef struct {
    int n;
    char name[32][16]; /* each call's thread name */
} met_t;

static void note_name_at(void *p, int i)
{
    own_name(((met_t *)p)->name[i]);
}

/* n calls at once: their threads' names. */
static void concurrent_calls(met_t *b, int n)
{
    memset(b, 0, sizeof *b);
    b->n = n;
    wt_meet_calls(n, note_name_at, b);
}

static int names_with(const met_t *b, const char *name)
{
    int n = 0;
    for (int i = 0; i < b->n; i++)
        n += strcmp(b->name[i], name) == 0;
    return n;
}

/* weft-blocking-N with the lowest free N: after the threads exited on the
 * idle timeout, the next ones are numbered from 0 again. */
static int blocking_names_main(void *p)
{
    (void)p;
    met_t b;
    concurrent_calls(&b, 2);
    EXPECT(names_with(&b, "weft-blocking-0") == 1);
    EXPECT(names_with(&b, "weft-blocking-1") == 1);
    weft_runtime_stats_t st;
    WAIT_FOR(weft_runtime_stats(&st) == 0 && st.threads_alive == 0);
    concurrent_calls(&b, 1);
    EXPECT(names_with(&b, "weft-blocking-0") == 1);
    return 0;
}

static void blocking_names(void)
{
    WT_RUN_CFG_OK(blocking_names_main, NULL, 2, 0, 0.05);
}

/* Past weft-blocking-9 the name would pass 15 bytes: the prefix gives way,
 * the number stays whole, every thread keeps a name of its own. */
static int blocking_names_past_nine(void *p)
{
    (void)p;
    met_t b;
    concurrent_calls(&b, 12);
    EXPECT(names_with(&b, "weft-blocking-9") == 1);
    EXPECT(names_with(&b, "weft-blockin-10") == 1);
    EXPECT(names_with(&b, "weft-blockin-11") == 1);
    for (int i = 0; i < 12; i++)
        for (int j = 0; j < i; j++)
            EXPECT(strcmp(b.name[i], b.name[j]) != 0);
    return 0;
}

/* The blocking threads' monitor starts once calls cycle on busy threads
 * (two tasks taking turns with short calls do); it is weft-pool-mon. */
static int short_call(void *p)
{
    (void)p;
    return 0;
}

static int short_calls(void *p)
{
    atomic_int *stop = p;
    while (!atomic_load(stop))
        EXPECT_RC(weft_to_thread_run_sync(short_call, NULL, NULL), 0);
    return 0;
}

static int pool_monitor_name(void *p)
{
    (void)p;
    atomic_int stop = 0;
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < 2; i++)
        EXPECT_RC(weft_group_spawn(&g, short_calls, &stop), 0);
    EXPECT(wait_for_thread_named("weft-pool-mon", 20.0));
    atomic_store(&stop, 1);
    return weft_group_close(&g, 0);
}

/* ------------------------------------------------------------ a call's name */

typedef struct {
    char during[16], after[16];
    pthread_t thread_during, thread_after;
} call_names_t;

static int note_during(void *p)
{
    call_names_t *c = p;
    own_name(c->during);
    c->thread_during = pthread_self();
    return 0;
}

static int note_after(void *p)
{
    call_names_t *c = p;
    own_name(c->after);
    c->thread_after = pthread_self();
    return 0;
}

/* While fn runs its thread carries opts.thread_name, cut to 15 bytes; the
 * next call on that thread finds the thread's own name back. */
static void expect_call_name(const char *given, const char *shown)
{
    call_names_t c;
    memset(&c, 0, sizeof c);
    weft_thread_opts_t o = {.thread_name = given};
    EXPECT_RC(weft_to_thread_run_sync(note_during, &c, &o), 0);
    EXPECT_STR(c.during, shown);
    /* One task's calls in a row: the most recently idle thread, the same. */
    EXPECT_RC(weft_to_thread_run_sync(note_after, &c, NULL), 0);
    EXPECT(pthread_equal(c.thread_during, c.thread_after));
    EXPECT_STR(c.after, "weft-blocking-0");
}

static int call_thread_name(void *p)
{
    (void)p;
    expect_call_name("sqlite-writer", "sqlite-writer");
    expect_call_name("a-very-long-thread-name", "a-very-long-thr");
    expect_call_name("", "weft-blocking-0"); /* "" = keep the thread's own */
    return 0;
}

typedef struct {
    atomic_int arrived, open;
    char seen[16];
    atomic_int done;
    weft_scope_t *scope; /* the caller's, cancelled once fn arrived */
} abandoned_t;

static int abandoned_fn(void *p)
{
    abandoned_t *a = p;
    WT_GATE_THREAD(&a->arrived, &a->open, "the abandoned call was never let go");
    own_name(a->seen);
    return 0;
}

static void abandoned_done(void *p, int rc)
{
    (void)rc;
    atomic_store(&((abandoned_t *)p)->done, 1);
}

static int cancel_once_arrived(void *p)
{
    abandoned_t *a = p;
    EXPECT(wt_wait_flag(&a->arrived, 1, 10.0));
    weft_scope_cancel(a->scope);
    return 0;
}

/* The name is copied: an abandoned call's fn keeps it after the caller's
 * buffer changed. */
static int call_name_is_copied(void *p)
{
    (void)p;
    abandoned_t a;
    memset(&a, 0, sizeof a);
    char name[16] = "abandoned-call";
    weft_thread_opts_t o = {
        .abandon_on_cancel = 1, .on_abandoned = abandoned_done, .thread_name = name};
    weft_group_t g;
    weft_scope_t s;
    EXPECT_RC(weft_group_open(&g), 0);
    weft_scope_enter(&s, WEFT_FOREVER, 0);
    a.scope = &s;
    EXPECT_RC(weft_group_spawn(&g, cancel_once_arrived, &a), 0);
    EXPECT_RC(weft_to_thread_run_sync(abandoned_fn, &a, &o), WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&s, WEFT_ECANCELED), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    memset(name, 'X', sizeof name - 1);
    atomic_store(&a.open, 1);
    EXPECT(wt_wait_flag(&a.done, 1, 10.0));
    EXPECT_STR(a.seen, "abandoned-call");
    return 0;
}

/* ------------------------------------------------------------ portals */

static void portal_thread_name(void)
{
    weft_portal_t *p = wt_portal_start(1);
    char seen[16] = "";
    assert_rc(weft_portal_call(p, note_own_name, seen), 0);
    wt_portal_stop_free(p, 0);
    assert_string_equal(seen, "weft-portal");
}

/* ------------------------------------------------------------ every thread */

/* A name weft gives: fixed, or a prefix and a number. */
static int weft_name(const char *n)
{
    static const char *const fixed[] = {"weft-monitor", "weft-pool-mon", "weft-portal"};
    static const char *const numbered[] = {"weft-worker-", "weft-blocking-", "weft-blockin-"};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        if (strcmp(n, fixed[i]) == 0)
            return 1;
    for (size_t i = 0; i < sizeof numbered / sizeof *numbered; i++) {
        size_t len = strlen(numbered[i]);
        if (strncmp(n, numbered[i], len) == 0 && n[len] && strspn(n + len, "0123456789") == strlen(n + len))
            return 1;
    }
    return 0;
}

typedef struct {
    names_t before; /* the process's threads before (a sanitizer's own) */
    pid_t caller;   /* the thread that calls weft_run and keeps its name */
} everything_t;

static int listed(const names_t *l, pid_t tid)
{
    for (int i = 0; i < l->n; i++)
        if (l->tid[i] == tid)
            return 1;
    return 0;
}

/* Every thread but those the test had before and `caller` has a weft name,
 * and one of them is the portal's; `report`: record what is not so. */
static int all_named(const everything_t *e, int report)
{
    names_t l;
    list_threads(&l);
    int ok = 1;
    for (int i = 0; i < l.n; i++) {
        if (listed(&e->before, l.tid[i]) || l.tid[i] == e->caller || weft_name(l.name[i]))
            continue;
        ok = 0;
        if (report)
            wt_failf(__FILE__, __LINE__, "thread %d is named '%s'", (int)l.tid[i], l.name[i]);
    }
    if (count_named(&l, "weft-portal") != 1) {
        ok = 0;
        if (report)
            wt_failf(__FILE__, __LINE__, "%d threads named weft-portal",
                     count_named(&l, "weft-portal"));
    }
    return ok;
}

/* With every kind of thread up (workers, the spare, the detector, blocking
 * threads, their monitor, a portal and its worker), each thread but the
 * test's own has a name weft gave it: one that was inherited from its
 * creator (the caller's, or a duplicate weft-portal) fails. */
static int everything_main(void *p)
{
    everything_t *e = p;
    atomic_int stop = 0;
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < 2; i++)
        EXPECT_RC(weft_group_spawn(&g, short_calls, &stop), 0);
    EXPECT(wait_for_thread_named("weft-pool-mon", 20.0));
    EXPECT(wait_for_thread_named("weft-monitor", 5.0));
    EXPECT(wait_for_thread_named("weft-worker-2", 5.0)); /* the spare */
    atomic_store(&stop, 1);
    /* A thread just started names itself a moment later: look again until
     * every name is right, or report what is still wrong after 5 s. */
    for (double end = weft_now() + 5.0;; weft_sleep(0.01)) {
        int last = weft_now() > end;
        if (all_named(e, last) || last)
            break;
    }
    return weft_group_close(&g, 0);
}

static void *everything_thread(void *p)
{
    everything_t *e = p;
    pthread_setname_np(pthread_self(), "my-program");
    e->caller = gettid();
    weft_portal_t *portal;
    weft_config_t pc = {.workers = 2};
    EXPECT_RC(weft_portal_start(&portal, &pc), 0);
    weft_config_t c;
    weft_config_init(&c);
    c.workers = 2;
    c.flags = WEFT_CONFIG_SPARE_WORKER;
    c.blocking_threshold = 5.0;
    EXPECT_RC(weft_run(everything_main, e, &c), 0);
    EXPECT_RC(weft_portal_stop(portal, 0), 0);
    weft_portal_free(portal);
    return NULL;
}

static void every_thread_is_named(void)
{
    static everything_t e;
    list_threads(&e.before);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, everything_thread, &e), 0);
    pthread_join(th, NULL);
    WT_ASSERT_CLEAN();
}

static const wt_case_t cases[] = {
    WT_CASE_ON(worker_names, WT_W1 | WT_W4),
    WT_TEST(caller_keeps_its_name),
    WT_TEST(spare_and_monitor_names),
    WT_TEST(blocking_names),
    WT_CASE_ON(blocking_names_past_nine, WT_W2),
    WT_CASE_ON(pool_monitor_name, WT_W2),
    WT_CASE(call_thread_name),
    WT_CASE(call_name_is_copied),
    WT_TEST(portal_thread_name),
    WT_TEST(every_thread_is_named),
};

WT_SUITE(cases)
