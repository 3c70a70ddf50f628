/*
 * The part of a byte stream every kind shares (stream.h): the receive
 * buffer, the receives built on it (receive, receive_exactly,
 * receive_until), and the entry to send, send_eof and close, which the
 * kind's operations carry out.
 *
 * Receives consume only when they complete: they wait (the kind's fill)
 * until the buffer holds what they need, then take it.  A cancelled, closed
 * or ended receive returns with the buffer as it was, plus whatever arrived.
 *
 * A receive_exactly of more bytes than the buffer reads ahead (its limit)
 * reads straight into its caller's buffer instead (`direct`): the bytes
 * already buffered are copied there first, and the kind is handed the rest
 * of the caller's buffer as room until it is full.  Before that the stream's buffer is replaced by
 * an empty one of the whole size (memory only reserved: nothing touches it on
 * the way to success), so that a receive that does not complete can give
 * every byte back in order, without an allocation that could fail at that
 * point.  Once the caller's buffer is full, further bytes go to the stream's
 * buffer again.  Reading ahead stops at WF_STREAM_BUFFER pending bytes
 * (`limit`; a receive_until raises it for its call as far as its max
 * needs), whatever the buffer's size, and a buffer larger than that shrinks
 * back when a receive leaves no more than that in it.
 */
#define _GNU_SOURCE /* memmem */
#include "io/stream.h"

#include <limits.h>
#include <string.h>

#include "sched/waitq.h"

/* ---------------------------------------------------------------- the buffer */

int wf_stream_init(weft_stream_t *s, const wf_stream_ops_t *ops) {
    s->ops = ops;
    s->cap = s->limit = WF_STREAM_BUFFER;
    s->buf = wf_alloc(s->cap);
    return s->buf ? 0 : WEFT_ENOMEM;
}

void wf_stream_fini(weft_stream_t *s) { wf_free(s->buf); }

static size_t pending(const weft_stream_t *s) { return s->tail - s->head; }

/* Nothing more will arrive. */
static int ended(const weft_stream_t *s) { return s->eof || s->read_error; }

static int direct_open(const weft_stream_t *s) {
    return s->direct && s->direct_got < s->direct_len;
}

char *wf_stream_room(weft_stream_t *s, size_t *len) {
    s->room_direct = direct_open(s);
    if (s->room_direct) { /* the stream's buffer is empty meanwhile */
        *len = s->direct_len - s->direct_got;
        return s->direct + s->direct_got;
    }
    if (s->head == s->tail) {
        s->head = s->tail = 0;
    } else if (s->tail == s->cap && s->head > 0) { /* compact */
        memmove(s->buf, s->buf + s->head, pending(s));
        s->tail -= s->head;
        s->head = 0;
    }
    size_t room = s->cap - s->tail; /* and never read ahead past the limit */
    size_t allowed = s->limit > pending(s) ? s->limit - pending(s) : 0;
    *len = room < allowed ? room : allowed;
    return s->buf + s->tail;
}

int wf_stream_filled(weft_stream_t *s, size_t n) {
    if (s->room_direct) {
        s->direct_got += n;
        return s->direct_got == s->direct_len;
    }
    s->tail += n;
    return pending(s) >= s->want;
}

int wf_stream_full(const weft_stream_t *s) { return !direct_open(s) && pending(s) >= s->limit; }

/* Put b (cap bytes) in place of the buffer; the pending bytes move to `to`:
 * b itself (they stay pending) or a receive's buffer (they are taken). */
static void replace_buffer(weft_stream_t *s, char *b, size_t cap, char *to) {
    size_t n = pending(s);
    memcpy(to, s->buf + s->head, n);
    wf_free(s->buf);
    s->buf = b;
    s->cap = cap;
    s->head = 0;
    s->tail = to == b ? n : 0;
}

/* A buffer of `cap` bytes holding the pending ones. */
static int resize(weft_stream_t *s, size_t cap) {
    char *b = wf_alloc(cap);
    if (!b) return WEFT_ENOMEM;
    replace_buffer(s, b, cap, b);
    return 0;
}

/* A grown buffer goes back to its usual size once that holds what is left
 * (if memory for it cannot be had, the large one stays). */
static void shrink(weft_stream_t *s) {
    if (pending(s) <= WF_STREAM_BUFFER) resize(s, WF_STREAM_BUFFER);
}

/* Take n pending bytes (and skip `skip` more). */
static int take(weft_stream_t *s, void *buf, size_t n, size_t skip) {
    if (n) memcpy(buf, s->buf + s->head, n);
    s->head += n + skip;
    return (int)n;
}

/* Why a receive that needed more cannot complete: the stream ended. */
static int incomplete(const weft_stream_t *s) {
    if (pending(s)) return WEFT_EINCOMPLETE;
    return s->read_error ? s->read_error : WEFT_EOF;
}

/* ---------------------------------------------------------------- calls */

