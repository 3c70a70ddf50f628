/*
 * Resource failures, injected (fault.h) or real:
 *  - no blocking thread can start: to_thread returns WEFT_ENOMEM, fn never
 *    runs, the limiter's token goes back, the caller keeps arg; once threads
 *    start again the calls work;
 *  - no task stack can be mapped: the task fails with WEFT_ENOMEM under its
 *    name without running (the stack comes when a task first runs), start
 *    returns it; a portal call returns it instead of hanging;
 *  - out of file descriptors (a child process with a small RLIMIT_NOFILE):
 *    connect returns -EMFILE and works once descriptors are free again
 *    (accept's back-off is test_tcp's emfile_on_accept);
 *  - a blocking function that does not return: abandon_on_cancel lets its
 *    caller go at once with the token still held, and weft_run waits for the
 *    function, as docs/threads.md says, returning once it does.
 */
#define _GNU_SOURCE
#include "io_helpers.h"
#include "proc_helpers.h"
#include "thread_helpers.h"

#include "sched/fault.h"

#define CHILD_ENV "WEFT_FAULTS_CHILD"

/* ------------------------------------------------------------ thread starts */

static atomic_int abandoned_calls;

static void count_abandoned(void *arg, int rc) {
    (void)arg;
    (void)rc;
    atomic_fetch_add(&abandoned_calls, 1);
}

static int thread_start_fails(void *p) {
    (void)p;
    atomic_int ran = 0;
    weft_limiter_t *l;
    EXPECT_RC(weft_limiter_new(&l, 2), 0);
    atomic_store(&abandoned_calls, 0);
    wf_fault_fail_at(WF_FAULT_THREAD, WF_FAULT_ALWAYS);
    for (int abandonable = 0; abandonable < 2; abandonable++) {
        weft_thread_opts_t o = {.limiter = l, .abandon_on_cancel = abandonable,
                                .on_abandoned = count_abandoned};
        EXPECT_RC(weft_to_thread_run_sync(wt_count_fn, &ran, &o), WEFT_ENOMEM);
        EXPECT(wt_l_borrowed(l) == 0);
    }
    EXPECT_RC(weft_to_thread_run_sync(wt_count_fn, &ran, NULL), WEFT_ENOMEM);
    EXPECT(wt_l_borrowed(weft_default_thread_limiter()) == 0);
    EXPECT(wf_fault_injected(WF_FAULT_THREAD) >= 3);
    wf_fault_fail_at(WF_FAULT_THREAD, 0);
    EXPECT(atomic_load(&ran) == 0);
    EXPECT(atomic_load(&abandoned_calls) == 0); /* WEFT_ENOMEM: arg stays the caller's */

    weft_thread_opts_t o = {.limiter = l};
    EXPECT_RC(weft_to_thread_run_sync(wt_count_fn, &ran, &o), 0);
    EXPECT(atomic_load(&ran) == 1);
    EXPECT(wt_l_borrowed(l) == 0);
    weft_limiter_free(l);
    return 0;
}

/* ------------------------------------------------------------ task stacks */

static int started_fn(void *p) {
    atomic_fetch_add((atomic_int *)p, 1);
    return weft_started(NULL);
}

static int stack_map_fails(void *p) {
    (void)p;
    atomic_int ran = 0;
    weft_group_t g;
    wf_fault_fail_at(WF_FAULT_STACK, WF_FAULT_ALWAYS);
    /* spawn only makes the record: the failure shows when the task would
     * first run, as its failure, named after it. */
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, wt_count_fn, &ran), 0);
    EXPECT_RC(weft_group_close(&g, 0), WEFT_ENOMEM);
    int err = 0;
    const char *name = NULL;
    EXPECT_RC(weft_group_failure(&g, 0, &err, &name), 0);
    EXPECT_RC(err, WEFT_ENOMEM);
    EXPECT_STR(name, "wt_count_fn");
    /* start reports it to the starter and leaves the group alone. */
    EXPECT_RC(weft_group_open(&g), 0);
    void *value = &g;
    EXPECT_RC(weft_group_start(&g, started_fn, &ran, &value), WEFT_ENOMEM);
    EXPECT(value == &g);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT(wf_fault_injected(WF_FAULT_STACK) == 2);
    wf_fault_fail_at(WF_FAULT_STACK, 0);
    EXPECT(atomic_load(&ran) == 0);

    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, wt_count_fn, &ran), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT(atomic_load(&ran) == 1);
    return 0;
}

/* The portal's task holds the future its caller waits on: it must get its
 * stack before the call is accepted, or the caller would wait for ever. */
static void stack_map_fails_portal(void) {
    weft_portal_t *p = wt_portal_start(1);
    atomic_int ran = 0;
    alarm(30); /* a hang becomes SIGALRM */
    wf_fault_fail_at(WF_FAULT_STACK, WF_FAULT_ALWAYS);
    int rc = weft_portal_call(p, wt_count_fn, &ran);
    wf_fault_fail_at(WF_FAULT_STACK, 0);
    assert_rc(rc, WEFT_ENOMEM);
    assert_int_equal(atomic_load(&ran), 0);
    assert_rc(weft_portal_call(p, wt_count_fn, &ran), 0);
    assert_int_equal(atomic_load(&ran), 1);
    wt_portal_stop_free(p, 0);
    alarm(0);
}

