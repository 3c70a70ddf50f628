/*
 * weft_wait_readable / weft_wait_writable / weft_notify_closing (watch.h).
 *
 * A wait first asks poll(2), without waiting: a descriptor that is ready
 * costs that one system call.  Otherwise it reserves its direction's slot in
 * the descriptor's record (making the record, owned by its own worker, if
 * there is none), moves to the owner, opens the record's poll handle if it
 * is not open yet, arms its wait and watches its direction; the poll
 * callback claims the waiters whose direction fired and stops watching it
 * (uv_poll is level-triggered).  Back on the owner the task empties its
 * slot; the last one closes the handle and takes the record out of the
 * table.
 *
 * The table is process-wide (so weft_notify_closing works from any thread,
 * knowing only the descriptor) and hashed into buckets, each under a mutex:
 * slots are reserved from any thread, while everything about the poll
 * handle happens on the owner's thread.  Closing the handle removes the
 * descriptor from the owner loop's epoll set at once (libuv's
 * uv__platform_invalidate_fd), and it happens under the bucket's lock before
 * the record leaves the table, so a wait that makes a new record (on another
 * loop, perhaps) adds the descriptor to an epoll set only after the old one
 * dropped it.
 *
 * weft_notify_closing marks the record closing (waits that come later get
 * WEFT_EBADF), claims its waiters with WEFT_EBADF, and returns once the
 * handle is closed: its caller closes the descriptor next, and a handle
 * closed after that would remove from the epoll set whatever file got the
 * number in the meantime.  On the owner's thread it closes the handle
 * itself; a task of the owner's runtime elsewhere parks until a woken waiter,
 * back on the owner, has done it; any other thread sleeps on a flag for the
 * same.  (A function on another worker of that runtime outside any task
 * cannot wait: the waiters it woke may be queued behind it on its own
 * worker.  It returns after waking them.)
 *
 * libuv's uv_poll_init makes the descriptor non-blocking; the flag is put
 * back, since the descriptor is not weft's.
 */
#include "io/watch.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>

#include "io/life.h"
#include "sched/waitq.h"
#include "thread/park.h"

enum { READ, WRITE };
#define BIT(dir) (1u << (dir))

/* Someone inside weft_notify_closing, waiting for the handle to close. */
typedef struct wf_notifier {
    struct wf_notifier *next;
    wf_task_t *task;        /* a parked task, or NULL: a thread on `done` */
    wf_flag_t done;
} wf_notifier_t;

typedef struct wf_watch {
    struct wf_watch *next;  /* in its bucket while listed */
    int fd;
    wf_worker_t *owner;     /* the loop of its poll handle */
    /* Under the bucket's lock. */
    wf_task_t *waiter[2];   /* READ, WRITE */
    int listed;             /* in the table: waits may join */
    int closing;            /* weft_notify_closing: waits get WEFT_EBADF */
    wf_notifier_t *notifiers;
    /* On the owner only. */
    uv_poll_t poll;
    enum { NO_HANDLE, OPEN, CLOSING } handle;
    unsigned want;          /* BIT(dir) of the armed waiters */
    int events;             /* what the handle watches now */
} wf_watch_t;

#define BUCKETS 64
static struct bucket {
    pthread_mutex_t lock;
    wf_watch_t *head;
} table[BUCKETS] = {[0 ... BUCKETS - 1] = {PTHREAD_MUTEX_INITIALIZER, NULL}};

static struct bucket *bucket_of(int fd) { return &table[(unsigned)fd % BUCKETS]; }

static wf_watch_t *find(struct bucket *b, int fd) {
    wf_watch_t *w = b->head;
    while (w && w->fd != fd) w = w->next;
    return w;
}

static void unlist(struct bucket *b, wf_watch_t *w) {
    wf_watch_t **p = &b->head;
    while (*p != w) p = &(*p)->next;
    *p = w->next;
    w->listed = 0;
}

int wf_watch_owner(int fd) {
    struct bucket *b = bucket_of(fd);
    pthread_mutex_lock(&b->lock);
    wf_watch_t *w = find(b, fd);
    int owner = w ? (int)w->owner->index : -1;
    pthread_mutex_unlock(&b->lock);
    return owner;
}

/* ---------------------------------------------------------------- the poll handle (owner) */

