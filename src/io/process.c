/*
 * Subprocesses (AnyIO's open_process / run_process) on libuv's uv_spawn.
 *
 * A process belongs to the worker whose loop spawned it (its owner), and so
 * do its pipes: each piped stdio is a weft_stream_t whose uv_pipe_t libuv
 * connects to the child with a socketpair, so they are ordinary byte
 * streams.  The process and its streams live as life.h says.
 *
 * Descriptors: libuv makes its socketpairs and every other descriptor it
 * opens close-on-exec, and so does weft (listen.c, file.c), so a child gets
 * its three standard descriptors and nothing else.
 *
 * Reaping: libuv reaps the child in its SIGCHLD handler on the owner's loop
 * and calls exit_cb in the same callback, so `exited` says whether the pid
 * may still be signalled.  The handle must not be closed before that (libuv
 * would stop watching it and leave a zombie): weft_process_free kills a child
 * still running and waits for it first.
 *
 * The process holds a user count on each of its streams so that a stream
 * the user closed stays allocated, and its pointer safe to test, until
 * weft_process_free lets go of it.  The process itself counts as closed once
 * weft_process_free was called.
 *
 * Under TSan a signal that arrives while a task's fiber runs waits in that
 * fiber's TSan state until the fiber next calls an intercepted function; if
 * it parks first (waiting for this very exit, say), libuv does not see the
 * SIGCHLD until that task runs again.  So in TSan builds a process someone
 * waits for is also polled every WF_POLL_MS with waitid(WNOWAIT), which
 * reports the exit without reaping; weft_process_free then reaps a child
 * libuv did not (after uv_close, libuv no longer waits for it).  (Raising a
 * SIGCHLD instead would run libuv's handler, which is not reentrant, while
 * TSan may deliver a pending one inside it.)
 *
 * Also under TSan: libuv closes descriptors with syscall(SYS_close), which
 * TSan does not intercept (google/sanitizers#1376), so when uv_spawn on one
 * worker creates its pipes with the numbers another worker's uv_spawn used
 * and closed a moment ago, TSan reports a race on its own record of the
 * descriptor.  uv_spawn runs with TSan's memory accesses ignored (its
 * synchronisation still counts); libuv is not instrumented, so that hides
 * nothing of ours.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "io/stream.h"
#include "sched/waitq.h"

#ifdef WF_TSAN
void __tsan_ignore_thread_begin(void);
void __tsan_ignore_thread_end(void);
#define WF_TSAN_IGNORE_BEGIN() __tsan_ignore_thread_begin()
#define WF_TSAN_IGNORE_END() __tsan_ignore_thread_end()
#else
#define WF_TSAN_IGNORE_BEGIN() ((void)0)
#define WF_TSAN_IGNORE_END() ((void)0)
#endif

/* A task waiting for the exit; on its own stack, listed in p->waiters. */
typedef struct wf_exit_waiter {
    wf_list_t node;
    wf_task_t *task;
} wf_exit_waiter_t;

struct weft_process_t {
    wf_io_life_t life;      /* first: see life.h */
    uv_process_t h;
    weft_stream_t *stdio[3];
    int pid;
    int exited, status;
    int reaped;             /* libuv reaped it (exit_cb ran) */
    wf_list_t waiters;      /* wf_exit_waiter_t */
#ifdef WF_TSAN
    uv_timer_t poll;
#endif
};

/* ---------------------------------------------------------------- life */

static void release(wf_io_life_t *o) { wf_free(WF_CONTAINER_OF(o, weft_process_t, life)); }

static void on_closed(uv_handle_t *h) {
    weft_process_t *p = h->data;
    wf_io_handle_closed(&p->life);
}

static void close_handles(weft_process_t *p) {
    uv_close((uv_handle_t *)&p->h, on_closed);
#ifdef WF_TSAN
    uv_close((uv_handle_t *)&p->poll, on_closed);
    /* Out of libuv's list now: a child it did not reap is ours to reap. */
    if (p->exited && !p->reaped) {
        int st;
        while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR) {
        }
    }
#endif
}

