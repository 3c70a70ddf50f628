/*
 * Memory object streams (AnyIO's create_memory_object_stream).
 *
 * One channel record holds everything under one spinlock: a ring buffer of
 * up to `cap` items, the FIFO queues of blocked senders and receivers, and
 * the counts of open handles.  Invariants (under the lock): receivers wait
 * only while the buffer is empty, senders only while it holds `cap` items
 * (for a rendezvous: always), so an arriving operation serves the opposite
 * queue first and the buffer never holds an item while a receiver waits.
 *
 * The ring is not `cap` slots from the start (weft_channel(1u << 31) would
 * take 16 GiB of address space): it starts at RING_FIRST slots at most and
 * doubles, up to `cap`, when a send finds it full below `cap`.  A growth
 * that gets no memory fails that send with WEFT_ENOMEM; waiting instead
 * could block a task for ever on a channel that, by its capacity, has room.
 *
 * Hand-offs follow waitq.h: a sender pops the first waiting receiver, stores
 * the item in its node and claims it; a receiver pops the first waiting
 * sender, claims it and takes its item (into its hands for a rendezvous, into
 * the freed buffer slot otherwise).  A failed claim means that waiter was
 * cancelled: nothing moved, try the next one.
 *
 * Handles: each sender / receiver handle counts the tasks blocked through it
 * (`users`).  Closing a handle marks it closed, wakes its blocked tasks with
 * WEFT_EBADF and frees it at once if none, else the last of them frees it on
 * its way out.  The channel record goes with its last handle.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sched/waitq.h"

typedef struct wf_chan {
    /* One cache line (the record is line-aligned): all that a send or a
     * receive that does not wait touches, so that workers contending for the
     * channel pass one line back and forth, not two. */
    wf_spin_t lock;
    size_t cap;                  /* max_buffer_size: at most this many items wait */
    size_t size, head, count;    /* ring buffer: items[(head + i) % size], size <= cap */
    void **items;
    size_t open_send, open_recv; /* handles not closed */
    /* Touched only by waits, hand-offs to waiters, clones and closes. */
    size_t handles;              /* handle records not freed */
    wf_waitq_t senders, receivers;
    weft_channel_opts_t opts;    /* on_drop */
} wf_chan_t;
_Static_assert(offsetof(wf_chan_t, handles) <= WF_CACHE_LINE, "a channel's hot fields span two lines");

typedef struct wf_handle {
    wf_chan_t *ch;
    int closed;                  /* guarded by ch->lock */
    unsigned users;              /* tasks blocked through this handle */
} wf_handle_t;

struct weft_sender_t { wf_handle_t h; };
struct weft_receiver_t { wf_handle_t h; };

/* ---------------------------------------------------------------- handles */

static wf_handle_t *handle_new(wf_chan_t *ch) {
    wf_handle_t *h = wf_alloc(sizeof(struct weft_sender_t) > sizeof(struct weft_receiver_t)
                                  ? sizeof(struct weft_sender_t)
                                  : sizeof(struct weft_receiver_t));
    if (!h) return NULL;
    h->ch = ch;
    h->closed = 0;
    h->users = 0;
    return h;
}

/* Drop a handle record (closed, no users); ch->lock held.  Returns 1 when it
 * was the channel's last: the caller frees the channel after unlocking. */
static int handle_drop_locked(wf_handle_t *h) {
    wf_chan_t *ch = h->ch;
    wf_free(h);
    return --ch->handles == 0;
}

/* Append to the ring (count < size).  No `%`: a division under the lock
 * lengthens every other worker's wait for it. */
static void ring_push(wf_chan_t *ch, void *item) {
    size_t i = ch->head + ch->count++;
    ch->items[i < ch->size ? i : i - ch->size] = item;
}

/* The ring's first size in items (or `cap`, if smaller). */
#define RING_FIRST 32

/* Double the full ring (count == size < cap), up to cap; ch->lock held.  0
 * when out of memory, the ring as it was.  The items run from head to the
 * old end, then on from slot 0 to head: the run from slot 0 moves on after
 * the old end when it is the shorter and the new slots hold it, else the run
 * from head moves to the new end, so that they read on from head.  Each size
 * is grown to once, so the copies cost O(1) per item. */