static void on_closed(uv_handle_t *h) {
    wf_watch_t *w = h->data;
    struct bucket *b = bucket_of(w->fd);
    pthread_mutex_lock(&b->lock);
    int empty = !w->waiter[READ] && !w->waiter[WRITE];
    w->handle = NO_HANDLE;
    pthread_mutex_unlock(&b->lock);
    if (empty) wf_free(w);
}

static void on_poll(uv_poll_t *p, int status, int events);

/* Watch what the armed waiters want. */
static void update_poll(wf_watch_t *w) {
    int ev = (w->want & BIT(READ) ? UV_READABLE : 0) | (w->want & BIT(WRITE) ? UV_WRITABLE : 0);
    if (w->handle != OPEN || ev == w->events) return;
    w->events = ev;
    if (ev) uv_poll_start(&w->poll, ev, on_poll);
    else uv_poll_stop(&w->poll);
}

/* Wake the waiters of the directions in `dirs` with rc (the bucket is
 * locked; woken[] gets the tasks to wake after unlocking). */
static void claim(wf_watch_t *w, unsigned dirs, int rc, wf_task_t *woken[2]) {
    for (int d = READ; d <= WRITE; d++)
        woken[d] = dirs & BIT(d) && w->waiter[d] && wf_wait_claim_nowake(w->waiter[d], rc)
                       ? w->waiter[d]
                       : NULL;
}

static void wake(wf_task_t *woken[2]) {
    for (int d = READ; d <= WRITE; d++)
        if (woken[d]) wf_task_wake(woken[d]);
}

static void on_poll(uv_poll_t *p, int status, int events) {
    wf_watch_t *w = p->data;
    unsigned fired = w->want;
    if (status < 0) { /* in error (libuv stopped the handle): both go */
        w->events = 0;
    } else {
        if (!(events & (UV_READABLE | UV_DISCONNECT))) fired &= ~BIT(READ);
        if (!(events & UV_WRITABLE)) fired &= ~BIT(WRITE);
    }
    w->want &= ~fired;
    wf_task_t *woken[2];
    struct bucket *b = bucket_of(w->fd);
    pthread_mutex_lock(&b->lock);
    claim(w, fired, 0, woken);
    pthread_mutex_unlock(&b->lock);
    wake(woken);
    update_poll(w);
}

/* Open the handle (on the owner), leaving the descriptor's blocking mode as
 * it was. */
static int open_poll(wf_watch_t *w) {
    if (w->handle != NO_HANDLE) return 0;
    int flags = fcntl(w->fd, F_GETFL);
    int rc = uv_poll_init(&w->owner->loop, &w->poll, w->fd);
    if (rc) return rc;
    if (flags >= 0 && !(flags & O_NONBLOCK)) fcntl(w->fd, F_SETFL, flags);
    w->poll.data = w;
    w->handle = OPEN;
    w->events = 0;
    return 0;
}

/* Stop watching (on the owner, the bucket locked): close the handle, leave
 * the table; returns the notifiers to tell. */
static wf_notifier_t *stop_watching(struct bucket *b, wf_watch_t *w) {
    if (w->handle == OPEN) {
        uv_close((uv_handle_t *)&w->poll, on_closed);
        w->handle = CLOSING;
    }
    unlist(b, w);
    wf_notifier_t *n = w->notifiers;
    w->notifiers = NULL;
    return n;
}

/* The handle is closed: let the notifiers go (after unlocking). */
static void tell(wf_notifier_t *n) {
    while (n) {
        wf_notifier_t *next = n->next; /* n may be gone once told */
        if (n->task) wf_wait_claim(n->task, 0);
        else wf_flag_set(&n->done);
        n = next;
    }
}

/* ---------------------------------------------------------------- waiting */

/* Without waiting: 1 if fd is ready for dir, 0 if not, or WEFT_EBADF. */
static int ready_now(int fd, int dir) {
    struct pollfd p = {.fd = fd, .events = dir == READ ? POLLIN : POLLOUT};
    if (poll(&p, 1, 0) < 0) return -errno;
    if (p.revents & POLLNVAL) return WEFT_EBADF;
    return p.revents != 0; /* the direction, a hang-up or an error */
}

/* Take dir's slot of fd's record for t (making the record if there is
 * none, owned by t's worker, or the first regular one for the spare). */
