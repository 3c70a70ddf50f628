/* Subprocesses with real children: run_process (cat echoing small and large
 * input, exit statuses, death by a signal, stderr capture, a program that
 * does not exist), open_process with its pipes used as streams (send,
 * receive, send_eof, EOF; stdin closed by the user), options (cwd, env,
 * /dev/null, inherited stdio), cancellation (run_process under a deadline
 * kills and reaps its child; a cancelled wait leaves the process usable),
 * terminate / kill, several waiters, no descriptor leaked into a child,
 * many processes at once from several tasks, wrong contexts. */
#define _GNU_SOURCE
#include "thread_helpers.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>

/* WEFT_TEST_TIMEOUT 200 */

/* 1 when this process has no child left, zombie or running (not reaping
 * anything: WNOWAIT). */
static int no_children(void)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    return waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == -1 && errno == ECHILD;
}

/* Receive until EOF into buf (at most cap - 1 bytes, NUL-terminated): the
 * count, or an error. */
static int recv_all(weft_stream_t *s, char *buf, size_t cap)
{
    size_t got = 0;
    for (;;) {
        if (got + 1 >= cap)
            return WEFT_ENOMEM;
        int n = weft_stream_receive(s, buf + got, cap - 1 - got);
        if (n == WEFT_EOF)
            break;
        if (n <= 0)
            return n ? n : WEFT_EINVAL;
        got += (size_t)n;
    }
    buf[got] = '\0';
    return (int)got;
}

/* ------------------------------------------------------------ run_process */

static int run_cat(void *p)
{
    (void)p;
    const char *const cat[] = {"/bin/cat", NULL};
    weft_process_result_t res;
    const char *in = "hello\nworld\n";
    EXPECT_RC(weft_process_run(cat, in, strlen(in), &res), 0);
    EXPECT_RC(res.status, 0);
    EXPECT_STR(res.out, in);
    EXPECT(res.out_len == strlen(in));
    EXPECT_STR(res.err, "");
    EXPECT(res.err_len == 0);
    weft_process_result_free(&res);
    EXPECT(res.out == NULL && res.err == NULL);

    /* No input: stdin is closed at once. */
    EXPECT_RC(weft_process_run(cat, NULL, 0, &res), 0);
    EXPECT_RC(res.status, 0);
    EXPECT_STR(res.out, "");
    weft_process_result_free(&res);

    /* Far more than a pipe holds: reading and writing must overlap. */
    size_t len = 3u << 20;
    unsigned char *big = malloc(len);
    for (size_t i = 0; i < len; i++)
        big[i] = (unsigned char)(i * 131 + (i >> 12));
    EXPECT_RC(weft_process_run(cat, big, len, &res), 0);
    EXPECT_RC(res.status, 0);
    EXPECT(res.out_len == len);
    EXPECT(res.out_len == len && memcmp(res.out, big, len) == 0);
    EXPECT(res.out[res.out_len] == '\0');
    weft_process_result_free(&res);
    free(big);

    /* argv[0] without a slash is looked up in PATH. */
    const char *const echo[] = {"echo", "a", "b c", NULL};
    EXPECT_RC(weft_process_run(echo, NULL, 0, &res), 0);
    EXPECT_STR(res.out, "a b c\n");
    weft_process_result_free(&res);
    EXPECT(no_children());
    return 0;
}

static int status_of(const char *script, const char *input)
{
    const char *const argv[] = {"/bin/sh", "-c", script, NULL};
    weft_process_result_t res;
    int rc = weft_process_run(argv, input, input ? strlen(input) : 0, &res);
    if (rc == 0)
        rc = res.status;
    weft_process_result_free(&res);
    return rc;
}

