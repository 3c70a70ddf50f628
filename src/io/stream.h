/*
 * Byte streams: one receive buffer, and every receive built on it, over
 * whatever produces the bytes.
 *
 * A stream is a kind (its operations, wf_stream_ops_t) plus what every kind
 * shares: the life of life.h, the receive buffer with the end the bytes
 * reached, and the tasks inside a receive and a send.  stream.c has the
 * public calls; they check, count and buffer, and ask the kind only for what
 * it alone can do: get more bytes into the buffer, send, half-close, close.
 * The kinds: libuv's uv_stream_t (uv_stream.c: TCP and Unix sockets,
 * pipes, adopted descriptors) and TLS (tls.c), which wraps a stream of the
 * libuv kind: it takes that stream over (wf_stream_take) and fills its own
 * buffer with what it decrypts from the wrapped stream's buffer.
 *
 * Reading never stops at the caller's buffer: bytes land in the stream's own
 * buffer (WF_STREAM_BUFFER bytes, grown while a receive_until needs more)
 * and receives copy out of it, so a receive cancelled after bytes arrived
 * loses nothing.  The one exception, a receive_exactly larger than the
 * buffer, reads straight into its caller's buffer with room reserved in the
 * stream's to give every byte back if it does not complete (stream.c).
 *
 * A stream belongs to the worker whose loop its handle is on, and lives and
 * is freed as life.h says; a process holds a user count on each of its pipes.
 */
#ifndef WEFT_IO_STREAM_H
#define WEFT_IO_STREAM_H

#include <uv.h>

#include "io/life.h"

#define WF_STREAM_BUFFER (64u * 1024u)

/* What a kind of stream does; every one runs on the owner, inside a call
 * of the running task t. */
typedef struct wf_stream_ops {
    /* Get more bytes into the buffer (wf_stream_room, then wf_stream_filled)
     * or reach the end (set eof or read_error), waiting (cancellably) if
     * none are there yet: 0 once something changed, or the error that ends
     * this receive (WEFT_ECANCELED, WEFT_EBADF, ...). */
    int (*fill)(weft_stream_t *s, wf_task_t *t);
    /* A receive ended with `paused` set: the kind, which stopped reading
     * ahead on a full buffer, goes on (clearing `paused`).  Also called to
     * start reading ahead with no receive waiting (a hang-up watch): a
     * kind that reads only on demand starts, and stops when full. */
    void (*resume)(weft_stream_t *s);
    /* Send every byte of buf (the caller may reuse it when this returns).
     * The libuv kind returns WEFT_ECANCELED only after every byte was
     * handed to libuv (its request goes on alone), which the TLS kind relies
     * on: a cancelled send never cuts a record short. */
    int (*send)(weft_stream_t *s, wf_task_t *t, const void *buf, size_t len);
    int (*send_eof)(weft_stream_t *s, wf_task_t *t);
    /* The stream is closed: wake the tasks waiting in the kind with
     * WEFT_EBADF and let go of what it holds (life.h frees the stream). */
    void (*shut)(weft_stream_t *s);
} wf_stream_ops_t;

struct weft_stream_t {
    wf_io_life_t life;     /* first: see life.h */
    const wf_stream_ops_t *ops;
    /* Receiving: [head, tail) of buf's cap bytes are unread; reading stops
     * at `limit` of them (WF_STREAM_BUFFER, more for a receive_until). */
    char *buf;
    size_t head, tail, cap, limit;
    size_t want;           /* the waiting receive can go on with this many */
    int eof;               /* the peer sent EOF (after the buffered bytes) */
    int read_error;        /* a read failed: reported once the buffer drained */
    int paused;            /* the kind stopped on a full buffer (ops->resume) */
    /* A receive_exactly larger than the buffer (stream.c): the caller's
     * buffer, its size, and how much of it is filled. */
    char *direct;
    size_t direct_len, direct_got;
    int room_direct;       /* the room handed out last is in `direct` */
    wf_task_t *receiver;   /* the task inside a receive (-EBUSY to others) */
    wf_task_t *sender;     /* the task inside a send or send_eof */
    weft_scope_t *hangup;  /* cancelled when the peer hangs up (stream.c) */
    /* The TLS stream that took this one over (wf_stream_take), while it is
     * open: closing this one closes it. */
    weft_stream_t *wrapper;

