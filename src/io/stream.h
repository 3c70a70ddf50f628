/*
 * Byte streams over libuv's uv_stream_t (TCP and Unix sockets).
 *
 * A stream belongs to the worker whose loop its handle is on, and lives and
 * is freed as life.h says; a process holds a user count on each of its pipes.
 *
 * Reading never stops at the caller's buffer: libuv reads into the stream's
 * own buffer and receive copies out of it, so a receive cancelled after
 * bytes arrived loses nothing (they wait for the next receive).  Reading
 * pauses while that buffer is full.
 */
#ifndef WEFT_IO_STREAM_H
#define WEFT_IO_STREAM_H

#include <uv.h>

#include "io/life.h"

#define WF_STREAM_BUFFER (64u * 1024u)

struct weft_stream_t {
    wf_io_life_t life;     /* first: see life.h */
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } h;
    int is_tcp;
    int placed;            /* counted in its owner's io_load (place.h) */
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

/* A new stream with its TCP or pipe handle initialised on the calling
 * worker's loop; NULL with *rc set on failure.  With `placed`, a connection
 * placed on this worker (place.h): the stream takes over its count, which
 * its release gives back (or this call, when it fails). */
weft_stream_t *wf_stream_new(int is_tcp, int placed, int *rc);
/* Close: wake waiting tasks with WEFT_EBADF, close the handle. */
void wf_stream_shut(weft_stream_t *s);

/* A stream for an accepted socket on the loop of the worker it was placed
 * on (place.h), where the calling task moves.  On failure the fd is closed
 * and the placement undone. */
int wf_stream_from_fd(int fd, int is_tcp, wf_worker_t *placed, weft_stream_t **out);
/* Wait for a connection on l and take its descriptor (listen.c). */
int wf_listener_accept_fd(weft_listener_t *l, int *fd, int *is_tcp);

#endif
