/* Programming errors that must abort with a message: out-of-order, second
 * and never-entered scope exits, group exits, freeing a limiter in use or a
 * portal never stopped, stack overflow.
 *
 * Each case runs in a child process: the test forks and re-executes this same
 * binary with WEFT_DEATH_CASE=<case> in the environment (a fresh process, so
 * no runtime or sanitizer state is inherited across fork), its stderr piped
 * back.  The parent checks that the child died of SIGABRT and what it printed.
 * The parent never has a runtime running when it forks.
 */
#define _GNU_SOURCE
#include "proc_helpers.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define CASE_ENV "WEFT_DEATH_CASE"

/* ------------------------------------------------------------ child side */

/* Out of order: enter A, enter B, exit A. */
static int bad_order(void *arg)
{
    (void)arg;
    weft_scope_t a, b;
    weft_scope_enter(&a, WEFT_FOREVER, 0);
    weft_scope_enter(&b, WEFT_FOREVER, 0);
    weft_scope_exit(&a, 0);
    weft_scope_exit(&b, 0);
    return 0;
}

/* Closing a group while a scope entered after it is still open. */
static int bad_close(void *arg)
{
    (void)arg;
    weft_group_t g;
    weft_scope_t s;
    if (weft_group_open(&g) != 0)
        return -1;
    weft_scope_enter(&s, WEFT_FOREVER, 0);
    weft_group_close(&g, 0);
    weft_scope_exit(&s, 0);
    return 0;
}

/* Exiting a scope while a group opened inside it is still open. */
static int scope_over_group(void *arg)
{
    (void)arg;
    weft_group_t g;
    weft_scope_t s;
    weft_scope_enter(&s, WEFT_FOREVER, 0);
    if (weft_group_open(&g) != 0)
        return -1;
    weft_scope_exit(&s, 0);
    weft_group_close(&g, 0);
    return 0;
}

/* Exiting a scope that another task entered. */
typedef struct {
    weft_scope_t *s;
    atomic_int ready;
} foreign_ctx_t;

static int scope_owner(void *arg)
{
    foreign_ctx_t *c = arg;
    weft_scope_t s;
    weft_scope_enter(&s, WEFT_FOREVER, 0);
    c->s = &s;
    atomic_store(&c->ready, 1);
    weft_sleep(30.0);
    weft_scope_exit(&s, 0);
    return 0;
}

static int foreign_exiter(void *arg)
{
    foreign_ctx_t *c = arg;
    if (!wt_wait_flag(&c->ready, 1, 10.0))
        return -1;
    weft_scope_exit(c->s, 0);
    return 0;
}

/* Exiting a scope a second time, or one never entered. */
static int exit_twice(void *arg)
{
    (void)arg;
    weft_scope_t s;
    weft_scope_enter(&s, WEFT_FOREVER, 0);
    weft_scope_exit(&s, 0);
    weft_scope_exit(&s, 0);
    return 0;
}

static int exit_never_entered(void *arg)
{
    (void)arg;
    weft_scope_t s;
    memset(&s, 0, sizeof s);
    weft_scope_exit(&s, 0);
    return 0;
}

/* Freeing a limiter that still lends a token, has a waiter, or is the
 * runtime's own. */
static int free_lent_limiter(void *arg)
{
    (void)arg;
    weft_limiter_t *l;
    if (weft_limiter_new(&l, 1) != 0 || weft_limiter_acquire(l) != 0)
        return -1;
    weft_limiter_free(l);
    return 0;
}

static int limiter_waiter(void *arg)
{
    return weft_limiter_acquire(arg);
}

static int free_awaited_limiter(void *arg)
{
    (void)arg;
    weft_limiter_t *l;
    weft_group_t g;
    if (weft_limiter_new(&l, 1) != 0 || weft_limiter_acquire(l) != 0 ||
        weft_group_open(&g) != 0)
        return -1;
    weft_group_spawn(&g, limiter_waiter, l);
    weft_limiter_stats_t st = {0};
    while (st.tasks_waiting == 0) {
        weft_sleep(0.001);
        weft_limiter_stats(l, &st);
    }
    weft_limiter_release(l); /* handed to the waiter: still lent */
    weft_limiter_free(l);
    return weft_group_close(&g, 0);
}

static int free_default_limiter(void *arg)
{
    (void)arg;
    weft_limiter_free(weft_default_thread_limiter());
    return 0;
}

static int harmless_task(void *arg)
{
    (void)arg;
    return weft_sleep(0.001);
}

typedef struct {
    weft_fn_t a;
    const char *a_name;
    weft_fn_t b;
    const char *b_name;
    void *arg;
} two_tasks_t;

