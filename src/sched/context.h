/*
 * The machine-context layer under fiber.c: one back-end is compiled in.
 *
 * A suspended context is a single pointer.  The assembly back-ends push the
 * callee-saved registers on the suspended stack and keep only the stack
 * pointer; the ucontext back-end keeps a ucontext_t in wf_ctx_switch's frame
 * on the suspended stack and hands out its address.  Either way nothing
 * outside the stack itself has to stay allocated while a fiber sleeps.
 *
 * Included by the .S files too, so that the choice of back-end is made here
 * only.
 */
#ifndef WEFT_SCHED_CONTEXT_H
#define WEFT_SCHED_CONTEXT_H

#if !defined(WF_USE_UCONTEXT) && defined(__ELF__) && defined(__LP64__) && \
    (defined(__x86_64__) || defined(__aarch64__))
#define WF_CTX_ASM 1
#endif

/* Where a suspended assembly context keeps the frame pointer and the address
 * it resumes at, from the saved stack pointer (the .S files' layouts), for
 * walking a parked fiber's stack.  Frame records are (previous frame
 * pointer, return address) pairs on both, when code keeps frame pointers. */
#if defined(WF_CTX_ASM) && defined(__x86_64__)
#define WF_CTX_FP_AT 48
#define WF_CTX_PC_AT 56
#elif defined(WF_CTX_ASM) && defined(__aarch64__)
#define WF_CTX_FP_AT 80
#define WF_CTX_PC_AT 88
#endif

#ifndef __ASSEMBLER__
/* Suspend the running context into *save and resume `to` (a value stored by
 * an earlier wf_ctx_switch or returned by wf_ctx_make). */
void wf_ctx_switch(void **save, void *to);
/* A context that, when first resumed, calls entry(arg) on a stack whose
 * usable part is [lo, hi).  Writes only just below hi.  entry must not
 * return; if it does, the process traps. */
void *wf_ctx_make(char *lo, char *hi, void (*entry)(void *), void *arg);
#endif

#endif