    /* The libuv kind (uv_stream.c). */
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } h;
    int is_tcp;
    int placed;            /* counted in its owner's io_load (place.h) */
    int reading;           /* uv_read_start is active */
    wf_task_t *reader;     /* waiting for a read callback */
    wf_task_t *writer;     /* waiting for its pending request */
    struct wf_write *write; /* that request */
};

/* ---------------------------------------------------------------- for kinds (stream.c) */

/* Set up the shared part (the buffer); WEFT_ENOMEM. */
int wf_stream_init(weft_stream_t *s, const wf_stream_ops_t *ops);
/* Free the shared part (from the kind's release). */
void wf_stream_fini(weft_stream_t *s);
/* Where the next bytes go, and how many fit (never 0 unless full). */
char *wf_stream_room(weft_stream_t *s, size_t *len);
/* n bytes arrived where wf_stream_room said: 1 when the waiting receive may
 * now go on (the kind wakes it). */
int wf_stream_filled(weft_stream_t *s, size_t n);
/* The kind set eof or read_error: a hang-up watch cancels its scope. */
void wf_stream_ended(weft_stream_t *s);
/* No room left: the kind stops reading and sets `paused` until `resume`. */
int wf_stream_full(const weft_stream_t *s);
/* Close: mark it closed, then the kind's shut. */
void wf_stream_shut(weft_stream_t *s);

/* ---------------------------------------------------------------- for a kind that wraps another (stream.c) */

/* `wrapper` takes `plain` over, on plain's owner: from now on plain's own
 * receives and sends return -EBUSY (its slots stay taken), closing it closes
 * the wrapper, and the wrapper holds it (a user) until wf_stream_untake.
 * -EBUSY when a task is inside a receive or send on it or it was taken
 * already. */
int wf_stream_take(weft_stream_t *plain, weft_stream_t *wrapper);
/* The wrapper lets go of plain (from its release; plain was shut). */
void wf_stream_untake(weft_stream_t *plain);
/* The bytes buffered and not yet taken: where they start, *len of them. */
const char *wf_stream_pending(const weft_stream_t *s, size_t *len);
/* Take n of them (then wf_stream_tidy once done taking). */
void wf_stream_consume(weft_stream_t *s, size_t n);
/* After taking bytes: a kind that paused on a full buffer goes on. */
void wf_stream_tidy(weft_stream_t *s);
/* 1 once nothing more will arrive (EOF or a read error, in s->read_error). */
int wf_stream_at_end(const weft_stream_t *s);
/* Wait (cancellably) until more bytes than now are pending or the stream
 * ended: 0 (at once when it already ended), or WEFT_ECANCELED, WEFT_EBADF. */
int wf_stream_fill_more(weft_stream_t *s, wf_task_t *t);

/* ---------------------------------------------------------------- the libuv kind (uv_stream.c) */

/* A new stream with its TCP or pipe handle initialised on the calling
 * worker's loop; NULL with *rc set on failure.  With `placed`, a connection
 * placed on this worker (place.h): the stream takes over its count, which
 * its release gives back (or this call, when it fails). */
weft_stream_t *wf_stream_new(int is_tcp, int placed, int *rc);
/* 1 for a stream of the libuv kind (it has a handle: addresses, options). */
int wf_stream_has_handle(const weft_stream_t *s);

/* A stream for a connected socket or pipe fd on the loop of the worker it
 * was placed on (place.h), where the calling task moves.  On failure the fd
 * is closed and the placement undone. */
int wf_stream_from_fd(int fd, int is_tcp, wf_worker_t *placed, weft_stream_t **out);
/* A listener on the listening socket fd (listen.c): it owns fd from here,
 * closed on failure too. */
int wf_listener_adopt(weft_listener_t **out, int fd, int is_tcp);
/* Wait for a connection on l and take its descriptor (listen.c). */
int wf_listener_accept_fd(weft_listener_t *l, int *fd, int *is_tcp);

#endif