static int ring_grow(wf_chan_t *ch) {
    size_t old = ch->size, room = ch->cap - old;
    size_t grown = old + (room < old ? room : old);
    if (grown > SIZE_MAX / sizeof(void *)) return 0; /* no allocation is that large */
    void **items = wf_realloc(ch->items, grown * sizeof(void *));
    if (!items) return 0;
    size_t tail = old - ch->head; /* items from head to the old end */
    if (ch->head <= tail && ch->head <= grown - old) {
        memcpy(items + old, items, ch->head * sizeof(void *));
    } else {
        memmove(items + grown - tail, items + ch->head, tail * sizeof(void *));
        ch->head = grown - tail;
    }
    ch->items = items;
    ch->size = grown;
    return 1;
}

static void chan_free(wf_chan_t *ch) {
    wf_free(ch->items);
    wf_free(ch);
}

/* A blocked operation through h is over: ch->lock held, unlocked here. */
static void handle_leave(wf_handle_t *h) {
    wf_chan_t *ch = h->ch;
    int last = 0;
    if (--h->users == 0 && h->closed) last = handle_drop_locked(h);
    wf_spin_unlock(&ch->lock);
    if (last) chan_free(ch);
}

void weft_channel_opts_init(weft_channel_opts_t *o) {
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->opts_size = sizeof *o;
}

int weft_channel(size_t cap, weft_sender_t **tx, weft_receiver_t **rx) {
    return weft_channel_open(cap, NULL, tx, rx);
}

int weft_channel_open(size_t cap, const weft_channel_opts_t *opts, weft_sender_t **tx, weft_receiver_t **rx) {
    size_t opts_size = !opts ? 0 : opts->opts_size ? opts->opts_size : sizeof *opts;
    if (!tx || !rx || opts_size > sizeof *opts) return WEFT_EINVAL;
    wf_chan_t *ch = wf_calloc_line(sizeof *ch);
    if (!ch) return WEFT_ENOMEM;
    if (opts) memcpy(&ch->opts, opts, opts_size); /* fields past the caller's layout stay 0 */
    wf_spin_init(&ch->lock);
    ch->cap = cap;
    ch->size = cap < RING_FIRST ? cap : RING_FIRST;
    wf_waitq_init(&ch->senders);
    wf_waitq_init(&ch->receivers);
    wf_handle_t *s = NULL, *r = NULL;
    if (ch->size && !(ch->items = wf_alloc(ch->size * sizeof(void *)))) goto fail;
    if (!(s = handle_new(ch)) || !(r = handle_new(ch))) goto fail;
    ch->open_send = ch->open_recv = 1;
    ch->handles = 2;
    *tx = (weft_sender_t *)s;
    *rx = (weft_receiver_t *)r;
    return 0;
fail:
    wf_free(s);
    chan_free(ch);
    return WEFT_ENOMEM;
}

static int handle_clone(wf_handle_t *h, wf_handle_t **out, size_t *open) {
    wf_chan_t *ch = h->ch;
    wf_handle_t *c = handle_new(ch);
    if (!c) return WEFT_ENOMEM;
    wf_spin_lock(&ch->lock);
    if (h->closed) {
        wf_spin_unlock(&ch->lock);
        wf_free(c);
        return WEFT_EBADF;
    }
    ch->handles++;
    (*open)++;
    wf_spin_unlock(&ch->lock);
    *out = c;
    return 0;
}

int weft_sender_clone(weft_sender_t *tx, weft_sender_t **out) {
    if (!tx || !out) return WEFT_EINVAL;
    wf_handle_t *c;
    int rc = handle_clone(&tx->h, &c, &tx->h.ch->open_send);
    if (rc == 0) *out = (weft_sender_t *)c;
    return rc;
}

int weft_receiver_clone(weft_receiver_t *rx, weft_receiver_t **out) {
    if (!rx || !out) return WEFT_EINVAL;
    wf_handle_t *c;
    int rc = handle_clone(&rx->h, &c, &rx->h.ch->open_recv);
    if (rc == 0) *out = (weft_receiver_t *)c;
    return rc;
}

/* Claim every waiter of q that waits through h with WEFT_EBADF. */
static void wake_handle(wf_waitq_t *q, const wf_handle_t *h) {
    for (wf_list_t *n = q->head.next; n != &q->head;) {
        wf_waiter_t *w = WF_CONTAINER_OF(n, wf_waiter_t, link);
        n = n->next;
        if (w->handle != h) continue;
        wf_waitq_remove(q, w);
        wf_wait_claim(w->task, WEFT_EBADF);
    }
}