static int exit_status(void *p)
{
    (void)p;
    EXPECT_RC(status_of("exit 0", NULL), 0);
    EXPECT_RC(status_of("exit 3", NULL), 3);
    EXPECT_RC(status_of("exit 255", NULL), 255);
    EXPECT_RC(status_of("kill -9 $$", NULL), 128 + SIGKILL);
    EXPECT_RC(status_of("kill -TERM $$", NULL), 128 + SIGTERM);
    /* Input the child never reads is no error. */
    EXPECT_RC(status_of("exit 4", "unread input\n"), 4);
    char *lots = malloc(1u << 20);
    memset(lots, 'x', (1u << 20) - 1);
    lots[(1u << 20) - 1] = '\0';
    EXPECT_RC(status_of("exit 5", lots), 5);
    free(lots);
    EXPECT(no_children());
    return 0;
}

static int stderr_capture(void *p)
{
    (void)p;
    const char *const argv[] = {"/bin/sh", "-c",
                                "echo out; echo err >&2; echo more-err >&2; exit 5", NULL};
    weft_process_result_t res;
    EXPECT_RC(weft_process_run(argv, NULL, 0, &res), 0);
    EXPECT_RC(res.status, 5);
    EXPECT_STR(res.out, "out\n");
    EXPECT_STR(res.err, "err\nmore-err\n");
    EXPECT(res.err_len == strlen("err\nmore-err\n"));
    weft_process_result_free(&res);
    return 0;
}

static int program_missing(void *p)
{
    (void)p;
    const char *const argv[] = {"/nonexistent/program", NULL};
    weft_process_result_t res;
    EXPECT_RC(weft_process_run(argv, "x", 1, &res), -ENOENT);
    EXPECT(res.out == NULL && res.err == NULL);
    weft_process_result_free(&res);
    weft_process_t *pr = NULL;
    EXPECT_RC(weft_process_open(&pr, argv, NULL), -ENOENT);
    const char *const nopath[] = {"weft-no-such-program-here", NULL};
    EXPECT_RC(weft_process_open(&pr, nopath, NULL), -ENOENT);
    const char *const sh[] = {"/bin/sh", "-c", "true", NULL};
    weft_process_opts_t o = {.cwd = "/nonexistent/dir"};
    EXPECT_RC(weft_process_open(&pr, sh, &o), -ENOENT);
    o.cwd = NULL;
    o.stdout_mode = WEFT_STDIO_NULL;
    EXPECT_RC(weft_process_open(&pr, argv, &o), -ENOENT);
    EXPECT(pr == NULL);
    EXPECT(no_children());
    return 0;
}

/* ------------------------------------------------------------ open_process, streams */

static int open_streams(void *p)
{
    (void)p;
    const char *const cat[] = {"/bin/cat", NULL};
    weft_process_t *pr = NULL;
    EXPECT_RC(weft_process_open(&pr, cat, NULL), 0);
    if (!pr)
        return 0;
    EXPECT(weft_process_pid(pr) > 0);
    weft_stream_t *in = weft_process_stdin(pr), *out = weft_process_stdout(pr),
                  *err = weft_process_stderr(pr);
    EXPECT(in && out && err);
    char buf[256];
    for (int i = 0; i < 5; i++) {
        char msg[32];
        int n = snprintf(msg, sizeof msg, "ping %d\n", i);
        EXPECT_RC(weft_stream_send(in, msg, (size_t)n), 0);
        int got = 0;
        while (got < n) {
            int k = weft_stream_receive(out, buf + got, sizeof buf - (size_t)got);
            EXPECT(k > 0);
            if (k <= 0)
                break;
            got += k;
        }
        EXPECT(got == n && memcmp(buf, msg, (size_t)n) == 0);
    }
    EXPECT_RC(weft_process_returncode(pr), WEFT_EAGAIN);
    /* The pipes go one way. */
    EXPECT(weft_stream_send(out, "x", 1) < 0);
    EXPECT_RC(weft_stream_send_eof(in), 0);
    EXPECT_RC(weft_stream_receive(out, buf, sizeof buf), WEFT_EOF);
    EXPECT_RC(weft_stream_receive(err, buf, sizeof buf), WEFT_EOF);
    EXPECT_RC(weft_process_wait(pr), 0);
    EXPECT_RC(weft_process_wait(pr), 0); /* again: the same */
    EXPECT_RC(weft_process_returncode(pr), 0);
    /* Ended: nothing is signalled any more. */
    EXPECT_RC(weft_process_terminate(pr), 0);
    EXPECT_RC(weft_process_wait(pr), 0);
    EXPECT_RC(weft_process_free(pr), 0);
    EXPECT(no_children());
    return 0;
}

