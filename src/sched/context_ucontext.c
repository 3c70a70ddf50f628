/*
 * Portable context back-end on ucontext, for platforms without an assembly
 * switch (or with WF_USE_UCONTEXT).  Slower: swapcontext also saves and
 * restores the signal mask, one system call per switch.
 */
#include "sched/context.h"

#ifndef WF_CTX_ASM

#include <stddef.h>
#include <stdint.h>
#include <ucontext.h>

/* Kept at the top of the new stack: the first context and what it runs. */
struct boot {
    ucontext_t uc;
    void (*entry)(void *);
    void *arg;
};

/* makecontext passes only int arguments portably, so the pointer travels as
 * two 32-bit halves. */
static void start(unsigned lo, unsigned hi)
{
    struct boot *b = (struct boot *)(((uintptr_t)hi << 16 << 16) | lo);

    b->entry(b->arg);
    __builtin_trap();
}

void *wf_ctx_make(char *lo, char *hi, void (*entry)(void *), void *arg)
{
    uintptr_t top = ((uintptr_t)hi - sizeof(struct boot)) & ~(uintptr_t)15;
    struct boot *b = (struct boot *)top;

    getcontext(&b->uc);
    b->uc.uc_stack.ss_sp = lo;
    b->uc.uc_stack.ss_size = (size_t)((char *)b - lo);
    b->uc.uc_link = NULL;
    b->entry = entry;
    b->arg = arg;
    makecontext(&b->uc, (void (*)(void))start, 2, (unsigned)top,
                (unsigned)(top >> 16 >> 16));
    return &b->uc;
}

void wf_ctx_switch(void **save, void *to)
{
    ucontext_t self;

    /* swapcontext leaves uc_stack alone, and ASan's interceptor clears the
     * shadow of the range named there when this context is resumed: name
     * none rather than stack garbage. */
    self.uc_stack.ss_sp = NULL;
    self.uc_stack.ss_size = 0;
    *save = &self;
    swapcontext(&self, to);
}

#endif