static int spawn_cases(void *arg)
{
    two_tasks_t *t = arg;
    weft_group_t g;
    int rc = weft_group_open(&g);
    if (rc != 0)
        return rc;
    weft_group_spawn_named(&g, t->a, t->arg, t->a_name);
    if (t->b)
        weft_group_spawn_named(&g, t->b, t->arg, t->b_name);
    return weft_group_close(&g, 0);
}

/* weft_portal_free without weft_portal_stop, from a plain thread. */
static int free_unstopped_portal(void)
{
    weft_portal_t *p;
    if (weft_portal_start(&p, NULL) != 0)
        return 3;
    weft_portal_free(p);
    return 0;
}

static int run_case(const char *name)
{
    if (strcmp(name, "portal_free_unstopped") == 0)
        return free_unstopped_portal();
    weft_config_t cfg = {.workers = 2};
    two_tasks_t t = {0};
    foreign_ctx_t fc = {0};
    if (strcmp(name, "ok") == 0) {
        t.a = harmless_task, t.a_name = "harmless_task";
    } else if (strcmp(name, "bad_order") == 0) {
        t.a = bad_order, t.a_name = "bad_order";
    } else if (strcmp(name, "bad_close") == 0) {
        t.a = bad_close, t.a_name = "bad_close";
    } else if (strcmp(name, "scope_over_group") == 0) {
        t.a = scope_over_group, t.a_name = "scope_over_group";
    } else if (strcmp(name, "foreign_exit") == 0) {
        t.a = scope_owner, t.a_name = "scope_owner";
        t.b = foreign_exiter, t.b_name = "foreign_exiter";
        t.arg = &fc;
    } else if (strcmp(name, "exit_twice") == 0) {
        t.a = exit_twice, t.a_name = "exit_twice";
    } else if (strcmp(name, "exit_never_entered") == 0) {
        t.a = exit_never_entered, t.a_name = "exit_never_entered";
    } else if (strcmp(name, "free_lent_limiter") == 0) {
        t.a = free_lent_limiter, t.a_name = "free_lent_limiter";
    } else if (strcmp(name, "free_awaited_limiter") == 0) {
        t.a = free_awaited_limiter, t.a_name = "free_awaited_limiter";
    } else if (strcmp(name, "free_default_limiter") == 0) {
        t.a = free_default_limiter, t.a_name = "free_default_limiter";
    } else if (strcmp(name, "overflow") == 0) {
        cfg.workers = 1;
        t.a = wt_recurse_forever, t.a_name = "recurse_forever";
    } else if (strcmp(name, "overflow_512k") == 0) {
        cfg.workers = 1;
        cfg.stack_size = 512 * 1024;
        t.a = wt_recurse_forever, t.a_name = "recurse_forever";
    } else {
        fprintf(stderr, "unknown death case %s\n", name);
        return 2;
    }
    int rc = wt_run_config(spawn_cases, &t, &cfg);
    fprintf(stderr, "the run returned %d\n", rc);
    return rc == 0 ? 0 : 3;
}

/* ------------------------------------------------------------ parent side */

typedef struct {
    int status;
    char out[8192];
} death_t;