/* Enter an operation: on the owner, not cancelled, not closed. */
static int enter(weft_stream_t *s, wf_task_t **t) {
    return s ? wf_io_begin(&s->life, t, 1) : WEFT_EINVAL;
}

/* Leave it, then let others run if this thread completed many operations
 * in a row (wf_sync_after_fast): after leave, nothing of s may be touched,
 * and the yield may move the task. */
static int leave(weft_stream_t *s, wf_task_t *t, int rc) {
    wf_io_end(&s->life, rc);
    if (rc >= 0) wf_sync_after_fast(t);
    return rc;
}

static inline int receive_begin(weft_stream_t *s, wf_task_t **t) {
    int rc = enter(s, t);
    if (rc) return rc;
    if (s->receiver) return wf_io_end(&s->life, -EBUSY);
    s->receiver = *t;
    return 0;
}

/* The rare ends of a receive: a grown buffer, a paused kind. */
__attribute__((noinline)) void wf_stream_tidy(weft_stream_t *s) {
    if (s->cap > WF_STREAM_BUFFER) shrink(s);
    if (s->paused && !s->life.closed) s->ops->resume(s);
}

/* Inlined: the end of every receive that took buffered bytes. */
static inline int receive_end(weft_stream_t *s, wf_task_t *t, int rc) {
    s->receiver = NULL;
    if (WF_UNLIKELY(s->cap > WF_STREAM_BUFFER || s->paused)) wf_stream_tidy(s);
    return leave(s, t, rc);
}

/* Wait until more bytes may be there (the receive goes on with `want`
 * pending), or the end. */
static int fill(weft_stream_t *s, wf_task_t *t, size_t want) {
    s->want = want;
    int rc = s->ops->fill(s, t);
    return rc == 0 && s->life.closed ? WEFT_EBADF : rc;
}

int weft_stream_receive(weft_stream_t *s, void *buf, size_t len) {
    wf_task_t *t;
    if (!buf || len == 0) return WEFT_EINVAL;
    if (len > INT32_MAX) len = INT32_MAX;
    int rc = receive_begin(s, &t);
    if (rc) return rc;
    while (!pending(s) && !ended(s) && (rc = fill(s, t, 1)) == 0) {
    }
    if (rc == 0) rc = pending(s) ? take(s, buf, len < pending(s) ? len : pending(s), 0) : incomplete(s);
    return receive_end(s, t, rc);
}

/* receive_exactly of more than the buffer holds: into the caller's buffer,
 * every byte given back if it does not complete (see the top). */
static int receive_direct(weft_stream_t *s, wf_task_t *t, char *buf, size_t n) {
    if (ended(s)) return incomplete(s);
    char *reserve = wf_alloc(n);
    if (!reserve) return WEFT_ENOMEM;
    s->direct_got = pending(s);
    replace_buffer(s, reserve, n, buf);
    s->direct = buf;
    s->direct_len = n;
    int rc = 0;
    while (direct_open(s) && !ended(s) && (rc = fill(s, t, n)) == 0) {
    }
    size_t got = s->direct_got;
    s->direct = NULL;
    if (got == n) return (int)n;
    memcpy(s->buf, buf, got); /* nothing went to the stream's buffer meanwhile */
    s->tail = got;
    return rc ? rc : incomplete(s);
}

int weft_stream_receive_exactly(weft_stream_t *s, void *buf, size_t n) {
    wf_task_t *t;
    if ((!buf && n) || n > INT_MAX) return WEFT_EINVAL;
    int rc = receive_begin(s, &t);
    if (rc) return rc;
    if (pending(s) < n && n > s->limit) {
        rc = receive_direct(s, t, buf, n);
    } else {
        while (pending(s) < n && !ended(s) && (rc = fill(s, t, n)) == 0) {
        }
        if (rc == 0) rc = pending(s) >= n ? take(s, buf, n, 0) : incomplete(s);
    }
    return receive_end(s, t, rc);
}

/* Where the delimiter d (dl bytes) starts among the pending bytes, if it
 * starts at most max bytes in: its offset; -EMSGSIZE once it cannot any
 * more; WEFT_EAGAIN while more bytes may still decide.  Offsets before
 * *from were ruled out by earlier calls. */
static int find_delim(const weft_stream_t *s, size_t max, const char *d, size_t dl, size_t *from) {
    const char *p = s->buf + s->head;
    size_t avail = pending(s);
    size_t end = avail < max + dl ? avail : max + dl; /* a match must end by then */
    if (end >= *from + dl) {
        const char *hit = memmem(p + *from, end - *from, d, dl);
        if (hit) return (int)(hit - p);
        *from = end - dl + 1;
    }
    /* No whole delimiter: one may still start at *from .. max if the bytes
     * from there on begin it (or none have arrived there yet). */
    for (size_t i = *from; i <= max; i++)
        if (i >= avail || memcmp(p + i, d, avail - i) == 0) return WEFT_EAGAIN;
    return -EMSGSIZE;
}

