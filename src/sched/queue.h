/*
 * Run queues.
 *
 * Each worker owns a bounded ring (after Tokio's local queue): only the owner
 * pushes (tail) and pops (head); any other worker may steal half of it.  The
 * head word packs two indices, `steal` and `real`: a thief first advances
 * `real` to claim its batch, copies, then brings `steal` up to `real`.  While
 * the two differ the owner treats the slots between them as still occupied,
 * so a slow thief never reads a slot the owner has reused.
 *
 * The injection queue is a locked list for work that comes from outside a
 * worker (foreign threads, overflow of a full ring).
 */
#ifndef WEFT_SCHED_QUEUE_H
#define WEFT_SCHED_QUEUE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct wf_task;

#define WF_LOCAL_QUEUE_CAP 256u

typedef struct wf_inject {
    pthread_mutex_t lock;
    struct wf_task *head, *tail;
    atomic_size_t len;
} wf_inject_t;

typedef struct wf_local_queue {
    _Atomic uint64_t head;   /* steal << 32 | real */
    _Atomic uint32_t tail;   /* written by the owner only */
    struct wf_task *_Atomic buf[WF_LOCAL_QUEUE_CAP];
} wf_local_queue_t;

void wf_inject_init(wf_inject_t *q);
void wf_inject_destroy(wf_inject_t *q);
void wf_inject_push(wf_inject_t *q, struct wf_task *t);
struct wf_task *wf_inject_pop(wf_inject_t *q);
static inline int wf_inject_empty(wf_inject_t *q) {
    return atomic_load_explicit(&q->len, memory_order_acquire) == 0;
}

void wf_lq_init(wf_local_queue_t *q);
/* Owner: append; when full, half of the ring and `t` move to `overflow`. */
void wf_lq_push(wf_local_queue_t *q, struct wf_task *t, wf_inject_t *overflow);
/* Owner: take the oldest task, or NULL. */
struct wf_task *wf_lq_pop(wf_local_queue_t *q);
/* Any thread: move half of `src` into `dst` (owned by the caller) and return
 * one of the stolen tasks, or NULL. */
struct wf_task *wf_lq_steal_into(wf_local_queue_t *src, wf_local_queue_t *dst);
/* Approximate number of queued tasks (exact for the owner). */
unsigned wf_lq_len(wf_local_queue_t *q);

#endif
