#include "io/stream.h"

#include <string.h>
#include <sys/un.h>

#include "io/place.h"
#include "sched/waitq.h"

/* ---------------------------------------------------------------- life */

static void release(wf_io_life_t *o) {
    weft_stream_t *s = WF_CONTAINER_OF(o, weft_stream_t, life);
    if (s->placed) wf_io_unplace(o->owner);
    wf_free(s->buf);
    wf_free(s);
}

weft_stream_t *wf_stream_new(int is_tcp, int placed, int *rc) {
    weft_stream_t *s = wf_calloc(1, sizeof *s);
    if (!s || !(s->buf = wf_alloc(WF_STREAM_BUFFER))) {
        wf_free(s);
        if (placed) wf_io_unplace(wf_current_worker());
        *rc = WEFT_ENOMEM;
        return NULL;
    }
    wf_io_life_init(&s->life, release);
    s->is_tcp = is_tcp;
    s->placed = placed; /* from here release gives the count back */
    uv_loop_t *loop = &s->life.owner->loop;
    *rc = is_tcp ? uv_tcp_init(loop, &s->h.tcp) : uv_pipe_init(loop, &s->h.pipe, 0);
    if (*rc) {
        release(&s->life);
        return NULL;
    }
    s->h.handle.data = s;
    s->life.open_handles = 1;
    return s;
}

static void on_closed(uv_handle_t *h) {
    weft_stream_t *s = h->data;
    wf_io_handle_closed(&s->life);
}

void wf_stream_shut(weft_stream_t *s) {
    s->life.closed = 1;
    if (s->reader) wf_wait_claim(s->reader, WEFT_EBADF);
    if (s->writer) wf_wait_claim(s->writer, WEFT_EBADF);
    /* A pending write or shutdown request completes with UV_ECANCELED. */
    uv_close(&s->h.handle, on_closed);
}

/* Enter a stream operation: on the owner, not cancelled, not closed. */
static int enter(weft_stream_t *s, wf_task_t **t) {
    return s ? wf_io_begin(&s->life, t, 1) : WEFT_EINVAL;
}

/* Leave an operation (on the owner).  Nothing of s may be touched after:
 * it may be freed, and a yield (wf_sync_after_fast) may move the task. */
static int leave(weft_stream_t *s, int rc) { return wf_io_end(&s->life, rc); }

/* ---------------------------------------------------------------- receive */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *out) {
    weft_stream_t *s = h->data;
    (void)suggested;
    if (s->head == s->tail) s->head = s->tail = 0;
    if (s->tail == WF_STREAM_BUFFER && s->head > 0) { /* compact */
        memmove(s->buf, s->buf + s->head, s->tail - s->head);
        s->tail -= s->head;
        s->head = 0;
    }
    *out = uv_buf_init(s->buf + s->tail, (unsigned)(WF_STREAM_BUFFER - s->tail));
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
    weft_stream_t *s = st->data;
    (void)b;
    if (n == 0) return; /* EAGAIN */
    if (n > 0) {
        s->tail += (size_t)n;
        if (s->tail - s->head < WF_STREAM_BUFFER) {
            if (s->reader) wf_wait_claim(s->reader, 0);
            return;
        }
    } else if (n == UV_EOF) {
        s->eof = 1;
    } else {
        s->read_error = (int)n;
    }
    uv_read_stop(st); /* full, at the end, or failed */
    s->reading = 0;
    if (s->reader) wf_wait_claim(s->reader, 0);
}

/* What a receive can return now without waiting; WEFT_EAGAIN if nothing. */
static int take_buffered(weft_stream_t *s, void *buf, size_t len) {
    size_t avail = s->tail - s->head;
    if (avail) {
        size_t n = avail < len ? avail : len;
        memcpy(buf, s->buf + s->head, n);
        s->head += n;
        return (int)n;
    }
    if (s->read_error) return s->read_error;
    if (s->eof) return WEFT_EOF;
    return WEFT_EAGAIN;
}

static int start_reading(weft_stream_t *s) {
    if (s->reading || s->eof || s->read_error) return 0;
    int rc = uv_read_start(&s->h.stream, on_alloc, on_read);
    if (rc == 0) s->reading = 1;
    return rc;
}

int weft_stream_receive(weft_stream_t *s, void *buf, size_t len) {
    wf_task_t *t;
    if (!buf || len == 0) return WEFT_EINVAL;
    if (len > INT32_MAX) len = INT32_MAX;
    int rc = enter(s, &t);
    if (rc) return rc;
    if (s->reader) return leave(s, -EBUSY);
    for (;;) {
        rc = take_buffered(s, buf, len);
        if (rc != WEFT_EAGAIN) break;
        if ((rc = start_reading(s)) != 0) break;
        if ((rc = wf_io_wait(&s->life, t, &s->reader)) != 0) break;
        if (s->life.closed) {
            rc = WEFT_EBADF;
            break;
        }
    }
    start_reading(s); /* room again: resume a paused read */
    leave(s, rc);
    if (rc > 0) wf_sync_after_fast(t); /* after leave: a yield may move us */
    return rc;
}

/* ---------------------------------------------------------------- send */

typedef struct wf_write {
    uv_write_t req;
    uv_shutdown_t shutdown;
    weft_stream_t *stream;
    wf_task_t *waiter;      /* NULL once the task stopped waiting */
    char data[];
} wf_write_t;

