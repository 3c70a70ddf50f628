/*
 * The libuv kind of byte stream (stream.h): a uv_stream_t, TCP or pipe
 * (Unix sockets, the pipes of subprocesses, adopted descriptors).
 *
 * Reading: while a receive needs bytes, libuv reads into the room the shared
 * part hands out (wf_stream_room), and the read callback wakes the receive
 * once it can go on; reading pauses while the buffer is full and resumes
 * after the next receive.  A hang-up watch (stream.c) starts reading ahead
 * before any receive; the read callback reports the end to it.  Sending: uv_try_write first (most sends fit in
 * the socket buffer: no copy, no request), then a request that owns a copy
 * of the rest, so that a cancelled send leaves libuv nothing of the
 * caller's.  Addresses and TCP options are calls on the handle.
 */
#include <string.h>
#include <sys/un.h>

#include "io/place.h"
#include "io/stream.h"
#include "sched/waitq.h"

static const wf_stream_ops_t uv_ops;

/* ---------------------------------------------------------------- life */

static void release(wf_io_life_t *o) {
    weft_stream_t *s = WF_CONTAINER_OF(o, weft_stream_t, life);
    if (s->placed) wf_io_unplace(o->owner);
    wf_stream_fini(s);
    wf_free(s);
}

weft_stream_t *wf_stream_new(int is_tcp, int placed, int *rc) {
    weft_stream_t *s = wf_calloc(1, sizeof *s);
    if (!s || (*rc = wf_stream_init(s, &uv_ops)) != 0) {
        if (s) wf_stream_fini(s);
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

int wf_stream_has_handle(const weft_stream_t *s) { return s->ops == &uv_ops; }

static void on_closed(uv_handle_t *h) {
    weft_stream_t *s = h->data;
    wf_io_handle_closed(&s->life);
}

static void handle_shut(weft_stream_t *s) {
    if (s->reader) wf_wait_claim(s->reader, WEFT_EBADF);
    if (s->writer) wf_wait_claim(s->writer, WEFT_EBADF);
    /* A pending write or shutdown request completes with UV_ECANCELED. */
    uv_close(&s->h.handle, on_closed);
}

/* ---------------------------------------------------------------- receive */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *out) {
    weft_stream_t *s = h->data;
    size_t len;
    char *room = wf_stream_room(s, &len);
    (void)suggested;
    *out = uv_buf_init(room, len > INT32_MAX ? INT32_MAX : (unsigned)len);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
    weft_stream_t *s = st->data;
    (void)b;
    if (n == 0) return; /* EAGAIN */
    if (n > 0) {
        int wake = wf_stream_filled(s, (size_t)n);
        if (!wf_stream_full(s)) {
            if (wake && s->reader) wf_wait_claim(s->reader, 0);
            return;
        }
        s->paused = 1;
    } else if (n == UV_EOF) {
        s->eof = 1;
    } else {
        s->read_error = (int)n;
    }
    uv_read_stop(st); /* full, at the end, or failed */
    s->reading = 0;
    if (s->reader) wf_wait_claim(s->reader, 0);
    if (s->eof || s->read_error) wf_stream_ended(s);
}

static int start_reading(weft_stream_t *s) {
    if (s->reading || s->eof || s->read_error || wf_stream_full(s)) return 0;
    s->paused = 0;
    int rc = uv_read_start(&s->h.stream, on_alloc, on_read);
    if (rc == 0) s->reading = 1;
    return rc;
}

static int handle_fill(weft_stream_t *s, wf_task_t *t) {
    int rc = start_reading(s);
    return rc ? rc : wf_io_wait(&s->life, t, &s->reader);
}

static void handle_resume(weft_stream_t *s) { start_reading(s); }

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

static int handle_send(weft_stream_t *s, wf_task_t *t, const void *buf, size_t len) {
    const char *p = buf;
    /* Most sends fit in the socket buffer: no copy, no request. */
    while (len) {
        uv_buf_t b = uv_buf_init((char *)p, len > INT32_MAX ? INT32_MAX : (unsigned)len);
        int n = uv_try_write(&s->h.stream, &b, 1);
        if (n == UV_EAGAIN || n == UV_ENOSYS) break;
        if (n < 0) return n;
        p += n;
        len -= (size_t)n;
    }
    if (!len) return 0;
    wf_write_t *w = wf_alloc(sizeof *w + len);
    if (!w) return WEFT_ENOMEM;
    memset(w, 0, sizeof *w);
    w->stream = s;
    memcpy(w->data, p, len);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
    int rc = uv_write(&w->req, &s->h.stream, &b, 1, on_write);
    if (rc) {
        wf_free(w);
        return rc;
    }
    return wait_write(s, t, w);
}

static int handle_send_eof(weft_stream_t *s, wf_task_t *t) {
    wf_write_t *w = wf_calloc(1, sizeof *w);
    if (!w) return WEFT_ENOMEM;
    w->stream = s;
    int rc = uv_shutdown(&w->shutdown, &s->h.stream, on_shutdown);
    if (rc) {
        wf_free(w);
        return rc;
    }
    return wait_write(s, t, w);
}

static const wf_stream_ops_t uv_ops = {handle_fill, handle_resume, handle_send, handle_send_eof,
                                       handle_shut};

/* ---------------------------------------------------------------- addresses, options */

/* On the owner, for a stream with a handle (a kind that wraps another
 * stream has none of its own: WEFT_EINVAL). */
static int visit_handle(weft_stream_t *s) {
    if (!s) return WEFT_EINVAL;
    int rc = wf_io_visit(&s->life);
    return rc ? rc : wf_stream_has_handle(s) ? 0 : WEFT_EINVAL;
}

static int address(weft_stream_t *s, struct sockaddr *addr, int *len, int peer) {
    if (!addr || !len) return WEFT_EINVAL;
    int rc = visit_handle(s);
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
    int rc = visit_handle(s);
    if (rc) return rc;
    if (!s->is_tcp) return WEFT_EINVAL;
    return keepalive ? uv_tcp_keepalive(&s->h.tcp, on, delay) : uv_tcp_nodelay(&s->h.tcp, on);
}

int weft_stream_set_nodelay(weft_stream_t *s, int on) { return tcp_option(s, 0, on, 0); }

int weft_stream_set_keepalive(weft_stream_t *s, int on, unsigned delay_seconds) {
    return tcp_option(s, 1, on, delay_seconds);
}