static void exited(weft_process_t *p, int status) {
    p->exited = 1;
    p->status = status;
    /* Each waiter unlinks itself once it runs again here, on this thread. */
    for (wf_list_t *n = p->waiters.next; n != &p->waiters; n = n->next)
        wf_wait_claim(WF_CONTAINER_OF(n, wf_exit_waiter_t, node)->task, 0);
}

static void on_child_exit(uv_process_t *h, int64_t exit_status, int term_signal) {
    weft_process_t *p = h->data;
    p->reaped = 1;
    if (!p->exited) exited(p, term_signal ? 128 + term_signal : (int)(exit_status & 0xff));
}

#ifdef WF_TSAN
#define WF_POLL_MS 20
static void on_poll(uv_timer_t *h) {
    weft_process_t *p = h->data;
    siginfo_t si;
    if (p->exited || wf_list_empty(&p->waiters)) {
        uv_timer_stop(h);
        return;
    }
    memset(&si, 0, sizeof si);
    if (waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == p->pid)
        exited(p, si.si_code == CLD_EXITED ? (si.si_status & 0xff) : 128 + si.si_status);
}

static void poll_start(weft_process_t *p) {
    if (!uv_is_active((uv_handle_t *)&p->poll))
        uv_timer_start(&p->poll, on_poll, WF_POLL_MS, WF_POLL_MS);
}
#else
static void poll_start(weft_process_t *p) { (void)p; }
#endif

/* Let go of a stream: close it if the user did not, drop our reference. */
static void release_stream(weft_stream_t *s) {
    if (!s) return;
    if (!s->life.closed) wf_stream_shut(s);
    wf_io_end(&s->life, 0);
}

/* Wait until the child has exited (cancellably or not); back on the owner
 * afterwards.  0 or WEFT_ECANCELED. */
static int wait_exit(weft_process_t *p, wf_task_t *t, int cancellable) {
    wf_exit_waiter_t w = {.task = t};
    int rc = 0;
    while (!p->exited) {
        if ((rc = wf_wait_arm(t, cancellable, WF_WAIT_IO, p)) != 0) break;
        wf_list_push_back(&p->waiters, &w.node);
        poll_start(p);
        rc = wf_wait_park(t);
        wf_task_move_to(t, p->life.owner);
        wf_list_remove(&w.node);
        if (rc) break;
    }
    return rc;
}

/* Enter a call on p: on the owner, not freed.  With `checkpoint`, report
 * cancellation first. */
static int enter(weft_process_t *p, wf_task_t **t, int checkpoint) {
    return p ? wf_io_begin(&p->life, t, checkpoint) : WEFT_EINVAL;
}

static int leave(weft_process_t *p, int rc) { return wf_io_end(&p->life, rc); }

/* ---------------------------------------------------------------- open */

