/*
 * Fibers: a machine context plus a stack, switched cooperatively.
 *
 * The scheduler (worker.c, task.c) is the only user.  This module hides the
 * platform (assembly switch on x86-64 and aarch64, ucontext elsewhere) and the
 * sanitizer annotations of switching (TSan fibers, ASan stack switches).  Two
 * other files have annotations of their own: stack.c unpoisons a stack's
 * ASan shadow before unmapping it, and io/process.c has TSan ignore what
 * libuv's fork child does.
 */
#ifndef WEFT_SCHED_FIBER_H
#define WEFT_SCHED_FIBER_H

#include <signal.h>
#include <stddef.h>

#if defined(__SANITIZE_THREAD__)
#define WF_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WF_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define WF_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WF_ASAN 1
#endif
#endif

/* A stack: usable memory [lo, hi), a PROT_NONE guard page just below lo when
 * `guarded`.  `map`/`map_size` describe the whole mapping (guard included). */
typedef struct wf_stack {
    char *lo, *hi;
    void *map;
    size_t map_size;
    int guarded;
} wf_stack_t;

typedef struct wf_fiber {
    void *sp;               /* saved stack pointer (or ucontext_t * in the fallback) */
    char *stack_lo, *stack_hi;
    const char *name;       /* for the overflow message; set by the scheduler */
    char *guard_lo;         /* guard page [guard_lo, stack_lo), NULL when none */
#ifdef WF_TSAN
    void *tsan_fiber;
    int tsan_owned;         /* created by us (destroy it), not the thread's own */
#endif
#ifdef WF_ASAN
    void *asan_fake_stack;
#endif
} wf_fiber_t;

/* Prepare `f` to run entry(arg) on [lo, hi) when first switched to.  `entry`
 * must never return: a finished fiber leaves with wf_fiber_switch_final. */
void wf_fiber_init(wf_fiber_t *f, const wf_stack_t *stack, char *hi,
                   void (*entry)(void *), void *arg);
/* Describe the calling thread's own stack as a fiber (a worker's scheduler
 * context), so tasks can switch back to it. */
void wf_fiber_init_thread(wf_fiber_t *f);
/* Save the current context into `from`, resume `to`.  Returns when someone
 * switches back to `from`.  Also records `to` as the thread's current fiber
 * for the overflow handler. */
void wf_fiber_switch(wf_fiber_t *from, wf_fiber_t *to);
/* The last switch out of a finished fiber: `from` is never resumed. */
void wf_fiber_switch_final(wf_fiber_t *from, wf_fiber_t *to);
/* Release sanitizer state of a fiber that finished (not its stack). */
void wf_fiber_destroy(wf_fiber_t *f);
/* The fiber the calling thread runs, as recorded by the last switch or
 * wf_fiber_init_thread on this thread; NULL before either. */
wf_fiber_t *wf_fiber_current(void);
/* The return addresses of a suspended fiber's frames, innermost first, into
 * pcs[0 .. max): how many.  A frame-pointer walk that stays inside the
 * fiber's stack; 0 where the context back-end keeps no frame pointer (the
 * ucontext fallback).  The caller makes sure the fiber stays suspended. */
int wf_fiber_frames(const wf_fiber_t *f, void **pcs, int max);

/* ------------------------------------------------------------- stacks */

/* Per-runtime pool of stacks of one size, shared by all workers (mutex), in
 * front of which each worker keeps an unlocked cache. */
typedef struct wf_stack_pool wf_stack_pool_t;
typedef struct wf_stack_cache {
    wf_stack_t *items;
    unsigned count, cap;
} wf_stack_cache_t;

int wf_stack_pool_new(wf_stack_pool_t **pool, size_t stack_size);
/* Unmaps every cached stack; all stacks must have been put back. */
void wf_stack_pool_free(wf_stack_pool_t *pool);
size_t wf_stack_pool_stack_size(const wf_stack_pool_t *pool);
int wf_stack_cache_init(wf_stack_cache_t *c);
/* Return the cache's stacks to the pool and free the cache. */
void wf_stack_cache_fini(wf_stack_pool_t *pool, wf_stack_cache_t *c);
/* 0 or -ENOMEM.  Falls back to an unguarded stack (warning once) when the
 * kernel refuses more mappings (vm.max_map_count). */
int wf_stack_get(wf_stack_pool_t *pool, wf_stack_cache_t *c, wf_stack_t *out);
void wf_stack_put(wf_stack_pool_t *pool, wf_stack_cache_t *c, const wf_stack_t *s);

/* ------------------------------------------------------------- overflow */

/* Process-wide SIGSEGV/SIGBUS handler that recognises a hit on the current
 * fiber's guard page, prints
 *   weft: task '<name>' overflowed its <N> KiB stack
 * and aborts; any other fault goes to the previous handler / default action.
 * Idempotent and thread-safe. */
void wf_overflow_install(void);
/* Give the calling thread an alternate signal stack (kept until fini), so the
 * handler can run when a fiber's stack is exhausted. */
typedef struct wf_altstack {
    void *mem;
    size_t size;
    stack_t previous; /* the thread's alternate stack before, restored by fini */
} wf_altstack_t;
int wf_altstack_init(wf_altstack_t *a);
void wf_altstack_fini(wf_altstack_t *a);

#endif
