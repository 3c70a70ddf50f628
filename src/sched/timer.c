#include "sched/timer.h"

#include <math.h>
#include <stdint.h>

#include "weft.h"

#define NOT_QUEUED SIZE_MAX

void wf_timer_init(wf_timer_t *t, wf_timer_fire_fn fire) {
    t->deadline = INFINITY;
    t->index = NOT_QUEUED;
    atomic_init(&t->heap, NULL);
    t->fire = fire;
    wf_spin_init(&t->busy);
}

int wf_timer_heap_init(wf_timer_heap_t *h) {
    h->items = NULL;
    h->len = h->cap = 0;
    return pthread_mutex_init(&h->lock, NULL) ? WEFT_ENOMEM : 0;
}

void wf_timer_heap_destroy(wf_timer_heap_t *h) {
    wf_free(h->items);
    pthread_mutex_destroy(&h->lock);
}

static void place(wf_timer_heap_t *h, size_t i, wf_timer_t *t) {
    h->items[i] = t;
    t->index = i;
}

static void sift_up(wf_timer_heap_t *h, size_t i) {
    wf_timer_t *t = h->items[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h->items[parent]->deadline <= t->deadline) break;
        place(h, i, h->items[parent]);
        i = parent;
    }
    place(h, i, t);
}

static void sift_down(wf_timer_heap_t *h, size_t i) {
    wf_timer_t *t = h->items[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->len) break;
        if (c + 1 < h->len && h->items[c + 1]->deadline < h->items[c]->deadline) c++;
        if (t->deadline <= h->items[c]->deadline) break;
        place(h, i, h->items[c]);
        i = c;
    }
    place(h, i, t);
}

static void heap_delete(wf_timer_heap_t *h, wf_timer_t *t) {
    size_t i = t->index;
    wf_timer_t *last = h->items[--h->len];
    t->index = NOT_QUEUED;
    if (last == t) return;
    place(h, i, last);
    sift_down(h, i);
    sift_up(h, last->index);
}

/* Caller holds t->busy. */
static void detach(wf_timer_t *t) {
    wf_timer_heap_t *h = atomic_load_explicit(&t->heap, memory_order_acquire);
    if (!h) return;
    pthread_mutex_lock(&h->lock);
    if (t->index != NOT_QUEUED) heap_delete(h, t);
    atomic_store_explicit(&t->heap, NULL, memory_order_relaxed);
    pthread_mutex_unlock(&h->lock);
}

int wf_timer_add(wf_timer_heap_t *h, wf_timer_t *t, double deadline) {
    int rc = 0;
    wf_spin_lock(&t->busy);
    detach(t);
    pthread_mutex_lock(&h->lock);
    if (h->len == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 64;
        wf_timer_t **items = wf_alloc(cap * sizeof *items);
        if (!items) {
            rc = WEFT_ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < h->len; i++) items[i] = h->items[i];
        wf_free(h->items);
        h->items = items;
        h->cap = cap;
    }
    t->deadline = deadline;
    h->items[h->len] = t;
    t->index = h->len++;
    sift_up(h, t->index);
    atomic_store_explicit(&t->heap, h, memory_order_relaxed);
out:
    pthread_mutex_unlock(&h->lock);
    wf_spin_unlock(&t->busy);
    return rc;
}

void wf_timer_remove(wf_timer_t *t) {
    if (!atomic_load_explicit(&t->heap, memory_order_acquire)) return;
    wf_spin_lock(&t->busy);
    detach(t);
    wf_spin_unlock(&t->busy);
}

double wf_timer_heap_next(wf_timer_heap_t *h) {
    pthread_mutex_lock(&h->lock);
    double d = h->len ? h->items[0]->deadline : INFINITY;
    pthread_mutex_unlock(&h->lock);
    return d;
}

unsigned wf_timer_heap_fire(wf_timer_heap_t *h, double now) {
    unsigned fired = 0;
    pthread_mutex_lock(&h->lock);
    while (h->len && h->items[0]->deadline <= now) {
        wf_timer_t *t = h->items[0];
        heap_delete(h, t);
        t->fire(t);
        /* Cleared only after the callback: a remover that still sees the heap
         * waits on the lock until the callback is done with the object. */
        atomic_store_explicit(&t->heap, NULL, memory_order_release);
        fired++;
    }
    pthread_mutex_unlock(&h->lock);
    return fired;
}