static void run_child(const char *name, death_t *d)
{
    int fds[2];
    memset(d, 0, sizeof *d);
    assert_int_equal(pipe(fds), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        alarm(60); /* a hang becomes SIGALRM, not a stuck test */
        setenv(CASE_ENV, name, 1);
        char *self = (char *)"/proc/self/exe"; /* argv[0] where /proc is not there */
        if (access(self, X_OK) != 0)
            self = program_invocation_name;
        char *argv[] = {self, NULL};
        execv(self, argv);
        _exit(127);
    }
    close(fds[1]);
    size_t used = 0;
    for (;;) {
        char buf[1024];
        ssize_t n = read(fds[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        size_t room = sizeof d->out - 1 - used;
        size_t take = (size_t)n < room ? (size_t)n : room;
        memcpy(d->out + used, buf, take);
        used += take;
    }
    d->out[used] = '\0';
    close(fds[0]);
    while (waitpid(pid, &d->status, 0) < 0) {
        if (errno != EINTR)
            fail_msg("waitpid failed");
    }
}

static void expect_abort(const death_t *d, const char *case_name)
{
    if (!(WIFSIGNALED(d->status) && WTERMSIG(d->status) == SIGABRT)) {
        print_error("case %s: expected death by SIGABRT, got %s %d; stderr:\n%s\n", case_name,
                    WIFSIGNALED(d->status) ? "signal" : "exit status",
                    WIFSIGNALED(d->status) ? WTERMSIG(d->status) : WEXITSTATUS(d->status),
                    d->out);
        fail();
    }
}

static void expect_output(const death_t *d, const char *needle)
{
    if (strstr(d->out, needle) == NULL) {
        print_error("expected \"%s\" in the child's stderr:\n%s\n", needle, d->out);
        fail();
    }
}

static void harness_sanity(void)
{
    death_t d;
    run_child("ok", &d);
    if (!(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 0)) {
        print_error("the harmless child did not exit cleanly (status 0x%x):\n%s\n", d.status,
                    d.out);
        fail();
    }
}

static void out_of_order_scope_exit_aborts(void)
{
    death_t d;
    run_child("bad_order", &d);
    expect_abort(&d, "bad_order");
    expect_output(&d, "weft: task 'bad_order' exited cancel scope");
    expect_output(&d, "out of order");
}

static void group_close_with_open_scope_aborts(void)
{
    death_t d;
    run_child("bad_close", &d);
    expect_abort(&d, "bad_close");
    expect_output(&d, "weft: task 'bad_close' exited task group");
    expect_output(&d, "out of order");
}

static void scope_exit_with_open_group_aborts(void)
{
    death_t d;
    run_child("scope_over_group", &d);
    expect_abort(&d, "scope_over_group");
    expect_output(&d, "weft: task 'scope_over_group' exited cancel scope");
    expect_output(&d, "out of order");
}

static void scope_exit_by_other_task_aborts(void)
{
    death_t d;
    run_child("foreign_exit", &d);
    expect_abort(&d, "foreign_exit");
    if (strstr(d.out, "foreign_exiter") == NULL && strstr(d.out, "scope_owner") == NULL) {
        print_error("expected a task name in the child's stderr:\n%s\n", d.out);
        fail();
    }
}

static void scope_exit_twice_aborts(void)
{
    death_t d;
    run_child("exit_twice", &d);
    expect_abort(&d, "exit_twice");
    expect_output(&d, "weft: task 'exit_twice' exited cancel scope");
    expect_output(&d, "twice");
    run_child("exit_never_entered", &d);
    expect_abort(&d, "exit_never_entered");
    expect_output(&d, "weft: task 'exit_never_entered' exited cancel scope");
    expect_output(&d, "never entered");
}

static void limiter_free_in_use_aborts(void)
{
    death_t d;
    run_child("free_lent_limiter", &d);
    expect_abort(&d, "free_lent_limiter");
    expect_output(&d, "weft: task 'free_lent_limiter' freed capacity limiter");
    expect_output(&d, "1 token(s) and 0 task(s)");
    run_child("free_awaited_limiter", &d);
    expect_abort(&d, "free_awaited_limiter");
    expect_output(&d, "weft: task 'free_awaited_limiter' freed capacity limiter");
    expect_output(&d, "still lends 1 token(s)");
    run_child("free_default_limiter", &d);
    expect_abort(&d, "free_default_limiter");
    expect_output(&d, "belongs to its runtime");
}

static void stack_overflow_message(void)
{
#if defined(WT_SANITIZED)
    /* Sanitizers install their own SIGSEGV handling and grow frames with
     * redzones/shadow; the guard-page handler is not what runs there. */
    skip();
#else
    death_t d;
    run_child("overflow", &d);
    expect_abort(&d, "overflow");
    expect_output(&d, "weft: task 'recurse_forever' overflowed its 256 KiB stack in ");
#endif
}

static void stack_overflow_message_custom_size(void)
{
#if defined(WT_SANITIZED)
    skip(); /* see stack_overflow_message */
#else
    death_t d;
    run_child("overflow_512k", &d);
    expect_abort(&d, "overflow_512k");
    expect_output(&d, "weft: task 'recurse_forever' overflowed its 512 KiB stack in ");
#endif
}

static void portal_free_unstopped_aborts(void)
{
    death_t d;
    run_child("portal_free_unstopped", &d);
    expect_abort(&d, "portal_free_unstopped");
    expect_output(&d, "weft: task '(no task)' freed portal");
    expect_output(&d, "before stopping it: call weft_portal_stop first");
}

static const wt_case_t cases[] = {
    WT_TEST(harness_sanity),
    WT_TEST(out_of_order_scope_exit_aborts),
    WT_TEST(group_close_with_open_scope_aborts),
    WT_TEST(scope_exit_with_open_group_aborts),
    WT_TEST(scope_exit_by_other_task_aborts),
    WT_TEST(scope_exit_twice_aborts),
    WT_TEST(limiter_free_in_use_aborts),
    WT_TEST(stack_overflow_message),
    WT_TEST(stack_overflow_message_custom_size),
    WT_TEST(portal_free_unstopped_aborts),
};
WT_SUITE_WITH_CHILD(cases, CASE_ENV, run_case)
