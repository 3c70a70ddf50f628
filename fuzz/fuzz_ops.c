/* libFuzzer harness: the input is a program of operations run by a few
 * tasks of a fresh runtime with 2 workers, and the run must keep weft's
 * invariants; a violation calls abort() with a message.
 *
 * Input: byte 0 picks the number of program tasks (1..4) and the channel
 * capacities; the rest is a list of (op, arg) byte pairs dealt round-robin to
 * the tasks.  Ops: spawn a child (running a slice of the parent's program),
 * sleep, checkpoint, enter a cancel scope with a deadline (or fail_after, or
 * shielded), exit the innermost scope, cancel a scope or the group, send and
 * receive on two channels (waiting and _nowait), acquire and release a lock,
 * to_thread (optionally abandoned on cancel) and from_thread (run and
 * run_sync) from inside it.
 *
 * Invariants checked:
 *   - every item received was sent, and is received once; after the run,
 *     items delivered == items received + items still buffered;
 *   - every call returns one of the codes its contract allows;
 *   - the lock is held by one task at a time, and by none at the end;
 *   - every group closes (a fail_after guard turns a hang into an abort);
 *   - no task is left when the group has closed, and every abandoned
 *     to_thread call's on_abandoned ran once weft_run returned;
 *   - weft_run returns main's result; LeakSanitizer (libFuzzer's leak
 *     check) reports anything the runtime did not free.
 *
 * Waits are short (a few ms at most, each bounded by a move_on_after), so
 * one input runs in milliseconds and a blocked cycle of tasks resolves.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "weft.h"

#define MAX_INPUT 512
#define MAX_TASKS 4
#define MAX_CHILDREN 12   /* spawned tasks per input, all depths */
#define MAX_DEPTH 4       /* nested scopes per task */
#define MAX_ITEMS 1024    /* item ids per input */
#define WAIT_LIMIT 0.002  /* longest a send/recv/lock wait may block (s) */
#define GUARD_SECONDS 20.0

enum {
    OP_SPAWN,
    OP_SLEEP,
    OP_CHECKPOINT,
    OP_SCOPE,
    OP_EXIT,
    OP_CANCEL,
    OP_SEND,
    OP_RECV,
    OP_SEND_NOWAIT,
    OP_RECV_NOWAIT,
    OP_LOCK,
    OP_UNLOCK,
    OP_TO_THREAD,
    OP_FROM_THREAD,
    OP_GROUP_CANCEL,
    OP_COUNT
};

typedef struct {
    weft_group_t group;
    weft_sender_t *tx[2];
    weft_receiver_t *rx[2];
    weft_lock_t *lock;
    atomic_int lock_holder;  /* 1 while some task holds the lock */
    atomic_int next_item;    /* item ids handed out */
    atomic_int delivered;    /* sends that returned 0 */
    atomic_int received;
    atomic_uchar seen[MAX_ITEMS]; /* per item: received */
    atomic_int live_tasks;
    atomic_int children;
    atomic_int abandoned, on_abandoned_ran;
    unsigned ntasks;
    const uint8_t *ops[MAX_TASKS];
    size_t nops[MAX_TASKS];
} world_t;

typedef struct {
    world_t *w;
    const uint8_t *ops; /* (op, arg) pairs, every stride-th pair is ours */
    size_t nops;
    size_t stride;
    int depth_level;    /* 0: a program task, 1: a child */
    weft_sender_t *tx[2];
    weft_receiver_t *rx[2];
    weft_scope_t scopes[MAX_DEPTH];
    int nscopes;
    int holds_lock;
} prog_t;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fuzz_ops: invariant violated: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

/* rc must be 0 or one of the `n` codes that follow. */
static void allow(const char *what, int rc, int n, ...)
{
    if (rc == 0)
        return;
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        if (va_arg(ap, int) == rc) {
            va_end(ap);
            return;
        }
    }
    va_end(ap);
    die("%s returned %d (%s)", what, rc, weft_err_name(rc));
}

