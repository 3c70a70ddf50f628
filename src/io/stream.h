/*
 * Byte streams over libuv's uv_stream_t (TCP and Unix sockets).
 *
 * A stream belongs to the worker whose loop its handle is on (its owner).
 * Everything that touches the handle or the fields below runs on the owner's
 * thread: libuv's callbacks by construction, and tasks because every
 * operation first moves the task there (wf_task_move_to).  So the fields
 * need no lock; only claiming a waiting task's wait crosses threads, and that
 * is the wait/wake protocol's job.
 *
 * Reading never stops at the caller's buffer: libuv reads into the stream's
 * own buffer and receive copies out of it, so a receive cancelled after
 * bytes arrived loses nothing (they wait for the next receive).  Reading
 * pauses while that buffer is full.
 *
 * A stream is freed when it is closed, libuv has closed its handle and no
 * task is inside an operation on it (`users`), in whichever order those
 * happen.
 */
#ifndef WEFT_IO_STREAM_H
#define WEFT_IO_STREAM_H

#include <uv.h>

#include "runtime.h"

#define WF_STREAM_BUFFER (64u * 1024u)

struct weft_stream_t {
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } h;
    wf_worker_t *owner;
    int is_tcp;
    int closed;            /* weft_stream_close was called */
    int handle_closed;     /* libuv's close callback ran */
    unsigned users;        /* tasks inside an operation */
    /* Receiving. */
    char *buf;             /* WF_STREAM_BUFFER bytes; [head, tail) unread */
    size_t head, tail;
    int reading;           /* uv_read_start is active */
    int eof;               /* the peer sent EOF (after the buffered bytes) */
    int read_error;        /* a read failed: reported once the buffer drained */
    wf_task_t *reader;     /* the task waiting in receive */
    /* Sending. */
    wf_task_t *writer;     /* the task waiting in send or send_eof */
    struct wf_write *write; /* its pending request */
};

/* A new stream on the calling worker's loop (the handle is the caller's to
 * initialise: uv_tcp_init / uv_pipe_init on s->owner->loop). */
weft_stream_t *wf_stream_alloc(void);
/* Free a stream whose handle was never initialised. */
void wf_stream_free_unused(weft_stream_t *s);
/* Close: wake waiting tasks with WEFT_EBADF, close the handle. */
void wf_stream_shut(weft_stream_t *s);
/* Drop one of `users` (on the owner); frees the stream if it was the last
 * thing keeping a closed one alive. */
void wf_stream_unref(weft_stream_t *s);

/* A stream for a connected socket, on the calling worker's loop (the fd is
 * closed on failure). */
int wf_stream_from_fd(int fd, int is_tcp, weft_stream_t **out);
/* Wait for a connection on l and take its descriptor (listen.c). */
int wf_listener_accept_fd(weft_listener_t *l, int *fd, int *is_tcp);

/* Enter an operation on an object owned by `owner` as task `t`: move there,
 * report cancellation (the checkpoint).  0, WEFT_ECANCELED, WEFT_EPERM. */
int wf_io_enter(wf_task_t **t, wf_worker_t *owner);

#endif