/* The user closes streams; free closes the rest. */
static int streams_closed_by_user(void *p)
{
    (void)p;
    const char *const argv[] = {"/bin/sh", "-c", "cat; echo done >&2", NULL};
    weft_process_t *pr = NULL;
    EXPECT_RC(weft_process_open(&pr, argv, NULL), 0);
    if (!pr)
        return 0;
    weft_stream_t *in = weft_process_stdin(pr);
    EXPECT_RC(weft_stream_send(in, "abc", 3), 0);
    EXPECT_RC(weft_stream_close(in), 0); /* EOF for the child */
    /* Closed by the user, still safe to pass until free. */
    EXPECT_RC(weft_stream_send(weft_process_stdin(pr), "x", 1), WEFT_EBADF);
    char buf[64];
    EXPECT_RC(recv_all(weft_process_stdout(pr), buf, sizeof buf), 3);
    EXPECT_STR(buf, "abc");
    EXPECT_RC(weft_stream_close(weft_process_stdout(pr)), 0);
    EXPECT_RC(weft_process_wait(pr), 0);
    /* stderr stays open: free closes it, with "done\n" unread. */
    EXPECT_RC(weft_process_free(pr), 0);
    return 0;
}

/* ------------------------------------------------------------ options */

static int options(void *p)
{
    (void)p;
    char buf[256];
    weft_process_t *pr = NULL;

    /* cwd */
    const char *const pwd[] = {"/bin/sh", "-c", "pwd", NULL};
    weft_process_opts_t o = {.cwd = "/"};
    EXPECT_RC(weft_process_open(&pr, pwd, &o), 0);
    if (pr) {
        EXPECT_RC(recv_all(weft_process_stdout(pr), buf, sizeof buf), 2);
        EXPECT_STR(buf, "/\n");
        EXPECT_RC(weft_process_wait(pr), 0);
        EXPECT_RC(weft_process_free(pr), 0);
    }

    /* env replaces the environment */
    char foo[] = "WEFT_TEST_FOO=bar baz", path[] = "PATH=/usr/bin:/bin";
    char *env[] = {foo, path, NULL};
    const char *const show[] = {"/bin/sh", "-c", "echo \"$WEFT_TEST_FOO|${HOME-unset}\"", NULL};
    weft_process_opts_t oe = {.env = env};
    EXPECT_RC(weft_process_open(&pr, show, &oe), 0);
    if (pr) {
        recv_all(weft_process_stdout(pr), buf, sizeof buf);
        EXPECT_STR(buf, "bar baz|unset\n");
        EXPECT_RC(weft_process_wait(pr), 0);
        EXPECT_RC(weft_process_free(pr), 0);
    }

    /* /dev/null and inherited descriptors: no streams for them. */
    const char *const mix[] = {"/bin/sh", "-c",
                               "read x; echo \"[$x]\" >&2; echo to-null; exit 6", NULL};
    weft_process_opts_t on = {.stdin_mode = WEFT_STDIO_NULL, .stdout_mode = WEFT_STDIO_NULL};
    EXPECT_RC(weft_process_open(&pr, mix, &on), 0);
    if (pr) {
        EXPECT(weft_process_stdin(pr) == NULL);
        EXPECT(weft_process_stdout(pr) == NULL);
        EXPECT(weft_process_stderr(pr) != NULL);
        EXPECT(recv_all(weft_process_stderr(pr), buf, sizeof buf) == 3);
        EXPECT_STR(buf, "[]\n");
        EXPECT_RC(weft_process_wait(pr), 6);
        EXPECT_RC(weft_process_free(pr), 0);
    }
    const char *const quiet[] = {"/bin/sh", "-c", "exit 2", NULL};
    weft_process_opts_t oi = {.stdin_mode = WEFT_STDIO_INHERIT,
                              .stdout_mode = WEFT_STDIO_INHERIT,
                              .stderr_mode = WEFT_STDIO_INHERIT};
    EXPECT_RC(weft_process_open(&pr, quiet, &oi), 0);
    if (pr) {
        EXPECT(!weft_process_stdin(pr) && !weft_process_stdout(pr) && !weft_process_stderr(pr));
        EXPECT_RC(weft_process_wait(pr), 2);
        EXPECT_RC(weft_process_free(pr), 0);
    }

    /* Bad modes. */
    weft_process_opts_t bad = {.stderr_mode = 7};
    EXPECT_RC(weft_process_open(&pr, quiet, &bad), WEFT_EINVAL);
    bad.stderr_mode = -1;
    EXPECT_RC(weft_process_open(&pr, quiet, &bad), WEFT_EINVAL);
    EXPECT(no_children());
    return 0;
}