int weft_process_open(weft_process_t **out, const char *const argv[],
                      const weft_process_opts_t *opts) {
    if (!out || !argv || !argv[0]) return WEFT_EINVAL;
    if (!wf_current_task()) return WEFT_EPERM;
    int modes[3] = {0, 0, 0};
    if (opts) {
        modes[0] = opts->stdin_mode;
        modes[1] = opts->stdout_mode;
        modes[2] = opts->stderr_mode;
    }
    for (int i = 0; i < 3; i++)
        if (modes[i] != WEFT_STDIO_PIPE && modes[i] != WEFT_STDIO_INHERIT &&
            modes[i] != WEFT_STDIO_NULL)
            return WEFT_EINVAL;
    weft_process_t *p = wf_calloc(1, sizeof *p);
    if (!p) return WEFT_ENOMEM;
    wf_io_life_init(&p->life, release);
    p->h.data = p;
    wf_list_init(&p->waiters);
#ifdef WF_TSAN
    uv_timer_init(&p->life.owner->loop, &p->poll);
    p->poll.data = p;
    p->life.open_handles++;
#endif

    /* Nothing below switches away, so the task stays on the owner: the pipes
     * land on the same loop as the process. */
    uv_stdio_container_t io[3];
    int rc = 0;
    memset(io, 0, sizeof io);
    for (int i = 0; i < 3 && rc == 0; i++) {
        switch (modes[i]) {
        case WEFT_STDIO_PIPE: {
            weft_stream_t *s = wf_stream_new(0, 0, &rc);
            if (!s) break;
            p->stdio[i] = s;
            /* Readable / writable from the child's side. */
            io[i].flags = (uv_stdio_flags)(UV_CREATE_PIPE |
                                           (i == 0 ? UV_READABLE_PIPE : UV_WRITABLE_PIPE));
            io[i].data.stream = &s->h.stream;
            break;
        }
        case WEFT_STDIO_INHERIT:
            io[i].flags = UV_INHERIT_FD;
            io[i].data.fd = i;
            break;
        default: /* libuv opens /dev/null in the child for an ignored 0, 1 or 2 */
            io[i].flags = UV_IGNORE;
            break;
        }
    }
    if (rc == 0) {
        uv_process_options_t o;
        memset(&o, 0, sizeof o);
        o.exit_cb = on_child_exit;
        o.file = argv[0];
        o.args = (char **)argv; /* libuv does not write to them */
        o.env = opts ? opts->env : NULL;
        o.cwd = opts ? opts->cwd : NULL;
        o.stdio_count = 3;
        o.stdio = io;
        WF_TSAN_IGNORE_BEGIN();
        rc = uv_spawn(&p->life.owner->loop, &p->h, &o);
        WF_TSAN_IGNORE_END();
        /* Initialised even when it failed (and the pipes perhaps opened,
         * when exec failed: the child is reaped already). */
        p->life.open_handles++;
        p->h.data = p;
    }
    if (rc) {
        p->life.closed = 1;
        for (int i = 0; i < 3; i++)
            if (p->stdio[i]) wf_stream_shut(p->stdio[i]);
        if (p->h.loop) uv_close((uv_handle_t *)&p->h, on_closed);
#ifdef WF_TSAN
        uv_close((uv_handle_t *)&p->poll, on_closed);
#endif
        wf_io_maybe_free(&p->life);
        return rc;
    }
    p->pid = p->h.pid;
    for (int i = 0; i < 3; i++)
        if (p->stdio[i]) p->stdio[i]->life.users++; /* our reference */
    *out = p;
    return 0;
}

weft_stream_t *weft_process_stdin(weft_process_t *p) { return p ? p->stdio[0] : NULL; }
weft_stream_t *weft_process_stdout(weft_process_t *p) { return p ? p->stdio[1] : NULL; }
weft_stream_t *weft_process_stderr(weft_process_t *p) { return p ? p->stdio[2] : NULL; }

int weft_process_pid(const weft_process_t *p) { return p ? p->pid : WEFT_EINVAL; }

/* ---------------------------------------------------------------- wait, signals */

int weft_process_wait(weft_process_t *p) {
    wf_task_t *t;
    int rc = enter(p, &t, 1);
    if (rc) return rc;
    int fast = p->exited;
    if (!fast && (rc = wait_exit(p, t, 1)) != 0) return leave(p, rc);
    rc = leave(p, p->status);
    if (fast) wf_sync_after_fast(t); /* after leave: a yield may move the task */
    return rc;
}

int weft_process_returncode(weft_process_t *p) {
    wf_task_t *t;
    int rc = enter(p, &t, 0);
    if (rc) return rc;
    return leave(p, p->exited ? p->status : WEFT_EAGAIN);
}

int weft_process_send_signal(weft_process_t *p, int signum) {
    wf_task_t *t;
    int rc = enter(p, &t, 0);
    if (rc) return rc;
    /* Once reaped the pid may belong to someone else: never signal it. */
    return leave(p, p->exited ? 0 : uv_process_kill(&p->h, signum));
}

int weft_process_terminate(weft_process_t *p) { return weft_process_send_signal(p, SIGTERM); }

int weft_process_kill(weft_process_t *p) { return weft_process_send_signal(p, SIGKILL); }

/* ---------------------------------------------------------------- free */

int weft_process_free(weft_process_t *p) {
    wf_task_t *t;
    int rc = enter(p, &t, 0);
    if (rc) return rc;
    p->life.closed = 1;
    if (!p->exited) {
        /* Killing a zombie succeeds; any other failure (the child changed
         * its credentials, say) still leaves us waiting for its end. */
        uv_process_kill(&p->h, SIGKILL);
        wait_exit(p, t, 0);
    }
    for (int i = 0; i < 3; i++) release_stream(p->stdio[i]);
    close_handles(p);
    return leave(p, 0);
}