/* ------------------------------------------------------------ a call that does not return */

typedef struct {
    atomic_int entered, release, main_done, run_done, abandoned_rc, abandoned;
    int call_rc, run_rc;
    double cancelled_at, call_returned_at;
    unsigned borrowed_after;
} stuck_t;

static stuck_t stuck;

static int stuck_fn(void *p) {
    stuck_t *s = p;
    WT_GATE_THREAD(&s->entered, &s->release, "the stuck call was never released");
    return 0;
}

static void stuck_abandoned(void *p, int rc) {
    stuck_t *s = p;
    atomic_store(&s->abandoned_rc, rc);
    atomic_fetch_add(&s->abandoned, 1);
}

static int stuck_caller(void *p) {
    stuck_t *s = p;
    weft_thread_opts_t o = {.abandon_on_cancel = 1, .on_abandoned = stuck_abandoned};
    s->call_rc = weft_to_thread_run_sync(stuck_fn, s, &o);
    s->call_returned_at = weft_now();
    return 0;
}

static int stuck_main(void *p) {
    stuck_t *s = p;
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, stuck_caller, s), 0);
    EXPECT(wt_wait_flag(&s->entered, 1, 10.0)); /* fn runs: only abandoning frees the caller */
    s->cancelled_at = weft_now();
    weft_group_cancel(&g);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    /* The token stays with fn until it returns (a limiter bounds threads). */
    s->borrowed_after = wt_l_borrowed(weft_default_thread_limiter());
    atomic_store(&s->main_done, 1);
    return 0;
}

static void *stuck_runtime(void *p) {
    stuck_t *s = p;
    s->run_rc = wt_run_cfg(stuck_main, s, 1, 0, 0);
    atomic_store(&s->run_done, 1);
    return NULL;
}

static void call_never_returns(void) {
    stuck_t *s = &stuck;
    memset(s, 0, sizeof *s);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, stuck_runtime, s), 0);
    assert_true(wt_spin_until(&s->main_done, 1, 10.0));
    /* main returned, the call it abandoned still runs: weft_run waits. */
    usleep(300 * 1000);
    assert_int_equal(atomic_load(&s->run_done), 0);
    assert_int_equal(atomic_load(&s->abandoned), 0);
    atomic_store(&s->release, 1);
    assert_true(wt_spin_until(&s->run_done, 1, 10.0));
    pthread_join(th, NULL);
    WT_ASSERT_CLEAN();
    assert_rc(s->run_rc, 0);
    assert_rc(s->call_rc, WEFT_ECANCELED);
    if (s->call_returned_at - s->cancelled_at > 0.1 + WT_SLACK) {
        print_error("the abandoned call returned %.3f s after the cancellation\n",
                    s->call_returned_at - s->cancelled_at);
        fail();
    }
    assert_int_equal(s->borrowed_after, 1);
    assert_int_equal(atomic_load(&s->abandoned), 1);
    assert_rc(atomic_load(&s->abandoned_rc), 0); /* fn's own result */
}

/* ------------------------------------------------------------ file descriptors (child) */

static int fill[65536];
static int nfill;

static void fill_descriptors(void) {
    int fd;
    while (nfill < 65536 && (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0) fill[nfill++] = fd;
    EXPECT(errno == EMFILE);
}

static void free_descriptors(void) {
    while (nfill > 0) close(fill[--nfill]);
}

static int emfile_connect_main(void *p) {
    (void)p;
    weft_listener_t *l = NULL;
    EXPECT_RC(weft_tcp_listen(&l, "127.0.0.1", 0, NULL), 0);
    if (!l) return 0;
    int port = weft_listener_port(l);
    weft_stream_t *s = NULL;
    fill_descriptors();
    EXPECT_RC(weft_tcp_connect(&s, "127.0.0.1", port), -EMFILE);
    free_descriptors();
    /* Nothing is left behind: the same call works now (the listener's
     * backlog takes the connection). */
    EXPECT_RC(weft_tcp_connect(&s, "127.0.0.1", port), 0);
    if (s) EXPECT_RC(weft_stream_close(s), 0);
    EXPECT_RC(weft_listener_close(l), 0);
    return 0;
}

/* In a fresh image of this program: no runtime, thread or sanitizer state
 * inherited from the tests before. */
static void emfile_on_connect(void) {
    char *argv[] = {(char *)"/proc/self/exe", NULL};
    wt_proc_t p;
    wt_proc_start(&p, argv, CHILD_ENV "=emfile");
    int status = wt_proc_finish(&p, 60);
    if (status != 0) print_error("the child ended with %d; its output:\n%s\n", status, p.out);
    wt_proc_free(&p);
    assert_int_equal(status, 0);
}

/* The child's side of emfile_on_connect. */
static int run_child(const char *name) {
    if (strcmp(name, "emfile") == 0) return wt_emfile_child(emfile_connect_main);
    fprintf(stderr, "unknown child %s\n", name);
    return 2;
}

static const wt_case_t cases[] = {
    WT_CASE_ON(thread_start_fails, WT_W1),
    WT_CASE_ON(stack_map_fails, WT_W1),
    WT_TEST(stack_map_fails_portal),
    WT_TEST(call_never_returns),
    WT_TEST(emfile_on_connect),
};
WT_SUITE_WITH_CHILD(cases, CHILD_ENV, run_child)
