/*
 * Signal receivers (AnyIO's open_signal_receiver) on libuv's uv_signal_t.
 *
 * libuv installs one process-wide handler per signal number; the handler
 * writes each delivery into the self-pipe of every loop that has a
 * uv_signal_t started for that number, and the loop runs the handles'
 * callbacks on its own thread.  So a receiver has one uv_signal_t per signal
 * number on its owner's loop, and lives as life.h says.
 *
 * Deliveries wait in a ring of WF_SIGNAL_RING numbers, in arrival order.
 * When it is full a delivery is not dropped outright: its signal is marked
 * `missed` and goes into the ring as soon as there is room, once however
 * many times it arrived meanwhile (count coalescing, as the kernel does for
 * a pending standard signal).  No signal number that arrived is ever lost.
 *
 * libuv takes a signal number over process-wide when the first handle of
 * any loop starts watching it, and sets it to SIG_DFL when the last one
 * stops, whatever was there before: weft_run's SIG_IGN for SIGPIPE, the
 * SIGQUIT dump handler, a program's own handler.  So the receivers of all
 * runtimes count, per signal number and under one mutex, the handles they
 * watch with; the first saves the disposition (before libuv replaces it),
 * and when the last is closed — uv_close stops a signal handle at once —
 * the saved one is put back.  Starting and closing a handle happen under
 * that mutex too, so another thread's receiver never sees the number
 * between libuv's reset and the restore.
 */
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "io/life.h"
#include "sched/waitq.h"

#define WF_SIGNAL_RING 64

struct wf_sig {
    uv_signal_t h;
    weft_signal_receiver_t *r;
    int signum;
    int missed;            /* arrived while the ring was full */
    int watching;          /* started: counted in watchers[signum] */
};

struct weft_signal_receiver_t {
    wf_io_life_t life;     /* first: see life.h */
    wf_task_t *receiver;   /* the task waiting in receive */
    unsigned head, count;  /* ring[head], ... count deliveries */
    int ring[WF_SIGNAL_RING];
    size_t n;
    struct wf_sig sigs[];
};

static void release(wf_io_life_t *o) { wf_free(WF_CONTAINER_OF(o, weft_signal_receiver_t, life)); }

static void on_closed(uv_handle_t *h) {
    weft_signal_receiver_t *r = ((struct wf_sig *)h->data)->r;
    wf_io_handle_closed(&r->life);
}

static void push(weft_signal_receiver_t *r, int signum) {
    r->ring[(r->head + r->count) % WF_SIGNAL_RING] = signum;
    r->count++;
}

static void on_signal(uv_signal_t *h, int signum) {
    struct wf_sig *k = h->data;
    weft_signal_receiver_t *r = k->r;
    if (r->life.closed) return;
    if (r->count < WF_SIGNAL_RING) push(r, signum);
    else k->missed = 1;
    if (r->receiver) wf_wait_claim(r->receiver, 0);
}

/* The oldest delivery; refills the ring from the missed signals. */
static int pop(weft_signal_receiver_t *r) {
    int signum = r->ring[r->head];
    r->head = (r->head + 1) % WF_SIGNAL_RING;
    r->count--;
    for (size_t i = 0; i < r->n && r->count < WF_SIGNAL_RING; i++) {
        if (r->sigs[i].missed) {
            r->sigs[i].missed = 0;
            push(r, r->sigs[i].signum);
        }
    }
    return signum;
}

/* ---------------------------------------------------------------- dispositions */

#ifdef SIGRTMAX
#define WF_SIG_LAST SIGRTMAX /* glibc: a call (it reserves the first real-time ones) */
#else
#define WF_SIG_LAST (NSIG - 1)
#endif

static pthread_mutex_t watchers_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    unsigned handles;         /* started handles of every receiver, every loop */
    struct sigaction before;  /* the disposition the first of them replaced */
} watchers[NSIG];

/* A receiver cannot have the synchronous signals: a handler that returns
 * from a fault re-runs the faulting instruction for ever, and SIGSEGV and
 * SIGBUS carry the stack-overflow report (overflow.c).  SIGKILL and SIGSTOP
 * cannot be caught at all. */
