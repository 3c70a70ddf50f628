/*
 * Turning a hit on a task's guard page into a message naming the task,
 * instead of a bare "Segmentation fault".
 *
 * The handler runs on an alternate signal stack (the task's own is exhausted)
 * and uses only async-signal-safe calls.  Faults that are not ours go to
 * whoever handled the signal before (ASan's handler, for one), or get the
 * default action.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "sched/fiber.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

/* Under sanitizers the handler chain runs deeper than SIGSTKSZ allows. */
enum { ALTSTACK_SIZE = 64 * 1024 };

static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct sigaction previous_segv, previous_bus;
static uintptr_t page_size;

static char *append(char *p, char *end, const char *s)
{
    while (*s && p < end)
        *p++ = *s++;
    return p;
}

static char *append_uint(char *p, char *end, size_t v)
{
    char digits[24];
    int n = 0;

    do
        digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n > 0 && p < end)
        *p++ = digits[--n];
    return p;
}

static char *append_hex(char *p, char *end, uintptr_t v)
{
    char digits[2 * sizeof v];
    int n = 0;

    do
        digits[n++] = "0123456789abcdef"[v % 16];
    while ((v /= 16) != 0);
    p = append(p, end, "0x");
    while (n > 0 && p < end)
        *p++ = digits[--n];
    return p;
}

/* The instruction that hit the guard page, where the platform says. */
static void *faulting_pc(const void *uctx)
{
    const ucontext_t *uc = uctx;
#if defined(__x86_64__)
    return (void *)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    return (void *)uc->uc_mcontext.pc;
#else
    (void)uc;
    return NULL;
#endif
}

/* " in <function>" (or " in <module>+<offset>"): dladdr is not on the list
 * of async-signal-safe calls, but the process is aborting either way and it
 * only reads the loader's tables. */
static char *append_frame(char *p, char *end, const void *uctx)
{
    void *pc = faulting_pc(uctx);
    Dl_info info;

    if (!pc || !dladdr(pc, &info) || !info.dli_fname)
        return p;
    p = append(p, end, " in ");
    if (info.dli_sname)
        return append(p, end, info.dli_sname);
    const char *module = strrchr(info.dli_fname, '/');
    p = append(p, end, module ? module + 1 : info.dli_fname);
    p = append(p, end, "+");
    return append_hex(p, end, (uintptr_t)pc - (uintptr_t)info.dli_fbase);
}

static void report_overflow(const wf_fiber_t *f, const void *uctx)
{
    char msg[384];
    char *end = msg + sizeof msg;
    char *p = append(msg, end - 64, "weft: task '");
    ssize_t written;

    p = append(p, end - 48, f->name ? f->name : "?");
    p = append(p, end, "' overflowed its ");
    p = append_uint(p, end, (size_t)(f->stack_hi - f->stack_lo) / 1024);
    p = append(p, end, " KiB stack");
    p = append_frame(p, end - 1, uctx);
    p = append(p, end, "\n");
    written = write(STDERR_FILENO, msg, (size_t)(p - msg));
    (void)written; /* aborting either way */
    abort();
}

/* A large frame can step over the guard page, so one more page below it
 * still counts as an overflow of this stack. */
static int hits_guard(const wf_fiber_t *f, uintptr_t addr)
{
    return f && f->guard_lo && addr >= (uintptr_t)f->guard_lo - page_size &&
           addr < (uintptr_t)f->stack_lo;
}

static void on_fault(int sig, siginfo_t *info, void *uctx)
{
    const struct sigaction *prev =
        sig == SIGBUS ? &previous_bus : &previous_segv;
    const wf_fiber_t *f = wf_fiber_current();
    int saved_errno = errno;

    if (hits_guard(f, (uintptr_t)info->si_addr))
        report_overflow(f, uctx);
    if (prev->sa_flags & SA_SIGINFO) {
        prev->sa_sigaction(sig, info, uctx);
    } else if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN) {
        prev->sa_handler(sig);
    } else {
        /* Returning re-executes the faulting instruction, which then gets
         * the default action; a signal sent with kill() is raised again. */
        signal(sig, SIG_DFL);
        if (info->si_code <= 0)
            raise(sig);
    }
    errno = saved_errno;
}

static void install(void)
{
    struct sigaction sa;

    page_size = (uintptr_t)sysconf(_SC_PAGESIZE);
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &previous_segv);
    sigaction(SIGBUS, &sa, &previous_bus);
}

void wf_overflow_install(void)
{
    pthread_once(&once, install);
}

int wf_altstack_init(wf_altstack_t *a)
{
    stack_t ss;
    int err;

    a->size = ALTSTACK_SIZE;
    a->mem = mmap(NULL, a->size, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (a->mem == MAP_FAILED) {
        a->mem = NULL;
        return -ENOMEM;
    }
    ss.ss_sp = a->mem;
    ss.ss_size = a->size;
    ss.ss_flags = 0;
    if (sigaltstack(&ss, &a->previous) != 0) {
        err = errno;
        munmap(a->mem, a->size);
        a->mem = NULL;
        return -err;
    }
    return 0;
}

void wf_altstack_fini(wf_altstack_t *a)
{
    if (!a->mem)
        return;
    sigaltstack(&a->previous, NULL);
    munmap(a->mem, a->size);
    a->mem = NULL;
}