/* Hand the items nobody can receive any more to on_drop, outside the lock;
 * ch->lock held, and held again on return.  h, closed, is counted as a user
 * meanwhile, so the channel (and its ring, which no send can grow once the
 * receivers are gone) stays. */
static void drop_items(wf_chan_t *ch, wf_handle_t *h) {
    size_t head = ch->head, count = ch->count;
    ch->count = ch->head = 0;
    if (!ch->opts.on_drop || !count) return;
    h->users++;
    wf_spin_unlock(&ch->lock);
    for (size_t i = 0; i < count; i++) {
        size_t at = head + i;
        ch->opts.on_drop(ch->items[at < ch->size ? at : at - ch->size], ch->opts.drop_arg);
    }
    wf_spin_lock(&ch->lock);
    h->users--;
}

static void handle_close(wf_handle_t *h, int sender) {
    wf_chan_t *ch = h->ch;
    wf_spin_lock(&ch->lock);
    if (h->closed) { /* closed twice while in use: a programming error; ignore */
        wf_spin_unlock(&ch->lock);
        return;
    }
    h->closed = 1;
    if (sender) {
        wake_handle(&ch->senders, h);
        if (--ch->open_send == 0) wf_waitq_wake_all(&ch->receivers, WEFT_EOF);
    } else {
        wake_handle(&ch->receivers, h);
        if (--ch->open_recv == 0) {
            wf_waitq_wake_all(&ch->senders, WEFT_EPIPE);
            drop_items(ch, h); /* nobody can receive them any more */
        }
    }
    int last = h->users == 0 && handle_drop_locked(h);
    wf_spin_unlock(&ch->lock);
    if (last) chan_free(ch);
}

void weft_sender_close(weft_sender_t *tx) {
    if (tx) handle_close(&tx->h, 1);
}

void weft_receiver_close(weft_receiver_t *rx) {
    if (rx) handle_close(&rx->h, 0);
}

/* ---------------------------------------------------------------- send */

/* Try to deliver without waiting; ch->lock held.  0, WEFT_EAGAIN, WEFT_EPIPE,
 * WEFT_EBADF, WEFT_ENOMEM (the ring could not grow).  A receiver handed the
 * item is left in *woken for the caller to wake once the lock is dropped
 * (waitq.h). */
static int send_locked(wf_chan_t *ch, const wf_handle_t *h, void *item, wf_task_t **woken) {
    if (h->closed) return WEFT_EBADF;
    if (ch->open_recv == 0) return WEFT_EPIPE;
    /* Receivers wait only while the buffer is empty: with items buffered,
     * their queue (another cache line) holds at most cancelled nodes. */
    if (ch->count == 0 && (*woken = wf_waitq_claim_one(&ch->receivers, 0, item))) return 0;
    if (ch->count == ch->size) {
        if (ch->count == ch->cap) return WEFT_EAGAIN;
        if (!ring_grow(ch)) return WEFT_ENOMEM;
    }
    ring_push(ch, item);
    return 0;
}

int weft_send_nowait(weft_sender_t *tx, void *item) {
    if (!tx) return WEFT_EINVAL;
    wf_chan_t *ch = tx->h.ch;
    wf_task_t *woken = NULL;
    wf_spin_lock(&ch->lock);
    int rc = send_locked(ch, &tx->h, item, &woken);
    wf_unlock_wake(&ch->lock, woken);
    return rc;
}

int weft_send(weft_sender_t *tx, void *item) {
    wf_task_t *t = wf_current_task();
    if (!t) return WEFT_EPERM;
    if (!tx) return WEFT_EINVAL;
    int rc = wf_sync_cancelled(t);
    if (rc) return rc;
    wf_chan_t *ch = tx->h.ch;
    wf_task_t *woken = NULL;
    wf_spin_lock(&ch->lock);
    rc = send_locked(ch, &tx->h, item, &woken);
    if (rc != WEFT_EAGAIN) {
        wf_unlock_wake(&ch->lock, woken);
        if (rc == 0) wf_sync_after_fast(t);
        return rc;
    }
    wf_waiter_t w = {.item = item, .handle = &tx->h};
    tx->h.users++;
    rc = wf_waitq_wait(&ch->senders, &ch->lock, &w, t, 1, WF_WAIT_SEND, ch);
    /* rc 0: a receiver took w.item.  Else (cancelled, EPIPE, EBADF) it did not. */
    wf_spin_lock(&ch->lock);
    handle_leave(&tx->h);
    return rc;
}