static int receivable(int signum) {
    switch (signum) {
    case SIGSEGV: case SIGBUS: case SIGILL: case SIGFPE: case SIGKILL: case SIGSTOP: return 0;
    default: return signum > 0 && signum < NSIG && signum <= WF_SIG_LAST;
    }
}

static int watch(struct wf_sig *k) {
    pthread_mutex_lock(&watchers_lock);
    if (watchers[k->signum].handles == 0) sigaction(k->signum, NULL, &watchers[k->signum].before);
    int rc = uv_signal_start(&k->h, on_signal, k->signum);
    if (rc == 0) watchers[k->signum].handles++;
    pthread_mutex_unlock(&watchers_lock);
    k->watching = rc == 0;
    return rc;
}

/* Only where libuv gave the number up: its own child watcher (SIGCHLD, for
 * uv_spawn) or a libuv loop outside weft may still hold it. */
static void restore(int signum) {
    struct sigaction now;
    if (sigaction(signum, NULL, &now) == 0 && !(now.sa_flags & SA_SIGINFO) && now.sa_handler == SIG_DFL)
        sigaction(signum, &watchers[signum].before, NULL);
}

static void close_handle(struct wf_sig *k) {
    pthread_mutex_lock(&watchers_lock);
    uv_close((uv_handle_t *)&k->h, on_closed);
    if (k->watching && --watchers[k->signum].handles == 0) restore(k->signum);
    pthread_mutex_unlock(&watchers_lock);
    k->watching = 0;
}

/* ---------------------------------------------------------------- receivers */

static void shut(weft_signal_receiver_t *r) {
    r->life.closed = 1;
    if (r->receiver) wf_wait_claim(r->receiver, WEFT_EBADF);
    for (size_t i = 0; i < r->n; i++) close_handle(&r->sigs[i]);
    wf_io_maybe_free(&r->life); /* now only if no handle was initialised */
}

int weft_signal_open(weft_signal_receiver_t **out, const int *signums, size_t n) {
    if (!out || !signums || n == 0 || n > 1024) return WEFT_EINVAL;
    if (!wf_current_task()) return WEFT_EPERM;
    for (size_t i = 0; i < n; i++)
        if (!receivable(signums[i])) return WEFT_EINVAL;
    weft_signal_receiver_t *r = wf_calloc(1, sizeof *r + n * sizeof r->sigs[0]);
    if (!r) return WEFT_ENOMEM;
    wf_io_life_init(&r->life, release);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        int dup = 0;
        for (size_t j = 0; j < r->n; j++) dup |= r->sigs[j].signum == signums[i];
        if (dup) continue;
        struct wf_sig *k = &r->sigs[r->n];
        k->r = r;
        k->signum = signums[i];
        if ((rc = uv_signal_init(&r->life.owner->loop, &k->h)) != 0) break;
        k->h.data = k;
        r->life.open_handles++;
        r->n++;
        rc = watch(k);
    }
    if (rc) {
        shut(r); /* closes the handles initialised (sigs[0 .. n)), unwatches the started */
        return rc;
    }
    *out = r;
    return 0;
}

int weft_signal_receive(weft_signal_receiver_t *r) {
    if (!r) return WEFT_EINVAL;
    wf_task_t *t;
    int rc = wf_io_begin(&r->life, &t, 1);
    if (rc) return rc;
    if (r->receiver) return wf_io_end(&r->life, -EBUSY);
    while (r->count == 0) {
        if ((rc = wf_io_wait(&r->life, t, &r->receiver)) != 0) break;
        if (r->life.closed) {
            rc = WEFT_EBADF;
            break;
        }
    }
    if (rc == 0) rc = pop(r);
    wf_io_end(&r->life, rc);
    if (rc > 0) wf_sync_after_fast(t); /* after leaving: a yield may move the task */
    return rc;
}

int weft_signal_close(weft_signal_receiver_t *r) {
    if (!r) return WEFT_EINVAL;
    int rc = wf_io_visit(&r->life);
    if (rc == 0) shut(r);
    return rc;
}

/* A receiver its program never closed, at the end of its worker (the only
 * uv_signal_t a worker's uv_walk meets: libuv's child watcher is internal):
 * closed as weft_signal_close would, so its signals get their dispositions
 * back and the receiver is freed once libuv closed its handles. */
void wf_signal_close_leftover(uv_signal_t *h) {
    shut(((struct wf_sig *)h->data)->r);
}
