/*
 * Running another program from a test and reading what it prints: for the
 * suites that check whole programs (test_examples) or a fresh copy of
 * themselves (test_test_helper, test_signal, test_death, test_faults;
 * WT_SUITE_WITH_CHILD is the main of such a suite), and a task body for
 * children that must die of a stack overflow (test_death, test_signal).
 *
 * A child's stdout and stderr go into one pipe, read by the test thread with
 * a deadline, so that a hung child fails the test instead of hanging it: at
 * the deadline the child is killed with SIGKILL.  Define _GNU_SOURCE before
 * including it.  No runtime may run in the test process while it forks.
 */
#ifndef WEFT_TESTS_PROC_HELPERS_H
#define WEFT_TESTS_PROC_HELPERS_H

#include "helpers.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct wt_proc_t {
    pid_t pid;
    int fd;        /* read end of the child's stdout + stderr; -1 at EOF */
    char *out;     /* everything read so far, NUL-terminated */
    size_t len, cap;
    int status;    /* waitpid status once wt_proc_finish returned */
} wt_proc_t;

static WT_UNUSED double wt_proc_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Start argv[0] (a path) with stdin from /dev/null; env_set, if not NULL, is
 * a "NAME=value" string added to its environment.  Asserts. */
static WT_UNUSED void wt_proc_start(wt_proc_t *p, char *const argv[], const char *env_set)
{
    int fds[2];
    memset(p, 0, sizeof *p);
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    p->pid = fork();
    assert_true(p->pid >= 0);
    if (p->pid == 0) {
        int null_fd = open("/dev/null", O_RDONLY);
        if (null_fd >= 0)
            dup2(null_fd, STDIN_FILENO);
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        if (env_set != NULL)
            putenv((char *)env_set);
        execv(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    p->fd = fds[0];
    p->cap = 4096;
    p->out = malloc(p->cap);
    assert_non_null(p->out);
    p->out[0] = '\0';
}

/* Read what is available within `timeout` seconds, once.  Returns 0 at EOF
 * or on timeout, 1 if bytes arrived. */
static WT_UNUSED int wt_proc_read_some(wt_proc_t *p, double timeout)
{
    if (p->fd < 0)
        return 0;
    struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
    int ms = timeout <= 0 ? 0 : (int)(timeout * 1000) + 1;
    int r = poll(&pfd, 1, ms);
    if (r <= 0)
        return 0; /* timeout (or EINTR: the caller's loop checks its deadline) */
    if (p->cap - p->len < 4096) {
        p->cap *= 2;
        p->out = realloc(p->out, p->cap);
        assert_non_null(p->out);
    }
    ssize_t n = read(p->fd, p->out + p->len, p->cap - p->len - 1);
    if (n < 0 && errno == EINTR)
        return 1;
    if (n <= 0) {
        close(p->fd);
        p->fd = -1;
        return 0;
    }
    p->len += (size_t)n;
    p->out[p->len] = '\0';
    return 1;
}

/* Read until the output contains `needle` (1), or EOF / `timeout` seconds
 * passed (0). */
static WT_UNUSED int wt_proc_wait_for(wt_proc_t *p, const char *needle, double timeout)
{
    double end = wt_proc_clock() + timeout;
    while (strstr(p->out, needle) == NULL) {
        double left = end - wt_proc_clock();
        if (left <= 0 || (!wt_proc_read_some(p, left) && p->fd < 0))
            return strstr(p->out, needle) != NULL;
    }
    return 1;
}

/* Read to EOF and reap the child; a child still running after `timeout`
 * seconds is killed (SIGKILL).  Returns its exit status, or 128 + the signal
 * that ended it. */
static WT_UNUSED int wt_proc_finish(wt_proc_t *p, double timeout)
{
    double end = wt_proc_clock() + timeout;
    while (p->fd >= 0) {
        double left = end - wt_proc_clock();
        if (left <= 0) {
            print_error("child %d still running after %.0f s: killed\n", (int)p->pid, timeout);
            kill(p->pid, SIGKILL);
            close(p->fd);
            p->fd = -1;
            break;
        }
        wt_proc_read_some(p, left);
    }
    while (waitpid(p->pid, &p->status, 0) < 0)
        assert_int_equal(errno, EINTR);
    return WIFEXITED(p->status) ? WEXITSTATUS(p->status) : 128 + WTERMSIG(p->status);
}

static WT_UNUSED void wt_proc_free(wt_proc_t *p)
{
    if (p->fd >= 0)
        close(p->fd);
    free(p->out);
    p->out = NULL;
}

/* Run argv to completion (at most `timeout` s); returns its status as
 * wt_proc_finish, the output in p->out (free with wt_proc_free). */
static WT_UNUSED int wt_proc_run(wt_proc_t *p, char *const argv[], double timeout)
{
    wt_proc_start(p, argv, NULL);
    return wt_proc_finish(p, timeout);
}

/* A task body that overflows its stack (for a child that must die with
 * weft's report of it): 1 KiB frames without end. */
static volatile int wt_dive_limit WT_UNUSED = INT_MAX;

#if defined(__GNUC__)
__attribute__((noinline))
#endif
static WT_UNUSED int wt_dive(int depth)
{
    volatile char pad[1024];
    pad[0] = (char)depth;
    pad[sizeof pad - 1] = (char)(depth >> 8);
    if (depth >= wt_dive_limit)
        return pad[0];
    return wt_dive(depth + 1) + pad[sizeof pad - 1];
}

static WT_UNUSED int wt_recurse_forever(void *arg)
{
    (void)arg;
    return wt_dive(0) == 42 ? 0 : -1;
}

/* Assert that the child's output contains `needle`, printing it all if not. */
#define wt_assert_output(p, needle)                                            \
    do {                                                                       \
        if (strstr((p)->out, (needle)) == NULL) {                              \
            print_error("expected \"%s\" in the output:\n%s\n", (needle),      \
                        (p)->out);                                             \
            fail();                                                            \
        }                                                                      \
    } while (0)

/* WT_SUITE for a suite whose cases run a fresh image of this program as a
 * child (no runtime, thread or sanitizer state inherited across fork): with
 * `env` in its environment ("<env>=<name>", see wt_proc_start's env_set),
 * main returns child(<name>) instead of running the table. */
#define WT_SUITE_WITH_CHILD(cases, env, child)                                 \
    int main(void)                                                             \
    {                                                                          \
        const char *wt_child_ = getenv(env);                                   \
        if (wt_child_ != NULL)                                                 \
            return (child)(wt_child_);                                         \
        return wt_run_suite(__FILE__, (cases), sizeof(cases) / sizeof((cases)[0])); \
    }

#endif /* WEFT_TESTS_PROC_HELPERS_H */