/* Leave the move_on_after scope around one wait (rc: the wait's result,
 * which the caller keeps: the scope may absorb its WEFT_ECANCELED). */
static void bounded_exit(weft_scope_t *s, int rc)
{
    int out = weft_scope_exit(s, rc);
    if (out != rc && !(rc == WEFT_ECANCELED && out == 0))
        die("weft_scope_exit(s, %d) returned %d", rc, out);
}

static void note_received(world_t *w, void *item)
{
    intptr_t id = (intptr_t)item;
    if (id <= 0 || id > atomic_load(&w->next_item) || id >= MAX_ITEMS)
        die("received item %ld that was never sent", (long)id);
    if (atomic_exchange(&w->seen[id], 1) != 0)
        die("item %ld received twice", (long)id);
    atomic_fetch_add(&w->received, 1);
}

static void *new_item(world_t *w)
{
    int id = atomic_fetch_add(&w->next_item, 1) + 1;
    if (id >= MAX_ITEMS)
        die("out of item ids (input too long)");
    return (void *)(intptr_t)id;
}

/* Every send and receive: a delivered item is counted, a failed send keeps it. */
static void do_send(world_t *w, weft_sender_t *tx, int wait)
{
    void *item = new_item(w);
    int rc;
    if (wait) {
        weft_scope_t s;
        weft_move_on_after(&s, WAIT_LIMIT);
        rc = weft_send(tx, item);
        allow("weft_send", rc, 3, WEFT_ECANCELED, WEFT_EPIPE, WEFT_EBADF);
        bounded_exit(&s, rc);
    } else {
        rc = weft_send_nowait(tx, item);
        allow("weft_send_nowait", rc, 3, WEFT_EAGAIN, WEFT_EPIPE, WEFT_EBADF);
    }
    if (rc == 0)
        atomic_fetch_add(&w->delivered, 1);
}

static void do_recv(world_t *w, weft_receiver_t *rx, int wait)
{
    void *item = NULL;
    int rc;
    if (wait) {
        weft_scope_t s;
        weft_move_on_after(&s, WAIT_LIMIT);
        rc = weft_recv(rx, &item);
        allow("weft_recv", rc, 3, WEFT_ECANCELED, WEFT_EOF, WEFT_EBADF);
        bounded_exit(&s, rc);
    } else {
        rc = weft_recv_nowait(rx, &item);
        allow("weft_recv_nowait", rc, 3, WEFT_EAGAIN, WEFT_EOF, WEFT_EBADF);
    }
    if (rc == 0)
        note_received(w, item);
}

static void lock_taken(prog_t *p)
{
    if (atomic_exchange(&p->w->lock_holder, 1) != 0)
        die("two tasks hold the lock");
    p->holds_lock = 1;
}

static void do_unlock(prog_t *p)
{
    if (!p->holds_lock)
        return;
    p->holds_lock = 0;
    atomic_store(&p->w->lock_holder, 0);
    allow("weft_lock_release", weft_lock_release(p->w->lock), 0);
}

static void do_lock(prog_t *p)
{
    if (p->holds_lock) {
        /* Re-acquiring is the owner's mistake: WEFT_EPERM, never a deadlock
         * (or the cancellation, reported first). */
        int rc = weft_lock_acquire(p->w->lock);
        if (rc != WEFT_EPERM && rc != WEFT_ECANCELED)
            die("weft_lock_acquire by the owner returned %d", rc);
        return;
    }
    weft_scope_t s;
    weft_move_on_after(&s, WAIT_LIMIT);
    int rc = weft_lock_acquire(p->w->lock);
    allow("weft_lock_acquire", rc, 1, WEFT_ECANCELED);
    bounded_exit(&s, rc);
    if (rc == 0)
        lock_taken(p);
}

/* ---------------------------------------------------------------- threads */

typedef struct {
    world_t *w;
    weft_sender_t *tx; /* a clone owned by this call */
    unsigned usec;
    int from_thread;
} thread_call_t;