/* ------------------------------------------------------------ cancellation */

static int cancel_run_process(void *p)
{
    (void)p;
    const char *const sleep10[] = {"/bin/sleep", "10", NULL};
    weft_process_result_t res;

    /* Under a deadline: killed, reaped, WEFT_ECANCELED promptly. */
    for (int round = 0; round < 3; round++) {
        double t0 = weft_now();
        weft_scope_t sc;
        weft_move_on_after(&sc, 0.2);
        int rc = weft_process_run(sleep10, NULL, 0, &res);
        EXPECT_RC(rc, WEFT_ECANCELED);
        EXPECT_RC(weft_scope_exit(&sc, rc), 0);
        double el = weft_now() - t0;
        EXPECT(el >= 0.19 && el < 0.2 + WT_SLACK);
        EXPECT(res.out == NULL && res.err == NULL);
        weft_process_result_free(&res);
        EXPECT(no_children());
    }

    /* While feeding input the child never reads (stdin's pipe is full). */
    size_t len = 4u << 20;
    char *big = calloc(1, len);
    double t0 = weft_now();
    weft_scope_t sc;
    weft_fail_after(&sc, 0.2);
    int rc = weft_process_run(sleep10, big, len, &res);
    EXPECT_RC(rc, WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&sc, rc), WEFT_ETIMEDOUT);
    EXPECT(weft_now() - t0 < 0.2 + WT_SLACK);
    EXPECT(no_children());
    free(big);

    /* Already cancelled: nothing is started. */
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    weft_scope_cancel(&sc);
    const char *const touch[] = {"/bin/sh", "-c", "exit 0", NULL};
    rc = weft_process_run(touch, NULL, 0, &res);
    EXPECT_RC(rc, WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&sc, rc), 0);
    EXPECT(no_children());
    return 0;
}