/* ---------------------------------------------------------------- run */

typedef struct {
    weft_stream_t *s;
    const char *data;
    size_t len;
} wf_feed_t;

typedef struct {
    weft_stream_t *s;
    char *data;
    size_t len, cap;
} wf_capture_t;

/* Send the input, then close stdin: the child sees EOF. */
static int feed_task(void *arg) {
    wf_feed_t *f = arg;
    int rc = f->len ? weft_stream_send(f->s, f->data, f->len) : 0;
    weft_stream_close(f->s);
    /* A child that did not read everything is its own business. */
    if (rc == WEFT_EPIPE || rc == -ECONNRESET) rc = 0;
    return rc;
}

#define WF_CAPTURE_CHUNK 16384u

/* Collect a stream until EOF into c->data (NUL-terminated). */
static int capture_task(void *arg) {
    wf_capture_t *c = arg;
    for (;;) {
        if (c->cap - c->len < WF_CAPTURE_CHUNK / 2 + 1) {
            size_t cap = c->cap ? c->cap * 2 : WF_CAPTURE_CHUNK;
            if (cap < c->cap) return WEFT_ENOMEM;
            char *data = wf_alloc(cap);
            if (!data) return WEFT_ENOMEM;
            if (c->len) memcpy(data, c->data, c->len);
            wf_free(c->data);
            c->data = data;
            c->cap = cap;
        }
        int n = weft_stream_receive(c->s, c->data + c->len, c->cap - c->len - 1);
        if (n == WEFT_EOF) break;
        if (n < 0) return n;
        c->len += (size_t)n;
    }
    c->data[c->len] = '\0';
    return 0;
}

/* An empty capture still hands out a string. */
static char *capture_take(wf_capture_t *c) {
    if (!c->data && (c->data = wf_alloc(1)) != NULL) c->data[0] = '\0';
    char *d = c->data;
    c->data = NULL;
    return d;
}

int weft_process_run(const char *const argv[], const void *input, size_t input_len,
                     weft_process_result_t *res) {
    if (!res) return WEFT_EINVAL;
    memset(res, 0, sizeof *res);
    if (!argv || !argv[0] || (!input && input_len)) return WEFT_EINVAL;
    wf_task_t *t = wf_current_task();
    if (!t) return WEFT_EPERM;
    int rc = wf_sync_cancelled(t);
    if (rc) return rc;
    weft_process_t *p;
    if ((rc = weft_process_open(&p, argv, NULL)) != 0) return rc;

    wf_feed_t feed = {p->stdio[0], input, input_len};
    wf_capture_t out = {p->stdio[1], NULL, 0, 0}, err = {p->stdio[2], NULL, 0, 0};
    int status = 0;
    weft_group_t g;
    if ((rc = weft_group_open(&g)) == 0) {
        int src = weft_group_spawn_named(&g, feed_task, &feed, "process stdin");
        if (src == 0) src = weft_group_spawn_named(&g, capture_task, &out, "process stdout");
        if (src == 0) src = weft_group_spawn_named(&g, capture_task, &err, "process stderr");
        /* Cancelled (from outside, or by the group when a task failed):
         * WEFT_ECANCELED, and the group's tasks are cancelled too. */
        status = src ? src : weft_process_wait(p);
        rc = weft_group_close(&g, status < 0 ? status : 0);
        if (rc == 0 && status < 0) rc = status;
    }
    /* A child still running (we were cancelled or failed) is killed and
     * reaped here, uncancellably, before we return. */
    weft_process_free(p);

    if (rc == 0) {
        res->status = status;
        res->out_len = out.len;
        res->err_len = err.len;
        res->out = capture_take(&out);
        res->err = capture_take(&err);
        if (!res->out || !res->err) {
            weft_process_result_free(res);
            rc = WEFT_ENOMEM;
        }
    }
    wf_free(out.data);
    wf_free(err.data);
    return rc;
}

void weft_process_result_free(weft_process_result_t *res) {
    if (!res) return;
    wf_free(res->out);
    wf_free(res->err);
    memset(res, 0, sizeof *res);
}