static void thread_call_free(thread_call_t *c)
{
    weft_sender_close(c->tx);
    free(c);
}

/* Runs as a task through weft_from_thread_run. */
static int from_thread_task(void *arg)
{
    thread_call_t *c = arg;
    atomic_fetch_add(&c->w->live_tasks, 1);
    allow("weft_checkpoint (from_thread task)", weft_checkpoint(), 1, WEFT_ECANCELED);
    do_send(c->w, c->tx, 1);
    atomic_fetch_sub(&c->w->live_tasks, 1);
    return 0;
}

/* Runs on a worker through weft_from_thread_run_sync: no checkpoints. */
static int from_thread_sync(void *arg)
{
    thread_call_t *c = arg;
    if (weft_checkpoint() != WEFT_EPERM)
        die("a checkpoint in from_thread_run_sync's fn did not return WEFT_EPERM");
    do_send(c->w, c->tx, 0);
    return 0;
}

static int blocking_fn(void *arg)
{
    thread_call_t *c = arg;
    struct timespec ts = {0, (long)c->usec * 1000};
    nanosleep(&ts, NULL);
    allow("weft_from_thread_check_cancelled", weft_from_thread_check_cancelled(), 1,
          WEFT_ECANCELED);
    if (c->from_thread) {
        allow("weft_from_thread_run", weft_from_thread_run(from_thread_task, c), 1,
              WEFT_ECANCELED);
        allow("weft_from_thread_run_sync", weft_from_thread_run_sync(from_thread_sync, c), 1,
              WEFT_ECANCELED);
    }
    return 0;
}

static void on_abandoned(void *arg, int rc)
{
    thread_call_t *c = arg;
    world_t *w = c->w;
    allow("abandoned fn", rc, 1, WEFT_ECANCELED);
    /* Its sender clone is closed before it is counted: once the count is
     * complete, fuzz_main drains the channels and expects them to end. */
    thread_call_free(c);
    atomic_fetch_add(&w->on_abandoned_ran, 1);
}

static void do_to_thread(prog_t *p, unsigned arg, int from_thread)
{
    thread_call_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        die("out of memory");
    c->w = p->w;
    c->usec = (arg & 0x3f) * 5;
    c->from_thread = from_thread;
    if (weft_sender_clone(p->tx[arg >> 7], &c->tx) != 0)
        die("weft_sender_clone failed");
    weft_thread_opts_t opts = {.abandon_on_cancel = (int)(arg >> 6) & 1,
                               .on_abandoned = on_abandoned};
    int rc = weft_to_thread_run_sync(blocking_fn, c, &opts);
    allow("weft_to_thread_run_sync", rc, 1, WEFT_ECANCELED);
    if (rc == WEFT_ECANCELED && opts.abandon_on_cancel) {
        atomic_fetch_add(&p->w->abandoned, 1); /* on_abandoned owns c */
        return;
    }
    thread_call_free(c);
}

/* ---------------------------------------------------------------- programs */

static int run_prog(void *arg);

static prog_t *prog_new(world_t *w, const uint8_t *ops, size_t nops, size_t stride, int level)
{
    prog_t *p = calloc(1, sizeof *p);
    if (p == NULL)
        die("out of memory");
    p->w = w;
    p->ops = ops;
    p->nops = nops;
    p->stride = stride;
    p->depth_level = level;
    for (int i = 0; i < 2; i++) {
        if (weft_sender_clone(w->tx[i], &p->tx[i]) != 0 ||
            weft_receiver_clone(w->rx[i], &p->rx[i]) != 0)
            die("clone failed");
    }
    return p;
}

static void prog_free(prog_t *p)
{
    for (int i = 0; i < 2; i++) {
        weft_sender_close(p->tx[i]);
        weft_receiver_close(p->rx[i]);
    }
    free(p);
}