static int cancel_wait_terminate_kill(void *p)
{
    (void)p;
    const char *const sleep10[] = {"/bin/sleep", "10", NULL};
    weft_process_opts_t o = {.stdin_mode = WEFT_STDIO_NULL,
                             .stdout_mode = WEFT_STDIO_NULL,
                             .stderr_mode = WEFT_STDIO_NULL};
    weft_process_t *pr = NULL;
    EXPECT_RC(weft_process_open(&pr, sleep10, &o), 0);
    if (!pr)
        return 0;
    weft_scope_t sc;
    weft_move_on_after(&sc, 0.05);
    int rc = weft_process_wait(pr);
    EXPECT_RC(rc, WEFT_ECANCELED);
    EXPECT_RC(weft_scope_exit(&sc, rc), 0);
    /* Still running, still ours. */
    EXPECT_RC(weft_process_returncode(pr), WEFT_EAGAIN);
    EXPECT(kill(weft_process_pid(pr), 0) == 0);
    EXPECT_RC(weft_process_kill(pr), 0);
    EXPECT_RC(weft_process_wait(pr), 128 + SIGKILL);
    EXPECT_RC(weft_process_free(pr), 0);

    /* terminate: SIGTERM */
    EXPECT_RC(weft_process_open(&pr, sleep10, &o), 0);
    if (!pr)
        return 0;
    EXPECT_RC(weft_process_terminate(pr), 0);
    EXPECT_RC(weft_process_wait(pr), 128 + SIGTERM);
    EXPECT_RC(weft_process_returncode(pr), 128 + SIGTERM);
    EXPECT_RC(weft_process_kill(pr), 0); /* ended: nothing to do */
    EXPECT_RC(weft_process_free(pr), 0);

    /* Any signal. */
    EXPECT_RC(weft_process_open(&pr, sleep10, &o), 0);
    if (!pr)
        return 0;
    EXPECT_RC(weft_process_send_signal(pr, SIGINT), 0);
    EXPECT_RC(weft_process_wait(pr), 128 + SIGINT);
    EXPECT_RC(weft_process_free(pr), 0);

    /* free kills and reaps a child still running, with its pipes open. */
    double t0 = weft_now();
    EXPECT_RC(weft_process_open(&pr, sleep10, NULL), 0);
    if (!pr)
        return 0;
    int pid = weft_process_pid(pr);
    EXPECT_RC(weft_process_free(pr), 0);
    EXPECT(weft_now() - t0 < 2.0);
    errno = 0;
    EXPECT(waitpid(pid, NULL, WNOHANG) == -1 && errno == ECHILD);
    EXPECT(no_children());
    return 0;
}

/* ------------------------------------------------------------ several waiters */

typedef struct {
    weft_process_t *p;
    int rc;
} waiter_t;

static int waiter_task(void *p)
{
    waiter_t *w = p;
    w->rc = weft_process_wait(w->p);
    return 0;
}

static int several_waiters(void *p)
{
    (void)p;
    const char *const argv[] = {"/bin/sh", "-c", "sleep 0.1; exit 7", NULL};
    weft_process_t *pr = NULL;
    EXPECT_RC(weft_process_open(&pr, argv, NULL), 0);
    if (!pr)
        return 0;
    waiter_t w[4];
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < 4; i++) {
        w[i].p = pr;
        w[i].rc = -1;
        weft_group_spawn(&g, waiter_task, &w[i]);
    }
    EXPECT_RC(weft_process_wait(pr), 7);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    for (int i = 0; i < 4; i++)
        EXPECT_RC(w[i].rc, 7);
    EXPECT_RC(weft_process_free(pr), 0);
    return 0;
}

/* ------------------------------------------------------------ descriptors */

/* The descriptors open here that a child would inherit (no FD_CLOEXEC),
 * as a bitmap of the first 1024. */
static void inheritable_fds(unsigned char map[1024])
{
    memset(map, 0, 1024);
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return;
    int self = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] == '.' || fd == self || fd < 0 || fd >= 1024)
            continue;
        int fl = fcntl(fd, F_GETFD);
        if (fl >= 0 && !(fl & FD_CLOEXEC))
            map[fd] = 1;
    }
    closedir(d);
}

static int count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n - 3; /* ".", ".." and the directory's own */
}