/* ---------------------------------------------------------------- receive */

/* Pop waiting senders until one's claim succeeds and take its item; returns
 * that sender, claimed but not yet woken (waitq.h), or NULL if none could be
 * served.  ch->lock held. */
static wf_task_t *take_sender(wf_chan_t *ch, void **item) {
    wf_waiter_t *w;
    while ((w = wf_waitq_pop(&ch->senders))) {
        void *it = w->item;
        wf_task_t *sender = w->task;
        if (wf_wait_claim_nowake(sender, 0)) {
            *item = it;
            return sender;
        }
    }
    return NULL;
}

/* Try to take an item without waiting; ch->lock held.  0, WEFT_EAGAIN,
 * WEFT_EOF, WEFT_EBADF.  A sender whose item was taken is left in *woken for
 * the caller to wake once the lock is dropped. */
static int recv_locked(wf_chan_t *ch, const wf_handle_t *h, void **item, wf_task_t **woken) {
    if (h->closed) return WEFT_EBADF;
    void *sent;
    if (ch->count) {
        int was_full = ch->count == ch->cap;
        *item = ch->items[ch->head];
        ch->head = ch->head + 1 == ch->size ? 0 : ch->head + 1;
        ch->count--;
        /* The slot freed: the first waiting sender's item takes it.  Senders
         * wait only while the buffer holds cap items (then size == cap). */
        if (was_full && (*woken = take_sender(ch, &sent))) ring_push(ch, sent);
        return 0;
    }
    /* Rendezvous (or a buffer emptied by the last receiver's close). */
    if ((*woken = take_sender(ch, item))) return 0;
    return ch->open_send == 0 ? WEFT_EOF : WEFT_EAGAIN;
}

int weft_recv_nowait(weft_receiver_t *rx, void **item) {
    if (!rx || !item) return WEFT_EINVAL;
    wf_chan_t *ch = rx->h.ch;
    wf_task_t *woken = NULL;
    wf_spin_lock(&ch->lock);
    int rc = recv_locked(ch, &rx->h, item, &woken);
    wf_unlock_wake(&ch->lock, woken);
    return rc;
}

int weft_recv(weft_receiver_t *rx, void **item) {
    wf_task_t *t = wf_current_task();
    if (!t) return WEFT_EPERM;
    if (!rx || !item) return WEFT_EINVAL;
    int rc = wf_sync_cancelled(t);
    if (rc) return rc;
    wf_chan_t *ch = rx->h.ch;
    wf_task_t *woken = NULL;
    wf_spin_lock(&ch->lock);
    rc = recv_locked(ch, &rx->h, item, &woken);
    if (rc != WEFT_EAGAIN) {
        wf_unlock_wake(&ch->lock, woken);
        if (rc == 0) wf_sync_after_fast(t);
        return rc;
    }
    wf_waiter_t w = {.handle = &rx->h};
    rx->h.users++;
    rc = wf_waitq_wait(&ch->receivers, &ch->lock, &w, t, 1, WF_WAIT_RECV, ch);
    if (rc == 0) *item = w.item; /* a sender stored it before claiming our wait */
    wf_spin_lock(&ch->lock);
    handle_leave(&rx->h);
    return rc;
}

/* ---------------------------------------------------------------- statistics */

static void chan_stats(const wf_handle_t *h, weft_channel_stats_t *out) {
    if (!out) return;
    memset(out, 0, sizeof *out);
    if (!h) return;
    wf_chan_t *ch = h->ch;
    wf_spin_lock(&ch->lock);
    out->current_buffer_used = ch->count;
    out->max_buffer_size = ch->cap;
    out->open_send_streams = ch->open_send;
    out->open_receive_streams = ch->open_recv;
    out->tasks_waiting_send = ch->senders.len;
    out->tasks_waiting_receive = ch->receivers.len;
    wf_spin_unlock(&ch->lock);
}

void weft_sender_stats(const weft_sender_t *tx, weft_channel_stats_t *out) {
    chan_stats(tx ? &tx->h : NULL, out);
}

void weft_receiver_stats(const weft_receiver_t *rx, weft_channel_stats_t *out) {
    chan_stats(rx ? &rx->h : NULL, out);
}