static void do_spawn(prog_t *p, size_t pc, unsigned arg)
{
    world_t *w = p->w;
    if (p->depth_level > 0 || atomic_fetch_add(&w->children, 1) >= MAX_CHILDREN)
        return;
    /* The child runs the next (arg % 8) + 1 of the parent's ops. */
    size_t n = (arg % 8) + 1;
    size_t left = p->nops - pc - 1;
    prog_t *c = prog_new(w, p->ops + (pc + 1) * 2 * p->stride, n < left ? n : left, p->stride,
                         1);
    int rc = weft_group_spawn_named(&w->group, run_prog, c, "child");
    if (rc != 0) {
        /* EBADF cannot happen: the group closes only after every program. */
        die("weft_group_spawn returned %d", rc);
    }
}

static void do_scope(prog_t *p, unsigned arg)
{
    if (p->nscopes == MAX_DEPTH)
        return;
    weft_scope_t *s = &p->scopes[p->nscopes++];
    double d = (arg & 0x3f) * 20e-6;
    switch (arg >> 6) {
    case 0: weft_move_on_after(s, d); break;
    case 1: weft_fail_after(s, d); break;
    case 2: weft_scope_enter(s, WEFT_FOREVER, WEFT_SHIELD); break;
    default: weft_scope_enter(s, WEFT_FOREVER, 0); break;
    }
}

static void do_exit(prog_t *p, unsigned arg)
{
    if (p->nscopes == 0)
        return;
    weft_scope_t *s = &p->scopes[--p->nscopes];
    /* The body's result: success, or the cancellation the body saw. */
    int body = (arg & 1) ? weft_checkpoint() : 0;
    allow("body checkpoint", body, 1, WEFT_ECANCELED);
    int rc = weft_scope_exit(s, body);
    allow("weft_scope_exit", rc, 2, WEFT_ECANCELED, WEFT_ETIMEDOUT);
    if (body == 0 && rc != 0)
        die("weft_scope_exit(s, 0) returned %d", rc);
}

static void step(prog_t *p, size_t pc, unsigned op, unsigned arg)
{
    world_t *w = p->w;
    switch (op) {
    case OP_SPAWN: do_spawn(p, pc, arg); break;
    case OP_SLEEP:
        allow("weft_sleep", weft_sleep(arg * 10e-6), 1, WEFT_ECANCELED);
        break;
    case OP_CHECKPOINT: allow("weft_checkpoint", weft_checkpoint(), 1, WEFT_ECANCELED); break;
    case OP_SCOPE: do_scope(p, arg); break;
    case OP_EXIT: do_exit(p, arg); break;
    case OP_CANCEL:
        if (p->nscopes > 0)
            weft_scope_cancel(&p->scopes[arg % (unsigned)p->nscopes]);
        break;
    case OP_SEND: do_send(w, p->tx[arg & 1], 1); break;
    case OP_RECV: do_recv(w, p->rx[arg & 1], 1); break;
    case OP_SEND_NOWAIT: do_send(w, p->tx[arg & 1], 0); break;
    case OP_RECV_NOWAIT: do_recv(w, p->rx[arg & 1], 0); break;
    case OP_LOCK: do_lock(p); break;
    case OP_UNLOCK: do_unlock(p); break;
    case OP_TO_THREAD: do_to_thread(p, arg, 0); break;
    case OP_FROM_THREAD: do_to_thread(p, arg, 1); break;
    case OP_GROUP_CANCEL:
        if (arg == 0xff) /* rare: everything after it sees the cancellation */
            weft_group_cancel(&w->group);
        break;
    default: break;
    }
}

static int run_prog(void *arg)
{
    prog_t *p = arg;
    atomic_fetch_add(&p->w->live_tasks, 1);
    for (size_t pc = 0; pc < p->nops; pc++) {
        const uint8_t *o = p->ops + pc * 2 * p->stride;
        step(p, pc, o[0] % OP_COUNT, o[1]);
    }
    do_unlock(p);
    while (p->nscopes > 0)
        do_exit(p, 0);
    atomic_fetch_sub(&p->w->live_tasks, 1);
    prog_free(p);
    return 0;
}

/* ---------------------------------------------------------------- main */