int weft_stream_receive_until(weft_stream_t *s, void *buf, size_t max, const void *delim,
                              size_t delim_len) {
    wf_task_t *t;
    if ((!buf && max) || !delim || delim_len == 0 || max > INT_MAX || delim_len > INT_MAX - max)
        return WEFT_EINVAL;
    int rc = receive_begin(s, &t);
    if (rc) return rc;
    size_t from = 0;
    while ((rc = find_delim(s, max, delim, delim_len, &from)) == WEFT_EAGAIN) {
        if (ended(s)) {
            rc = incomplete(s);
            break;
        }
        /* Full, and the answer lies beyond: room for every byte that decides. */
        if (pending(s) >= s->limit) {
            if (s->cap < max + delim_len && (rc = resize(s, max + delim_len)) != 0) break;
            s->limit = max + delim_len;
        }
        if ((rc = fill(s, t, pending(s) + 1)) != 0) break;
    }
    if (rc >= 0) take(s, buf, (size_t)rc, delim_len);
    s->limit = WF_STREAM_BUFFER;
    return receive_end(s, t, rc);
}

/* ---------------------------------------------------------------- hang-up
 *
 * Reading ahead into the buffer sees the peer's EOF or a reset while no
 * receive waits, without taking a byte from the receives (Go's net/http
 * reads ahead the same way to cancel a request's context). */

void wf_stream_ended(weft_stream_t *s) {
    if (s->hangup) weft_scope_cancel(s->hangup);
    /* A TLS stream's connection is this one: its watch hears it too. */
    if (s->wrapper && s->wrapper->hangup) weft_scope_cancel(s->wrapper->hangup);
}

int weft_stream_cancel_on_hangup(weft_stream_t *s, weft_scope_t *scope) {
    if (!s) return WEFT_EINVAL;
    int rc = wf_io_visit(&s->life);
    if (rc) return rc;
    if (scope && s->hangup && s->hangup != scope) return WEFT_EBUSY;
    s->hangup = scope;
    if (!scope) return 0;
    if (ended(s)) weft_scope_cancel(scope);
    else s->ops->resume(s);
    return 0;
}

/* ---------------------------------------------------------------- send, close */

/* Enter a send or send_eof: no other one in progress. */
static int send_begin(weft_stream_t *s, wf_task_t **t) {
    int rc = enter(s, t);
    if (rc) return rc;
    if (s->sender) return wf_io_end(&s->life, -EBUSY);
    s->sender = *t;
    return 0;
}

static int send_end(weft_stream_t *s, wf_task_t *t, int rc) {
    s->sender = NULL;
    return leave(s, t, rc);
}

int weft_stream_send(weft_stream_t *s, const void *buf, size_t len) {
    wf_task_t *t;
    if (!buf && len) return WEFT_EINVAL;
    int rc = send_begin(s, &t);
    if (rc) return rc;
    return send_end(s, t, s->ops->send(s, t, buf, len));
}

int weft_stream_send_eof(weft_stream_t *s) {
    wf_task_t *t;
    int rc = send_begin(s, &t);
    if (rc) return rc;
    return send_end(s, t, s->ops->send_eof(s, t));
}

void wf_stream_shut(weft_stream_t *s) {
    s->life.closed = 1;
    s->hangup = NULL;
    s->ops->shut(s);
}

int weft_stream_close(weft_stream_t *s) {
    if (!s) return WEFT_EINVAL;
    int rc = wf_io_visit(&s->life);
    if (rc) return rc;
    /* A stream taken over (TLS) goes with the one that took it: closing
     * either ends the connection. */
    wf_stream_shut(s->wrapper ? s->wrapper : s);
    return 0;
}

/* ---------------------------------------------------------------- for a kind that wraps another */

/* Fills the slots of a taken stream: never a task, never NULL. */
static char taken_marker;
#define TAKEN ((wf_task_t *)(void *)&taken_marker)

int wf_stream_take(weft_stream_t *plain, weft_stream_t *wrapper) {
    if (plain->receiver || plain->sender || plain->wrapper) return -EBUSY;
    plain->receiver = plain->sender = TAKEN;
    plain->wrapper = wrapper;
    plain->life.users++;
    return 0;
}

void wf_stream_untake(weft_stream_t *plain) {
    plain->wrapper = NULL;
    wf_io_end(&plain->life, 0);
}

const char *wf_stream_pending(const weft_stream_t *s, size_t *len) {
    *len = pending(s);
    return s->buf + s->head;
}

void wf_stream_consume(weft_stream_t *s, size_t n) { s->head += n; }

int wf_stream_at_end(const weft_stream_t *s) { return ended(s); }

int wf_stream_fill_more(weft_stream_t *s, wf_task_t *t) {
    return ended(s) ? 0 : fill(s, t, pending(s) + 1);
}