static int reserve(int fd, int dir, wf_task_t *t, wf_watch_t **out) {
    struct bucket *b = bucket_of(fd);
    int rc = 0;
    pthread_mutex_lock(&b->lock);
    wf_watch_t *w = find(b, fd);
    if (w && w->closing) {
        rc = WEFT_EBADF;
    } else if (w && (w->waiter[dir] || w->owner->rt != t->rt)) {
        rc = WEFT_EBUSY;
    } else if (!w && !(w = wf_calloc(1, sizeof *w))) {
        rc = WEFT_ENOMEM;
    } else if (!w->listed) {
        wf_worker_t *me = wf_current_worker();
        w->fd = fd;
        w->owner = me->spare ? &t->rt->workers[0] : me;
        w->listed = 1;
        w->next = b->head;
        b->head = w;
    }
    if (rc == 0) w->waiter[dir] = t;
    pthread_mutex_unlock(&b->lock);
    *out = w;
    return rc;
}

/* Arm t's wait, unless a notify_closing came first. */
static int arm(wf_watch_t *w, wf_task_t *t) {
    struct bucket *b = bucket_of(w->fd);
    pthread_mutex_lock(&b->lock);
    int rc = w->closing ? WEFT_EBADF : wf_wait_arm(t, 1, WF_WAIT_IO, w);
    pthread_mutex_unlock(&b->lock);
    return rc;
}

/* Empty dir's slot (on the owner); the last one out stops watching. */
static void release(wf_watch_t *w, int dir) {
    struct bucket *b = bucket_of(w->fd);
    wf_notifier_t *n = NULL;
    w->want &= ~BIT(dir);
    pthread_mutex_lock(&b->lock);
    w->waiter[dir] = NULL;
    int empty = !w->waiter[READ] && !w->waiter[WRITE];
    if (w->listed && (empty || w->closing)) n = stop_watching(b, w);
    int listed = w->listed, gone = empty && w->handle == NO_HANDLE;
    pthread_mutex_unlock(&b->lock);
    tell(n);
    if (listed) update_poll(w);
    if (gone) wf_free(w);
}

static int wait_fd(int fd, int dir) {
    wf_task_t *t = wf_current_task();
    if (!t) return WEFT_EPERM;
    int rc = wf_sync_cancelled(t);
    if (rc) return rc;
    if (fd < 0) return WEFT_EBADF;
    if ((rc = ready_now(fd, dir)) != 0) {
        if (rc == 1) wf_sync_after_fast(t);
        return rc == 1 ? 0 : rc;
    }
    wf_watch_t *w;
    if ((rc = reserve(fd, dir, t, &w)) != 0) return rc;
    wf_task_move_to(t, w->owner);
    if ((rc = open_poll(w)) == 0 && (rc = arm(w, t)) == 0) {
        w->want |= BIT(dir);
        update_poll(w);
        rc = wf_wait_park(t);
        wf_task_move_to(t, w->owner);
    }
    release(w, dir);
    return rc;
}

int weft_wait_readable(int fd) { return wait_fd(fd, READ); }
int weft_wait_writable(int fd) { return wait_fd(fd, WRITE); }

/* ---------------------------------------------------------------- notify_closing */

void weft_notify_closing(int fd) {
    if (fd < 0) return;
    struct bucket *b = bucket_of(fd);
    wf_worker_t *me = wf_current_worker();
    wf_task_t *t = wf_current_task(), *woken[2];
    wf_notifier_t self = {0}, *told = NULL;
    int park = 0, block = 0;
    pthread_mutex_lock(&b->lock);
    wf_watch_t *w = find(b, fd);
    if (!w) {
        pthread_mutex_unlock(&b->lock);
        return;
    }
    w->closing = 1;
    claim(w, BIT(READ) | BIT(WRITE), WEFT_EBADF, woken);
    if (me == w->owner) { /* the owner's thread: close it now */
        told = stop_watching(b, w);
    } else if (t && t->rt == w->owner->rt) { /* a woken waiter will, on the owner */
        self.task = t;
        wf_wait_arm(t, 0, WF_WAIT_IO, w);
        park = 1;
    } else if (!me || me->rt != w->owner->rt) { /* another thread: sleep until then */
        wf_flag_init(&self.done);
        block = 1;
    }
    if (park || block) {
        self.next = w->notifiers;
        w->notifiers = &self;
    }
    pthread_mutex_unlock(&b->lock);
    wake(woken);
    tell(told);
    if (park) wf_wait_park(t);
    if (block) wf_flag_wait(&self.done, INFINITY, 1);
}