/* After every task: drain what is still buffered; each channel must end
 * (every sender clone was closed). */
static void drain(world_t *w)
{
    for (int i = 0; i < 2; i++) {
        weft_sender_close(w->tx[i]);
        w->tx[i] = NULL;
        int buffered = 0;
        for (;;) {
            void *item = NULL;
            int rc = weft_recv_nowait(w->rx[i], &item);
            if (rc == WEFT_EOF)
                break;
            if (rc != 0)
                die("draining channel %d: %s (a sender clone was not closed?)", i,
                    weft_err_name(rc));
            note_received(w, item);
            buffered++;
        }
        (void)buffered;
        weft_receiver_close(w->rx[i]);
        w->rx[i] = NULL;
    }
}

static int fuzz_main(void *arg)
{
    world_t *w = arg;
    weft_scope_t guard;
    weft_fail_after(&guard, GUARD_SECONDS);
    int rc = weft_group_open(&w->group);
    if (rc != 0)
        die("weft_group_open returned %d", rc);
    for (unsigned i = 0; i < w->ntasks; i++) {
        prog_t *p = prog_new(w, w->ops[i], w->nops[i], w->ntasks, 0);
        if ((rc = weft_group_spawn_named(&w->group, run_prog, p, "prog")) != 0)
            die("weft_group_spawn returned %d", rc);
    }
    rc = weft_group_close(&w->group, 0);
    rc = weft_scope_exit(&guard, rc);
    if (rc == WEFT_ETIMEDOUT)
        die("the program did not finish within %g s (a task is stuck)", GUARD_SECONDS);
    if (rc != 0)
        die("weft_group_close returned %d (%s)", rc, weft_err_name(rc));
    /* Abandoned to_thread calls finish on their own (their from_thread
     * tasks run outside the group): wait for them, boundedly. */
    double end = weft_now() + GUARD_SECONDS;
    while (atomic_load(&w->on_abandoned_ran) < atomic_load(&w->abandoned)) {
        if (weft_now() > end)
            die("an abandoned to_thread call never finished");
        weft_sleep(100e-6);
    }
    if (atomic_load(&w->live_tasks) != 0)
        die("%d task(s) still running after the group closed", atomic_load(&w->live_tasks));
    if (weft_lock_locked(w->lock) || atomic_load(&w->lock_holder))
        die("the lock is still held after every task ended");
    drain(w);
    if (atomic_load(&w->delivered) != atomic_load(&w->received))
        die("%d item(s) delivered but %d received", atomic_load(&w->delivered),
            atomic_load(&w->received));
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > MAX_INPUT)
        return -1; /* not added to the corpus */
    static world_t w; /* big (seen[]); one input at a time */
    memset(&w, 0, sizeof w);
    w.ntasks = (data[0] & 3) + 1;
    size_t npairs = (size - 1) / 2;
    for (unsigned i = 0; i < w.ntasks; i++) {
        w.ops[i] = data + 1 + 2 * i;
        w.nops[i] = npairs > i ? (npairs - i + w.ntasks - 1) / w.ntasks : 0;
    }
    if (weft_channel((data[0] >> 2) & 3, &w.tx[0], &w.rx[0]) != 0 ||
        weft_channel(0, &w.tx[1], &w.rx[1]) != 0 || weft_lock_new(&w.lock) != 0)
        die("setup failed");

    weft_config_t cfg = {.workers = 2, .stack_size = 64 * 1024, .thread_tokens = 2,
                         .thread_idle_timeout = 0.05};
    int rc = weft_run(fuzz_main, &w, &cfg);
    if (rc != 0)
        die("weft_run returned %d (%s)", rc, weft_err_name(rc));
    if (atomic_load(&w.abandoned) != atomic_load(&w.on_abandoned_ran))
        die("%d to_thread call(s) abandoned but on_abandoned ran %d time(s)",
            atomic_load(&w.abandoned), atomic_load(&w.on_abandoned_ran));
    weft_lock_free(w.lock);
    return 0;
}