static int no_fd_leak(void *p)
{
    (void)p;
    /* Descriptors of every kind weft holds: other children's pipes, a
     * signal receiver's self-pipe, the loops of several workers. */
    const char *const cat[] = {"/bin/cat", NULL};
    weft_process_t *other = NULL;
    EXPECT_RC(weft_process_open(&other, cat, NULL), 0);
    int sig = SIGUSR2;
    weft_signal_receiver_t *r = NULL;
    EXPECT_RC(weft_signal_open(&r, &sig, 1), 0);
    int before = count_fds();
    EXPECT(before > 6);

    /* The shell's own descriptors (the glob's directory is closed again
     * before the loop runs, hence the -e). */
    const char *const list[] = {
        "/bin/sh", "-c",
        "for f in /proc/self/fd/*; do [ -e \"$f\" ] && echo \"${f##*/}\"; done; exit 0", NULL};
    for (int round = 0; round < 3; round++) {
        weft_process_result_t res;
        unsigned char allowed[1024];
        inheritable_fds(allowed);
        allowed[0] = allowed[1] = allowed[2] = 1;
        EXPECT_RC(weft_process_run(list, NULL, 0, &res), 0);
        EXPECT_RC(res.status, 0);
        int n = 0, std = 0, leaked = -1;
        char seen[4096];
        snprintf(seen, sizeof seen, "%s", res.out ? res.out : "");
        for (char *line = res.out; line && *line;) {
            char *nl = strchr(line, '\n');
            if (nl)
                *nl = '\0';
            int fd = atoi(line);
            n++;
            if (fd <= 2)
                std++;
            if (fd < 0 || fd >= 1024 || !allowed[fd])
                leaked = fd;
            line = nl ? nl + 1 : NULL;
        }
        EXPECT(std == 3);
        if (leaked != -1)
            wt_failf(__FILE__, __LINE__, "descriptor %d leaked into the child; it saw: %s",
                     leaked, seen);
        (void)n;
        weft_process_result_free(&res);
    }
    EXPECT_RC(weft_signal_close(r), 0);
    EXPECT_RC(weft_process_free(other), 0);
    return 0;
}

/* ------------------------------------------------------------ many at once */

typedef struct {
    int id;
    int rounds;
} many_t;

static int many_task(void *p)
{
    many_t *m = p;
    const char *const cat[] = {"/bin/cat", NULL};
    const char *const sh[] = {"/bin/sh", "-c", "cat; exit 9", NULL};
    for (int i = 0; i < m->rounds; i++) {
        char in[64];
        int n = snprintf(in, sizeof in, "task %d round %d\n", m->id, i);
        weft_process_result_t res;
        EXPECT_RC(weft_process_run(i % 2 ? sh : cat, in, (size_t)n, &res), 0);
        EXPECT_RC(res.status, i % 2 ? 9 : 0);
        EXPECT_STR(res.out, in);
        weft_process_result_free(&res);
    }
    /* open_process too, with the waiting done from this task. */
    weft_process_t *pr = NULL;
    EXPECT_RC(weft_process_open(&pr, cat, NULL), 0);
    if (pr) {
        char buf[64];
        EXPECT_RC(weft_stream_send(weft_process_stdin(pr), "xyz", 3), 0);
        EXPECT_RC(weft_stream_send_eof(weft_process_stdin(pr)), 0);
        EXPECT_RC(recv_all(weft_process_stdout(pr), buf, sizeof buf), 3);
        EXPECT_RC(weft_process_wait(pr), 0);
        EXPECT_RC(weft_process_free(pr), 0);
    }
    return 0;
}

static int many_processes(void *p)
{
    (void)p;
    enum { TASKS = 12 };
    many_t m[TASKS];
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < TASKS; i++) {
        m[i].id = i;
        m[i].rounds = WT_TSAN_PICK(6, 2);
        weft_group_spawn(&g, many_task, &m[i]);
    }
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT(no_children());
    return 0;
}

/* ------------------------------------------------------------ wrong contexts */

