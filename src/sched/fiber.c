/*
 * Fibers over the context back-end, with the sanitizer bookkeeping that a
 * stack switch needs:
 *   - TSan keeps a shadow state per fiber; switching it with flags 0 makes
 *     everything a fiber did happen-before what the next fiber on the same
 *     thread does, which is what the scheduler's hand-offs rely on.
 *   - ASan must know the bounds of the stack being switched to and keeps a
 *     per-fiber fake stack (use-after-return detection).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "sched/fiber.h"

#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#include "sched/context.h"

#ifdef WF_TSAN
#include <sanitizer/tsan_interface.h>
#endif
#ifdef WF_ASAN
#include <sanitizer/asan_interface.h>
#endif

/* Read by the overflow handler to tell a guard-page hit from other faults. */
static _Thread_local wf_fiber_t *current;

wf_fiber_t *wf_fiber_current(void)
{
    return current;
}

/* What a new fiber runs, parked just below its `hi` until it starts. */
struct boot {
    void (*entry)(void *);
    void *arg;
};

static void fiber_main(void *p)
{
    struct boot b = *(struct boot *)p;

#ifdef WF_ASAN
    __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
    b.entry(b.arg); /* never returns; the back-end traps if it does */
}

void wf_fiber_init(wf_fiber_t *f, const wf_stack_t *stack, char *hi,
                   void (*entry)(void *), void *arg)
{
    struct boot *b =
        (struct boot *)(((uintptr_t)hi - sizeof *b) & ~(uintptr_t)15);

#ifdef WF_ASAN
    /* A reused stack still carries the redzone poison of the frames its last
     * fiber never returned from. */
    ASAN_UNPOISON_MEMORY_REGION(stack->lo, (size_t)(hi - stack->lo));
    f->asan_fake_stack = NULL;
#endif
#ifdef WF_TSAN
    f->tsan_fiber = __tsan_create_fiber(0);
    f->tsan_owned = 1;
#endif
    b->entry = entry;
    b->arg = arg;
    f->sp = wf_ctx_make(stack->lo, (char *)b, fiber_main, b);
    f->stack_lo = stack->lo;
    f->stack_hi = stack->hi;
    f->guard_lo = stack->guarded ? stack->lo - sysconf(_SC_PAGESIZE) : NULL;
}

void wf_fiber_init_thread(wf_fiber_t *f)
{
    pthread_attr_t attr;
    void *addr = NULL;
    size_t size = 0;

    /* ASan needs the real bounds when a fiber switches back here. */
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        pthread_attr_getstack(&attr, &addr, &size);
        pthread_attr_destroy(&attr);
    }
    f->sp = NULL;
    f->stack_lo = addr;
    f->stack_hi = (char *)addr + size;
    f->guard_lo = NULL;
#ifdef WF_TSAN
    f->tsan_fiber = __tsan_get_current_fiber();
    f->tsan_owned = 0;
#endif
#ifdef WF_ASAN
    f->asan_fake_stack = NULL;
#endif
    current = f;
}

/* The last switch out of a fiber (`final`) gives ASan no place to keep the
 * fake stack, so ASan frees it instead of waiting for a resume that never
 * comes. */
static inline void switch_to(wf_fiber_t *from, wf_fiber_t *to, int final)
{
#ifdef WF_ASAN
    __sanitizer_start_switch_fiber(final ? NULL : &from->asan_fake_stack,
                                   to->stack_lo,
                                   (size_t)(to->stack_hi - to->stack_lo));
#else
    (void)final;
#endif
#ifdef WF_TSAN
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
    current = to;
    wf_ctx_switch(&from->sp, to->sp);
#ifdef WF_ASAN
    __sanitizer_finish_switch_fiber(from->asan_fake_stack, NULL, NULL);
#endif
}

void wf_fiber_switch(wf_fiber_t *from, wf_fiber_t *to)
{
    switch_to(from, to, 0);
}

void wf_fiber_switch_final(wf_fiber_t *from, wf_fiber_t *to)
{
    switch_to(from, to, 1);
    __builtin_unreachable();
}

void wf_fiber_destroy(wf_fiber_t *f)
{
#ifdef WF_TSAN
    if (f->tsan_owned)
        __tsan_destroy_fiber(f->tsan_fiber);
    f->tsan_fiber = NULL;
    f->tsan_owned = 0;
#else
    (void)f;
#endif
}

/* Reads another fiber's stack, which no sanitizer expects: the frame
 * records it follows are live, and the fiber is parked meanwhile. */
__attribute__((no_sanitize("address", "thread")))
int wf_fiber_frames(const wf_fiber_t *f, void **pcs, int max)
{
#ifdef WF_CTX_FP_AT
    uintptr_t lo = (uintptr_t)f->stack_lo, hi = (uintptr_t)f->stack_hi;
    uintptr_t sp = (uintptr_t)f->sp;
    int n = 0;

    if (max <= 0 || sp < lo || sp + WF_CTX_PC_AT + sizeof(void *) > hi)
        return 0;
    pcs[n++] = *(void **)(sp + WF_CTX_PC_AT);
    for (uintptr_t fp = *(uintptr_t *)(sp + WF_CTX_FP_AT);
         n < max && fp >= lo && fp + 2 * sizeof(void *) <= hi && fp % sizeof(void *) == 0;) {
        void *pc = ((void **)fp)[1];
        uintptr_t up = ((uintptr_t *)fp)[0];

        if (!pc)
            break;
        pcs[n++] = pc;
        if (up <= fp) /* frames only go up the stack */
            break;
        fp = up;
    }
    return n;
#else
    (void)f;
    (void)pcs;
    (void)max;
    return 0;
#endif
}
