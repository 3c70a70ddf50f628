/*
 * The life of an I/O object: a stream, UDP socket, listener, signal receiver
 * or process.  Each embeds one wf_io_life_t as its first member.
 *
 * An object belongs to the worker whose loop its handles are on (its owner).
 * libuv runs the handles' callbacks on that thread, and every call moves its
 * task there first, so the object needs no lock; only claiming a waiting
 * task's wait crosses threads, and that is the wait/wake protocol's job.
 *
 * The object is freed once three things have happened, in whichever order:
 * it was closed, libuv has closed every handle it initialised, and no task
 * is inside a call on it.  Before that a woken task or a callback libuv still
 * owes may look at it, so neither a close nor a callback frees it alone.
 */
#ifndef WEFT_IO_LIFE_H
#define WEFT_IO_LIFE_H

#include "sched/runtime.h"

typedef struct wf_io_life wf_io_life_t;

struct wf_io_life {
    wf_worker_t *owner;
    int closed;             /* closed by its user, or never fully opened */
    unsigned open_handles;  /* initialised and not yet closed by libuv */
    unsigned users;         /* tasks inside a call, and other holders */
    void (*release)(wf_io_life_t *); /* frees the object */
};

/* A new object's life, owned by the calling worker. */
void wf_io_life_init(wf_io_life_t *o, void (*release)(wf_io_life_t *));

/* Enter a call as the current task: move to the owner; with `checkpoint`,
 * report a cancellation; refuse a closed object; count a user.  0,
 * WEFT_ECANCELED, WEFT_EPERM or WEFT_EBADF (nothing counted then). */
int wf_io_begin(wf_io_life_t *o, wf_task_t **t, int checkpoint);

/* Leave a call (or drop another holder): returns rc.  The object may be
 * freed here, so nothing of it may be touched after. */
int wf_io_end(wf_io_life_t *o, int rc);

/* Move the current task to the owner for a call that neither waits nor
 * counts as a user (close, addresses, options).  0, WEFT_EPERM, WEFT_EBADF. */
int wf_io_visit(wf_io_life_t *o);

/* Park `t` as *slot until a callback or a close claims it or it is
 * cancelled; back on the owner when it returns, with *slot cleared. */
int wf_io_wait(wf_io_life_t *o, wf_task_t *t, wf_task_t **slot);

/* libuv closed one of the object's handles (from its close callback). */
void wf_io_handle_closed(wf_io_life_t *o);

/* Free the object if it is closed and nothing holds it any more. */
void wf_io_maybe_free(wf_io_life_t *o);

/* The runtime is ending (src/runtime.c, a uv_walk callback over each
 * worker's loop): close a handle its program left open, as closing its
 * object would, so that the loop can end. */
void wf_io_close_leftover(uv_handle_t *h, void *arg);
/* A signal receiver's handle: its signals' dispositions come back too. */
void wf_signal_close_leftover(uv_signal_t *h);

#endif