static int wrong_main(void *p)
{
    (void)p;
    const char *const none[] = {NULL};
    const char *const sh[] = {"/bin/sh", "-c", "exit 0", NULL};
    weft_process_t *pr = NULL;
    weft_process_result_t res;
    EXPECT_RC(weft_process_open(NULL, sh, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_process_open(&pr, NULL, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_process_open(&pr, none, NULL), WEFT_EINVAL);
    EXPECT(pr == NULL);
    EXPECT_RC(weft_process_run(NULL, NULL, 0, &res), WEFT_EINVAL);
    EXPECT_RC(weft_process_run(none, NULL, 0, &res), WEFT_EINVAL);
    EXPECT_RC(weft_process_run(sh, NULL, 5, &res), WEFT_EINVAL);
    EXPECT_RC(weft_process_run(sh, NULL, 0, NULL), WEFT_EINVAL);
    EXPECT_RC(weft_process_wait(NULL), WEFT_EINVAL);
    EXPECT_RC(weft_process_returncode(NULL), WEFT_EINVAL);
    EXPECT_RC(weft_process_kill(NULL), WEFT_EINVAL);
    EXPECT_RC(weft_process_terminate(NULL), WEFT_EINVAL);
    EXPECT_RC(weft_process_send_signal(NULL, SIGINT), WEFT_EINVAL);
    EXPECT_RC(weft_process_free(NULL), WEFT_EINVAL);
    EXPECT_RC(weft_process_pid(NULL), WEFT_EINVAL);
    EXPECT(weft_process_stdin(NULL) == NULL);
    EXPECT(weft_process_stdout(NULL) == NULL);
    EXPECT(weft_process_stderr(NULL) == NULL);
    weft_process_result_free(NULL);

    /* A bad signal number is libuv's error; the process is unharmed. */
    weft_process_opts_t o = {.stdin_mode = WEFT_STDIO_NULL};
    const char *const sleep1[] = {"/bin/sleep", "10", NULL};
    EXPECT_RC(weft_process_open(&pr, sleep1, &o), 0);
    if (pr) {
        EXPECT_RC(weft_process_send_signal(pr, 12345), WEFT_EINVAL);
        EXPECT_RC(weft_process_returncode(pr), WEFT_EAGAIN);
        EXPECT_RC(weft_process_free(pr), 0);
    }
    return 0;
}

/* A plain test: the calls outside any runtime come first. */
static void wrong_context(void)
{
    const char *const sh[] = {"/bin/sh", "-c", "exit 0", NULL};
    weft_process_t *pr = NULL;
    weft_process_result_t res;
    memset(&res, 0x5a, sizeof res);
    assert_rc(weft_process_open(&pr, sh, NULL), WEFT_EPERM);
    assert_null(pr);
    assert_rc(weft_process_run(sh, NULL, 0, &res), WEFT_EPERM);
    assert_null(res.out);
    assert_null(res.err);
    WT_RUN_OK(wrong_main, NULL, 1);
    assert_true(no_children());
}

static const wt_case_t cases[] = {
    WT_CASE_ON(run_cat, WT_W1 | WT_W4),
    WT_CASE_ON(exit_status, WT_W2),
    WT_CASE_ON(stderr_capture, WT_W1),
    WT_CASE_ON(program_missing, WT_W2),
    WT_CASE_ON(open_streams, WT_W1 | WT_W4),
    WT_CASE_ON(streams_closed_by_user, WT_W2),
    WT_CASE_ON(options, WT_W2),
    WT_CASE_ON(cancel_run_process, WT_W1 | WT_W4),
    WT_CASE_ON(cancel_wait_terminate_kill, WT_W1 | WT_W4),
    WT_CASE_ON(several_waiters, WT_W1 | WT_W4),
    WT_CASE_ON(no_fd_leak, WT_W1 | WT_W4),
    WT_CASE_ON(many_processes, WT_W1 | WT_W4),
    WT_TEST(wrong_context),
};
WT_SUITE(cases)