static void write_done(wf_write_t *w, int status) {
    if (w->waiter) {
        w->stream->write = NULL;
        wf_wait_claim(w->waiter, status);
    }
    wf_free(w);
}

static void on_write(uv_write_t *req, int status) {
    write_done(WF_CONTAINER_OF(req, wf_write_t, req), status);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
    write_done(WF_CONTAINER_OF(req, wf_write_t, shutdown), status);
}

/* Wait for the pending request w; on cancellation it goes on alone (it owns
 * its copy of the bytes) and frees itself. */
static int wait_write(weft_stream_t *s, wf_task_t *t, wf_write_t *w) {
    w->waiter = t;
    s->write = w;
    int rc = wf_io_wait(&s->life, t, &s->writer);
    if (s->write == w) { /* not completed: cancelled or closed */
        w->waiter = NULL;
        s->write = NULL;
    }
    return rc;
}

int weft_stream_send(weft_stream_t *s, const void *buf, size_t len) {
    wf_task_t *t;
    if (!buf && len) return WEFT_EINVAL;
    int rc = enter(s, &t);
    if (rc) return rc;
    if (s->writer) return leave(s, -EBUSY);
    const char *p = buf;
    /* Most sends fit in the socket buffer: no copy, no request. */
    while (len) {
        uv_buf_t b = uv_buf_init((char *)p, len > INT32_MAX ? INT32_MAX : (unsigned)len);
        int n = uv_try_write(&s->h.stream, &b, 1);
        if (n == UV_EAGAIN || n == UV_ENOSYS) break;
        if (n < 0) return leave(s, n);
        p += n;
        len -= (size_t)n;
    }
    if (len) {
        wf_write_t *w = wf_alloc(sizeof *w + len);
        if (!w) return leave(s, WEFT_ENOMEM);
        memset(w, 0, sizeof *w);
        w->stream = s;
        memcpy(w->data, p, len);
        uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
        if ((rc = uv_write(&w->req, &s->h.stream, &b, 1, on_write)) != 0) {
            wf_free(w);
            return leave(s, rc);
        }
        return leave(s, wait_write(s, t, w));
    }
    leave(s, 0);
    wf_sync_after_fast(t); /* after leave: a yield may move us */
    return 0;
}

int weft_stream_send_eof(weft_stream_t *s) {
    wf_task_t *t;
    int rc = enter(s, &t);
    if (rc) return rc;
    if (s->writer) return leave(s, -EBUSY);
    wf_write_t *w = wf_calloc(1, sizeof *w);
    if (!w) return leave(s, WEFT_ENOMEM);
    w->stream = s;
    if ((rc = uv_shutdown(&w->shutdown, &s->h.stream, on_shutdown)) != 0) {
        wf_free(w);
        return leave(s, rc);
    }
    return leave(s, wait_write(s, t, w));
}

/* ---------------------------------------------------------------- close, addresses, options */

int weft_stream_close(weft_stream_t *s) {
    if (!s) return WEFT_EINVAL;
    int rc = wf_io_visit(&s->life);
    if (rc) return rc;
    wf_stream_shut(s);
    return 0;
}

static int address(weft_stream_t *s, struct sockaddr *addr, int *len, int peer) {
    if (!s || !addr || !len) return WEFT_EINVAL;
    int rc = wf_io_visit(&s->life);
    if (rc) return rc;
    if (s->is_tcp)
        return peer ? uv_tcp_getpeername(&s->h.tcp, addr, len)
                    : uv_tcp_getsockname(&s->h.tcp, addr, len);
    /* A Unix stream's address is a path: libuv gives the path alone (it
     * never writes more than the room given, NUL included). */
    size_t off = offsetof(struct sockaddr_un, sun_path);
    if (*len <= (int)off) return UV_ENOBUFS;
    size_t n = (size_t)*len - off;
    rc = peer ? uv_pipe_getpeername(&s->h.pipe, ((struct sockaddr_un *)addr)->sun_path, &n)
                  : uv_pipe_getsockname(&s->h.pipe, ((struct sockaddr_un *)addr)->sun_path, &n);
    if (rc == 0) {
        addr->sa_family = AF_UNIX;
        *len = (int)(off + n);
    }
    return rc;
}

int weft_stream_local_address(weft_stream_t *s, struct sockaddr *addr, int *len) {
    return address(s, addr, len, 0);
}

int weft_stream_remote_address(weft_stream_t *s, struct sockaddr *addr, int *len) {
    return address(s, addr, len, 1);
}

static int tcp_option(weft_stream_t *s, int keepalive, int on, unsigned delay) {
    if (!s) return WEFT_EINVAL;
    int rc = wf_io_visit(&s->life);
    if (rc) return rc;
    if (!s->is_tcp) return WEFT_EINVAL;
    return keepalive ? uv_tcp_keepalive(&s->h.tcp, on, delay) : uv_tcp_nodelay(&s->h.tcp, on);
}

int weft_stream_set_nodelay(weft_stream_t *s, int on) { return tcp_option(s, 0, on, 0); }

int weft_stream_set_keepalive(weft_stream_t *s, int on, unsigned delay_seconds) {
    return tcp_option(s, 1, on, delay_seconds);
}
