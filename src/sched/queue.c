#include "sched/queue.h"

#include "sched/task.h"

#define MASK (WF_LOCAL_QUEUE_CAP - 1)

static inline uint64_t pack(uint32_t steal, uint32_t real) { return (uint64_t)steal << 32 | real; }
static inline uint32_t steal_of(uint64_t h) { return (uint32_t)(h >> 32); }
static inline uint32_t real_of(uint64_t h) { return (uint32_t)h; }

/* ---------------------------------------------------------------- inject */

void wf_inject_init(wf_inject_t *q) {
    pthread_mutex_init(&q->lock, NULL);
    q->head = q->tail = NULL;
    atomic_init(&q->len, 0);
}

void wf_inject_destroy(wf_inject_t *q) { pthread_mutex_destroy(&q->lock); }

static void inject_push_batch(wf_inject_t *q, struct wf_task *first, struct wf_task *last, size_t n) {
    last->queue_next = NULL;
    pthread_mutex_lock(&q->lock);
    if (q->tail) q->tail->queue_next = first;
    else q->head = first;
    q->tail = last;
    atomic_fetch_add_explicit(&q->len, n, memory_order_release);
    pthread_mutex_unlock(&q->lock);
}

void wf_inject_push(wf_inject_t *q, struct wf_task *t) { inject_push_batch(q, t, t, 1); }

struct wf_task *wf_inject_pop(wf_inject_t *q) {
    if (wf_inject_empty(q)) return NULL;
    pthread_mutex_lock(&q->lock);
    struct wf_task *t = q->head;
    if (t) {
        q->head = t->queue_next;
        if (!q->head) q->tail = NULL;
        atomic_fetch_sub_explicit(&q->len, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&q->lock);
    return t;
}

/* ---------------------------------------------------------------- local ring */

void wf_lq_init(wf_local_queue_t *q) {
    atomic_init(&q->head, 0);
    atomic_init(&q->tail, 0);
    for (unsigned i = 0; i < WF_LOCAL_QUEUE_CAP; i++) atomic_init(&q->buf[i], NULL);
}

unsigned wf_lq_len(wf_local_queue_t *q) {
    uint64_t h = atomic_load_explicit(&q->head, memory_order_acquire);
    uint32_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
    return t - steal_of(h);
}

/* The ring is full and no thief is active: move half of it plus `t` to the
 * injection queue in one batch.  Fails (returns 0) if a thief got in first. */
static int push_overflow(wf_local_queue_t *q, struct wf_task *t, uint32_t head,
                         wf_inject_t *overflow) {
    const uint32_t n = WF_LOCAL_QUEUE_CAP / 2;
    uint64_t expect = pack(head, head);
    if (!atomic_compare_exchange_strong_explicit(&q->head, &expect, pack(head + n, head + n),
                                                 memory_order_acq_rel, memory_order_relaxed))
        return 0;
    struct wf_task *first = atomic_load_explicit(&q->buf[head & MASK], memory_order_relaxed);
    struct wf_task *prev = first;
    for (uint32_t i = 1; i < n; i++) {
        struct wf_task *c = atomic_load_explicit(&q->buf[(head + i) & MASK], memory_order_relaxed);
        prev->queue_next = c;
        prev = c;
    }
    prev->queue_next = t;
    inject_push_batch(overflow, first, t, n + 1);
    return 1;
}

void wf_lq_push(wf_local_queue_t *q, struct wf_task *t, wf_inject_t *overflow) {
    for (;;) {
        uint64_t h = atomic_load_explicit(&q->head, memory_order_acquire);
        uint32_t steal = steal_of(h), real = real_of(h);
        uint32_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
        if (tail - steal < WF_LOCAL_QUEUE_CAP) {
            atomic_store_explicit(&q->buf[tail & MASK], t, memory_order_relaxed);
            atomic_store_explicit(&q->tail, tail + 1, memory_order_release);
            return;
        }
        if (steal != real) { /* a thief is copying: it will free room; don't wait */
            wf_inject_push(overflow, t);
            return;
        }
        if (push_overflow(q, t, real, overflow)) return;
    }
}

struct wf_task *wf_lq_pop(wf_local_queue_t *q) {
    uint64_t h = atomic_load_explicit(&q->head, memory_order_acquire);
    for (;;) {
        uint32_t steal = steal_of(h), real = real_of(h);
        uint32_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
        if (real == tail) return NULL;
        uint64_t next = steal == real ? pack(real + 1, real + 1) : pack(steal, real + 1);
        if (atomic_compare_exchange_weak_explicit(&q->head, &h, next, memory_order_acq_rel,
                                                  memory_order_acquire))
            return atomic_load_explicit(&q->buf[real & MASK], memory_order_relaxed);
    }
}

/* Claim half of src's tasks, copy them to dst's free slots; returns how many. */
static uint32_t steal_batch(wf_local_queue_t *src, wf_local_queue_t *dst, uint32_t dst_tail) {
    uint64_t prev = atomic_load_explicit(&src->head, memory_order_acquire), next;
    uint32_t n;
    for (;;) {
        uint32_t steal = steal_of(prev), real = real_of(prev);
        uint32_t tail = atomic_load_explicit(&src->tail, memory_order_acquire);
        if (steal != real) return 0; /* another thief is at work */
        n = tail - real;
        n -= n / 2;
        if (n == 0) return 0;
        next = pack(steal, real + n);
        if (atomic_compare_exchange_weak_explicit(&src->head, &prev, next, memory_order_acq_rel,
                                                  memory_order_acquire))
            break;
    }
    uint32_t first = steal_of(next);
    for (uint32_t i = 0; i < n; i++) {
        struct wf_task *t = atomic_load_explicit(&src->buf[(first + i) & MASK], memory_order_relaxed);
        atomic_store_explicit(&dst->buf[(dst_tail + i) & MASK], t, memory_order_relaxed);
    }
    /* Release the claimed slots to the owner: steal catches up with real. */
    prev = next;
    for (;;) {
        uint32_t real = real_of(prev);
        if (atomic_compare_exchange_weak_explicit(&src->head, &prev, pack(real, real),
                                                  memory_order_acq_rel, memory_order_acquire))
            return n;
    }
}

struct wf_task *wf_lq_steal_into(wf_local_queue_t *src, wf_local_queue_t *dst) {
    uint32_t dst_tail = atomic_load_explicit(&dst->tail, memory_order_relaxed);
    uint64_t dh = atomic_load_explicit(&dst->head, memory_order_acquire);
    if (dst_tail - steal_of(dh) > WF_LOCAL_QUEUE_CAP / 2) return NULL; /* no room for half */
    uint32_t n = steal_batch(src, dst, dst_tail);
    if (n == 0) return NULL;
    n--;
    struct wf_task *ret = atomic_load_explicit(&dst->buf[(dst_tail + n) & MASK], memory_order_relaxed);
    if (n) atomic_store_explicit(&dst->tail, dst_tail + n, memory_order_release);
    return ret;
}
