/*
 * Small building blocks shared by the scheduler: a spinlock for the short
 * critical sections of wait/wake, an intrusive doubly linked list, branch hints.
 */
#ifndef WEFT_SCHED_UTIL_H
#define WEFT_SCHED_UTIL_H

#include <stdatomic.h>
#include <stddef.h>

#define WF_LIKELY(x) __builtin_expect(!!(x), 1)
#define WF_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define WF_CONTAINER_OF(p, type, member) ((type *)(void *)((char *)(p) - offsetof(type, member)))

static inline void wf_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

/* Test-and-test-and-set lock.  Held only for a few instructions (claiming a
 * wait, linking a node), never across a context switch or a system call, so
 * spinning beats a futex.  Under contention it backs off exponentially
 * between polls, and a core still locked out after ~64 pauses sleeps for a
 * timer slack (util.c), leaving the line to the holder's core. */
typedef struct wf_spin { atomic_int locked; } wf_spin_t;
void wf_spin_lock_slow(wf_spin_t *l);
static inline void wf_spin_init(wf_spin_t *l) { atomic_init(&l->locked, 0); }
static inline void wf_spin_lock(wf_spin_t *l) {
    if (WF_LIKELY(!atomic_exchange_explicit(&l->locked, 1, memory_order_acquire))) return;
    wf_spin_lock_slow(l);
}
static inline void wf_spin_unlock(wf_spin_t *l) {
    atomic_store_explicit(&l->locked, 0, memory_order_release);
}

/* Intrusive circular list with a sentinel head. */
typedef struct wf_list { struct wf_list *prev, *next; } wf_list_t;
static inline void wf_list_init(wf_list_t *h) { h->prev = h->next = h; }
static inline int wf_list_empty(const wf_list_t *h) { return h->next == h; }
static inline void wf_list_push_back(wf_list_t *h, wf_list_t *n) {
    n->prev = h->prev; n->next = h; h->prev->next = n; h->prev = n;
}
static inline void wf_list_remove(wf_list_t *n) {
    n->prev->next = n->next; n->next->prev = n->prev; n->prev = n->next = n;
}

/* Every allocation of the library goes through these, so that tests can
 * inject failures in one place (fault.h).  They are malloc's: memory handed
 * to the user may be freed with free(). */
void *wf_alloc(size_t size);
void *wf_calloc(size_t n, size_t size);
void *wf_realloc(void *p, size_t size);
void wf_free(void *p);

/* A record that threads on different cores write starts on a line of its own
 * (zero-filled; free with wf_free), so that it shares no line with whatever
 * the allocator put next to it. */
#define WF_CACHE_LINE 64
void *wf_calloc_line(size_t size);

#endif
