/* Part of weft.h: include <weft.h>, not this file.
 *
 * Memory object streams (AnyIO's create_memory_object_stream): a channel of
 * `void *` items with a send side and a receive side, each of which can be
 * cloned.  Items are the caller's: weft never frees or dereferences them.
 *
 *   - max_buffer_size 0 is a rendezvous: weft_send completes only when a
 *     receiver takes the item.  Otherwise up to max_buffer_size items wait in
 *     the channel.
 *   - The buffer is not reserved up front: it starts at a few items and
 *     doubles whenever a send finds it full below max_buffer_size, and keeps
 *     its size until the channel is freed.  So any max_buffer_size is fine
 *     (SIZE_MAX is as good as unbounded, AnyIO's math.inf) and costs only the
 *     items that wait.  A send that finds the buffer full below
 *     max_buffer_size and cannot get the memory to grow it returns
 *     WEFT_ENOMEM at once (it does not wait for a receiver to make room): the
 *     item was not delivered, and a later send tries to grow it again.
 *   - Waiting senders and receivers are served first come, first served.
 *   - Receivers get WEFT_EOF once every sender handle is closed and the
 *     buffer is empty; senders get WEFT_EPIPE once every receiver handle is
 *     closed.  Items still buffered at that moment are dropped, as in
 *     AnyIO; a channel made with weft_channel_open and an on_drop callback
 *     hands each of them to it, so that heap items are not leaked.
 *   - A send that returns an error did not deliver the item (the caller still
 *     owns it); a receive that returns an error stored nothing.  A cancelled
 *     send or receive delivers / takes nothing; one that already delivered /
 *     took its item returns 0 even if cancelled at that moment.
 *   - weft_sender_close / weft_receiver_close close and free one handle; a
 *     task blocked on that same handle wakes with WEFT_EBADF, and the handle's
 *     memory is released once no such task uses it any more.  After close
 *     returns the caller must not pass the handle again (a call racing with
 *     the close gets WEFT_EBADF while other tasks still use the handle;
 *     afterwards the pointer is dangling).  The channel is freed with its
 *     last handle.
 *   - A send or receive that completes at once does not suspend the task,
 *     except once every few such calls on the same worker (a cooperative
 *     budget, so a busy producer cannot starve its worker's other tasks).
 */
#ifndef WEFT_CHANNEL_H
#define WEFT_CHANNEL_H

#include "../weft.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_sender_t weft_sender_t;
typedef struct weft_receiver_t weft_receiver_t;

typedef struct weft_channel_stats_t {
    size_t current_buffer_used, max_buffer_size, open_send_streams, open_receive_streams,
        tasks_waiting_send, tasks_waiting_receive;
} weft_channel_stats_t;

/* Create a channel and its first sender and receiver.  WEFT_EINVAL (tx or rx
 * NULL), WEFT_ENOMEM. */
WEFT_EXTERN int weft_channel(size_t max_buffer_size, weft_sender_t **tx, weft_receiver_t **rx);

/* Options of weft_channel_open.  Versioned like weft_config_t: set them up
 * with weft_channel_opts_init (opts_size 0 stands for this layout). */
typedef struct weft_channel_opts_t {
    size_t opts_size;
    /* Called once for each item the channel drops (those still buffered
     * when the last receiver handle closes), in the order they were sent,
     * on the thread that closes that handle, outside the channel's lock,
     * with drop_arg.  It may free the item; it must not wait. */
    void (*on_drop)(void *item, void *drop_arg);
    void *drop_arg;
} weft_channel_opts_t;

/* Zero *o (no callback) and set o->opts_size. */
WEFT_EXTERN void weft_channel_opts_init(weft_channel_opts_t *o);
/* weft_channel with options (NULL: none).  WEFT_EINVAL also for an
 * opts_size larger than this library's struct (a newer header). */
WEFT_EXTERN int weft_channel_open(size_t max_buffer_size, const weft_channel_opts_t *opts,
                                  weft_sender_t **tx, weft_receiver_t **rx);
/* [fiber][checkpoint] Send `item`, waiting while the buffer is full (or, for a
 * rendezvous, until a receiver takes it).  WEFT_EPIPE, WEFT_EBADF,
 * WEFT_ECANCELED, WEFT_ENOMEM (the buffer could not grow, see above). */
WEFT_EXTERN int weft_send(weft_sender_t *tx, void *item);
/* Send without waiting: WEFT_EAGAIN when it would block.  From any task or
 * thread.  WEFT_EPIPE, WEFT_EBADF, WEFT_ENOMEM. */
WEFT_EXTERN int weft_send_nowait(weft_sender_t *tx, void *item);
/* [fiber][checkpoint] Receive into *item, waiting while there is none.
 * WEFT_EOF at the end of the stream, WEFT_EBADF, WEFT_ECANCELED. */
WEFT_EXTERN int weft_recv(weft_receiver_t *rx, void **item);
/* Receive without waiting: WEFT_EAGAIN when none is ready.  From any task or
 * thread.  WEFT_EOF, WEFT_EBADF. */
WEFT_EXTERN int weft_recv_nowait(weft_receiver_t *rx, void **item);
/* A new handle on the same side of the same channel.  WEFT_EBADF if `tx` /
 * `rx` is closed, WEFT_EINVAL, WEFT_ENOMEM. */
WEFT_EXTERN int weft_sender_clone(weft_sender_t *tx, weft_sender_t **out);
WEFT_EXTERN int weft_receiver_clone(weft_receiver_t *rx, weft_receiver_t **out);
/* Close and free this handle (see above).  NULL does nothing. */
WEFT_EXTERN void weft_sender_close(weft_sender_t *tx);
WEFT_EXTERN void weft_receiver_close(weft_receiver_t *rx);
/* Statistics of the channel; zeroes for NULL. */
WEFT_EXTERN void weft_sender_stats(const weft_sender_t *tx, weft_channel_stats_t *out);
WEFT_EXTERN void weft_receiver_stats(const weft_receiver_t *rx, weft_channel_stats_t *out);

#ifdef __cplusplus
}
#endif

#endif
