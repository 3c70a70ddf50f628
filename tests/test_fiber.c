/*
 * White-box tests of the fiber module: context switches, the stack pool and
 * guard-page overflow detection.  Death tests run in a forked child whose
 * stderr comes back through a pipe.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "helpers.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sched/context.h"
#include "sched/fiber.h"

#if defined(__x86_64__)
#include <xmmintrin.h>
#endif
#ifndef WF_CTX_ASM
#include <ucontext.h>
#endif

#define STACK_SIZE (256 * 1024)

/* The page size, and the suite's stack pool with the test thread's cache of
 * it: made before main and freed after it, as a group setup and teardown
 * would (a table of cases has none). */
static size_t page;
static wf_stack_pool_t *pool;
static wf_stack_cache_t cache;

__attribute__((constructor)) static void suite_setup(void)
{
    page = (size_t)sysconf(_SC_PAGESIZE);
    if (wf_stack_pool_new(&pool, STACK_SIZE) != 0 || wf_stack_cache_init(&cache) != 0) {
        fprintf(stderr, "test_fiber: no stack pool\n");
        exit(1);
    }
}

__attribute__((destructor)) static void suite_teardown(void)
{
    wf_stack_cache_fini(pool, &cache);
    wf_stack_pool_free(pool);
}

static wf_stack_t get_stack(void)
{
    wf_stack_t s;

    assert_int_equal(wf_stack_get(pool, &cache, &s), 0);
    return s;
}

static void put_stack(const wf_stack_t *s)
{
    wf_stack_put(pool, &cache, s);
}

/* ------------------------------------------------------------ switching */

static wf_fiber_t main_f, ping_f, pong_f;
static long box;

static void ping_entry(void *arg)
{
    long factor = *(long *)arg;

    for (;;) {
        box *= factor;
        wf_fiber_switch(&ping_f, &pong_f);
    }
}

static void pong_entry(void *arg)
{
    long addend = (long)(intptr_t)arg;

    for (;;) {
        box += addend;
        wf_fiber_switch(&pong_f, &main_f);
    }
}

static void ping_pong(void)
{
    wf_stack_t a = get_stack(), b = get_stack();
    long factor = 2;

    wf_fiber_init_thread(&main_f);
    wf_fiber_init(&ping_f, &a, a.hi, ping_entry, &factor);
    wf_fiber_init(&pong_f, &b, b.hi, pong_entry, (void *)(intptr_t)3);
    for (long i = 0; i < 1000; i++) {
        box = i;
        wf_fiber_switch(&main_f, &ping_f);
        assert_int_equal(box, i * 2 + 3);
    }
    wf_fiber_destroy(&ping_f);
    wf_fiber_destroy(&pong_f);
    put_stack(&a);
    put_stack(&b);
}

/* Where code runs is told by its frame address, not by a local's: ASan's
 * use-after-return mode moves locals to a "fake stack" on the heap. */
struct probe {
    wf_fiber_t self, *back;
    uintptr_t frame;
    wf_fiber_t *current;
};

static void probe_entry(void *arg)
{
    struct probe *p = arg;

    p->frame = (uintptr_t)__builtin_frame_address(0);
    p->current = wf_fiber_current();
    wf_fiber_switch_final(&p->self, p->back);
}

/* Runs a probe on `s` below `hi`, finishing the fiber. */
static void run_probe(struct probe *p, const wf_stack_t *s, char *hi)
{
    wf_fiber_t here;

    memset(p, 0, sizeof *p);
    p->back = &here;
    wf_fiber_init_thread(&here);
    wf_fiber_init(&p->self, s, hi, probe_entry, p);
    wf_fiber_switch(&here, &p->self);
    wf_fiber_destroy(&p->self);
    assert_ptr_equal(wf_fiber_current(), &here);
}

static void runs_on_own_stack(void)
{
    wf_stack_t s = get_stack();
    char *hi = s.hi - 200; /* room for a task record, as the scheduler keeps */
    struct probe p;

    run_probe(&p, &s, hi);
    assert_true(p.frame >= (uintptr_t)s.lo && p.frame < (uintptr_t)hi);
    /* Any call leaves the frame address (saved fp) 16-aligned, on x86-64 and
     * AArch64 alike, if the stack was aligned when entry was called. */
    assert_int_equal(p.frame % 16, 0);
    assert_ptr_equal(p.current, &p.self);
    assert_ptr_equal(p.self.stack_lo, s.lo);
    assert_ptr_equal(p.self.stack_hi, s.hi);
    assert_ptr_equal(p.self.guard_lo, s.lo - page);
    put_stack(&s);
}

static void thread_fiber_describes_thread_stack(void)
{
    char *frame = __builtin_frame_address(0);
    wf_fiber_t t;

    wf_fiber_init_thread(&t);
    assert_ptr_equal(wf_fiber_current(), &t);
    assert_true(frame >= t.stack_lo && frame < t.stack_hi);
    assert_null(t.guard_lo);
}

static void init_touches_only_top_page(void)
{
    wf_stack_pool_t *fresh_pool;
    wf_stack_cache_t fresh_cache;
    wf_stack_t s;
    wf_fiber_t f;
    size_t pages, resident = 0;
    unsigned char *vec;

    assert_int_equal(wf_stack_pool_new(&fresh_pool, STACK_SIZE), 0);
    assert_int_equal(wf_stack_cache_init(&fresh_cache), 0);
    assert_int_equal(wf_stack_get(fresh_pool, &fresh_cache, &s), 0);
    wf_fiber_init(&f, &s, s.hi - 200, probe_entry, NULL);
    pages = (size_t)(s.hi - s.lo) / page;
    vec = malloc(pages);
    assert_non_null(vec);
    assert_int_equal(mincore(s.lo, (size_t)(s.hi - s.lo), vec), 0);
    for (size_t i = 0; i < pages; i++)
        resident += vec[i] & 1;
#ifdef WF_CTX_ASM
    assert_int_equal(resident, 1);
#else
    /* The fallback parks a whole ucontext_t there (4.5 KiB on AArch64). */
    assert_in_range(resident, 1, 1 + (sizeof(ucontext_t) + page - 1) / page);
#endif
    assert_true(vec[pages - 1] & 1);
    free(vec);
    wf_fiber_destroy(&f);
    wf_stack_put(fresh_pool, &fresh_cache, &s);
    wf_stack_cache_fini(fresh_pool, &fresh_cache);
    wf_stack_pool_free(fresh_pool);
}

/* Values live across switches must survive though the other fiber fills the
 * callee-saved registers with garbage. */
static wf_fiber_t regs_main, regs_f;

#if defined(__x86_64__)
#define CLOBBER_CALLEE_SAVED()                                               \
    __asm__ volatile("mov $-1, %%rbx\n\tmov $-1, %%r12\n\tmov $-1, %%r13\n\t" \
                     "mov $-1, %%r14\n\tmov $-1, %%r15" ::                   \
                         : "rbx", "r12", "r13", "r14", "r15")
#elif defined(__aarch64__)
#define CLOBBER_CALLEE_SAVED()                                                \
    __asm__ volatile("mov x19, #-1\n\tmov x20, #-1\n\tmov x21, #-1\n\t"       \
                     "mov x22, #-1\n\tmov x23, #-1\n\tmov x24, #-1\n\t"       \
                     "mov x25, #-1\n\tmov x26, #-1\n\tmov x27, #-1\n\t"       \
                     "mov x28, #-1\n\tfmov d8, #-1.0\n\tfmov d9, #-1.0\n\t"   \
                     "fmov d10, #-1.0\n\tfmov d11, #-1.0\n\tfmov d12, #-1.0\n\t" \
                     "fmov d13, #-1.0\n\tfmov d14, #-1.0\n\tfmov d15, #-1.0" :: \
                         : "x19", "x20", "x21", "x22", "x23", "x24", "x25",   \
                           "x26", "x27", "x28", "v8", "v9", "v10", "v11",     \
                           "v12", "v13", "v14", "v15")
#else
#define CLOBBER_CALLEE_SAVED() ((void)0)
#endif

static void clobber_entry(void *arg)
{
    double *harmonic = arg;

    /* The fiber's own floating-point state must survive too. */
    for (int k = 1;; k++) {
        *harmonic += 1.0 / k;
        CLOBBER_CALLEE_SAVED();
        wf_fiber_switch(&regs_f, &regs_main);
    }
}

static __attribute__((noinline)) unsigned long mix(int with_switches)
{
    unsigned long a = 1, b = 2, c = 3, d = 5, e = 7, g = 11, h = 13;
    double x = 0.5, y = 1.25;

    for (unsigned long i = 0; i < 200; i++) {
        a = a * 31 + i;
        b ^= a >> 3;
        c += b * 7;
        d = d * 3 + c;
        e += d ^ i;
        g = g * 5 + e;
        h ^= g + a;
        x = x * 1.0001 + (double)(i & 7);
        y = y / 1.0003 + x;
        if (with_switches)
            wf_fiber_switch(&regs_main, &regs_f);
    }
    return a ^ b ^ c ^ d ^ e ^ g ^ h ^ (unsigned long)x ^ (unsigned long)y;
}

static void callee_saved_and_fp_survive(void)
{
    wf_stack_t s = get_stack();
    double harmonic = 0, expected = 0;

    wf_fiber_init_thread(&regs_main);
    wf_fiber_init(&regs_f, &s, s.hi, clobber_entry, &harmonic);
    assert_int_equal(mix(1), mix(0));
    for (int k = 1; k <= 200; k++)
        expected += 1.0 / k;
    assert_true(harmonic == expected);
    wf_fiber_destroy(&regs_f);
    put_stack(&s);
}

/* Rounding modes, set directly so the test needs no libm: x86-64 keeps one
 * in MXCSR (SSE) and one in the x87 control word, AArch64 in FPCR. */
#if defined(__x86_64__)
enum { ROUND_NEAREST = 0, ROUND_DOWN = 1, ROUND_UP = 2 };

static unsigned get_round(void)
{
    unsigned short cw;

    __asm__ volatile("fnstcw %0" : "=m"(cw));
    /* Both units must agree, or report a mode no test expects. */
    return ((_mm_getcsr() >> 13) & 3) == ((cw >> 10) & 3u)
               ? (_mm_getcsr() >> 13) & 3
               : 99;
}

static void set_round(unsigned mode)
{
    unsigned short cw;

    _mm_setcsr((_mm_getcsr() & ~0x6000u) | mode << 13);
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    cw = (unsigned short)((cw & ~0xc00u) | mode << 10);
    __asm__ volatile("fldcw %0" ::"m"(cw) : "memory");
}
#elif defined(__aarch64__)
enum { ROUND_NEAREST = 0, ROUND_UP = 1, ROUND_DOWN = 2 };

static unsigned get_round(void)
{
    uint64_t fpcr;

    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    return (fpcr >> 22) & 3;
}

static void set_round(unsigned mode)
{
    uint64_t fpcr;

    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    fpcr = (fpcr & ~(3ull << 22)) | (uint64_t)mode << 22;
    __asm__ volatile("msr fpcr, %0" ::"r"(fpcr) : "memory");
}
#endif

#if defined(__x86_64__) || defined(__aarch64__)
static volatile double one = 1.0, three = 3.0;
static wf_fiber_t round_main, round_f;

struct round_state {
    unsigned inherited, mode;
    double third;
};

static void round_entry(void *arg)
{
    struct round_state *st = arg;

    st->inherited = get_round();
    set_round(ROUND_DOWN);
    for (;;) {
        st->mode = get_round();
        st->third = one / three;
        wf_fiber_switch(&round_f, &round_main);
    }
}

static void rounding_mode_is_per_fiber(void)
{
    wf_stack_t s = get_stack();
    struct round_state st;

    set_round(ROUND_UP);
    wf_fiber_init_thread(&round_main);
    wf_fiber_init(&round_f, &s, s.hi, round_entry, &st);
    for (int i = 0; i < 10; i++) {
        wf_fiber_switch(&round_main, &round_f);
        assert_int_equal(st.inherited, ROUND_UP);
        assert_int_equal(st.mode, ROUND_DOWN);
        assert_int_equal(get_round(), ROUND_UP);
        assert_true(one / three > st.third);
    }
    set_round(ROUND_NEAREST);
    wf_fiber_destroy(&round_f);
    put_stack(&s);
}
#else
static void rounding_mode_is_per_fiber(void)
{
    skip();
}
#endif

#if defined(__x86_64__)
/* MXCSR equal, x87 control word different: the switch must still tell. */
static unsigned short get_x87_cw(void)
{
    unsigned short cw;

    __asm__ volatile("fnstcw %0" : "=m"(cw));
    return cw;
}

static void set_x87_cw(unsigned short cw)
{
    __asm__ volatile("fldcw %0" ::"m"(cw) : "memory");
}

static wf_fiber_t x87_main, x87_f;

static void x87_entry(void *arg)
{
    unsigned short *seen = arg;

    set_x87_cw((unsigned short)(get_x87_cw() ^ 0x0c00)); /* flip rounding */
    for (;;) {
        *seen = get_x87_cw();
        wf_fiber_switch(&x87_f, &x87_main);
    }
}

static void x87_control_word_is_per_fiber(void)
{
    wf_stack_t s = get_stack();
    unsigned short mine = get_x87_cw(), seen = 0;

    wf_fiber_init_thread(&x87_main);
    wf_fiber_init(&x87_f, &s, s.hi, x87_entry, &seen);
    for (int i = 0; i < 3; i++) {
        wf_fiber_switch(&x87_main, &x87_f);
        assert_int_equal(get_x87_cw(), mine);
        assert_int_equal(seen, mine ^ 0x0c00);
    }
    wf_fiber_destroy(&x87_f);
    put_stack(&s);
}
#else
static void x87_control_word_is_per_fiber(void)
{
    skip();
}
#endif

/* A fiber suspended on one thread and resumed on another, as work stealing
 * does. */
static wf_fiber_t migrant;
static wf_fiber_t *migrant_back;
static _Thread_local int thread_tag;
static int tags_seen[2];

static __attribute__((noinline)) int current_thread_tag(void)
{
    return thread_tag;
}

static void migrant_entry(void *arg)
{
    long canary = *(long *)arg;

    tags_seen[0] = current_thread_tag();
    wf_fiber_switch(&migrant, migrant_back);
    tags_seen[1] = current_thread_tag();
    *(long *)arg = canary + 1;
    wf_fiber_switch_final(&migrant, migrant_back);
}

static void *host_thread(void *tag)
{
    wf_fiber_t host;

    thread_tag = (int)(intptr_t)tag;
    wf_fiber_init_thread(&host);
    migrant_back = &host;
    wf_fiber_switch(&host, &migrant);
    return NULL;
}

static void fiber_migrates_between_threads(void)
{
    wf_stack_t s = get_stack();
    long canary = 41;
    pthread_t t;

    wf_fiber_init(&migrant, &s, s.hi, migrant_entry, &canary);
    for (intptr_t tag = 1; tag <= 2; tag++) {
        assert_int_equal(pthread_create(&t, NULL, host_thread, (void *)tag), 0);
        assert_int_equal(pthread_join(t, NULL), 0);
    }
    assert_int_equal(tags_seen[0], 1);
    assert_int_equal(tags_seen[1], 2);
    assert_int_equal(canary, 42);
    wf_fiber_destroy(&migrant);
    put_stack(&s);
}

/* ------------------------------------------------------------ stacks */

static void stack_geometry(void)
{
    wf_stack_pool_t *p;
    wf_stack_cache_t c;
    wf_stack_t s;

    assert_int_equal(wf_stack_pool_new(&p, 10000), 0);
    assert_int_equal(wf_stack_pool_stack_size(p), (10000 + page - 1) / page * page);
    assert_int_equal(wf_stack_cache_init(&c), 0);
    assert_int_equal(wf_stack_get(p, &c, &s), 0);
    assert_true(s.guarded);
    assert_int_equal((size_t)(s.hi - s.lo), wf_stack_pool_stack_size(p));
    assert_ptr_equal(s.lo, (char *)s.map + page);
    assert_int_equal(s.map_size, wf_stack_pool_stack_size(p) + page);
    assert_int_equal((uintptr_t)s.lo % page, 0);
    s.lo[0] = 1;
    s.hi[-1] = 1;
    wf_stack_put(p, &c, &s);
    wf_stack_cache_fini(p, &c);
    wf_stack_pool_free(p);
    assert_int_equal(wf_stack_pool_new(&p, 0), -EINVAL);
}

static void guard_page_is_prot_none(void)
{
    wf_stack_t s = get_stack();
    char line[512], want[32];
    FILE *maps = fopen("/proc/self/maps", "r");
    int found = 0;

    assert_non_null(maps);
    snprintf(want, sizeof want, "%lx-%lx ---p", (unsigned long)(uintptr_t)s.map,
             (unsigned long)(uintptr_t)s.lo);
    while (fgets(line, sizeof line, maps))
        found |= strncmp(line, want, strlen(want)) == 0;
    fclose(maps);
    assert_true(found);
    put_stack(&s);
}

static void cache_reuses_last_stack(void)
{
    wf_stack_t a = get_stack(), b;

    put_stack(&a);
    b = get_stack();
    assert_ptr_equal(a.lo, b.lo);
    assert_ptr_equal(a.map, b.map);
    put_stack(&b);
}

enum { MANY = 2000, ROUNDS = 3 };

struct pool_user {
    wf_stack_pool_t *pool;
    pthread_barrier_t *barrier;
    long id;
    int failures;
    wf_stack_t stacks[MANY];
};

/* Tags every stack it holds; a stack handed out twice at once gets the other
 * thread's tag. */
static void *pool_user_thread(void *arg)
{
    struct pool_user *u = arg;
    wf_stack_cache_t c;

    if (wf_stack_cache_init(&c) != 0)
        return (void *)1;
    for (long round = 0; round < ROUNDS; round++) {
        for (long i = 0; i < MANY; i++) {
            wf_stack_t *s = &u->stacks[i];

            if (wf_stack_get(u->pool, &c, s) != 0)
                u->failures++;
            else
                ((long *)s->hi)[-1] = u->id * 1000000 + round * MANY + i;
        }
        pthread_barrier_wait(u->barrier);
        for (long i = 0; i < MANY; i++)
            u->failures +=
                ((long *)u->stacks[i].hi)[-1] != u->id * 1000000 + round * MANY + i;
        pthread_barrier_wait(u->barrier);
        for (long i = 0; i < MANY; i++)
            wf_stack_put(u->pool, &c, &u->stacks[i]);
    }
    wf_stack_cache_fini(u->pool, &c);
    return NULL;
}

static void pool_shared_by_two_threads(void)
{
    static struct pool_user users[2];
    pthread_barrier_t barrier;
    wf_stack_pool_t *p;
    pthread_t t[2];
    void *rc;

    assert_int_equal(wf_stack_pool_new(&p, 16 * 1024), 0);
    pthread_barrier_init(&barrier, NULL, 2);
    for (long i = 0; i < 2; i++) {
        users[i].pool = p;
        users[i].barrier = &barrier;
        users[i].id = i + 1;
        users[i].failures = 0;
        assert_int_equal(pthread_create(&t[i], NULL, pool_user_thread, &users[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(t[i], &rc), 0);
        assert_null(rc);
        assert_int_equal(users[i].failures, 0);
    }
    pthread_barrier_destroy(&barrier);
    wf_stack_pool_free(p);
}

/* ------------------------------------------------------------ death tests */

struct outcome {
    int status;
    char err[8192];
};

static void run_child(void (*fn)(void), struct outcome *o)
{
    int fds[2];
    size_t len = 0;
    ssize_t n;
    char sink[1024];
    pid_t pid;

    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        static const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE};
        struct rlimit no_core = {0, 0};

        /* Start from the default actions, not cmocka's or a sanitizer's
         * handlers, which would report the death as a test failure. */
        for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
            signal(fatal[i], SIG_DFL);
        setrlimit(RLIMIT_CORE, &no_core);
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        fn();
        _exit(0);
    }
    close(fds[1]);
    /* Drain everything, or a chatty child blocks on a full pipe. */
    for (;;) {
        if (len < sizeof o->err - 1)
            n = read(fds[0], o->err + len, sizeof o->err - 1 - len);
        else
            n = read(fds[0], sink, sizeof sink);
        if (n <= 0)
            break;
        if (len < sizeof o->err - 1)
            len += (size_t)n;
    }
    o->err[len] = '\0';
    close(fds[0]);
    assert_int_equal(waitpid(pid, &o->status, 0), pid);
}

static void assert_killed_by(const struct outcome *o, int sig)
{
    if (!WIFSIGNALED(o->status) || WTERMSIG(o->status) != sig)
        fail_msg("child status %#x, expected signal %d; stderr:\n%s", o->status,
                 sig, o->err);
}

static void child_touches_guard(void)
{
    wf_stack_t s = get_stack();

    if (!s.guarded)
        _exit(3);
    *(volatile char *)(s.lo - 1) = 1;
}

static void guard_page_faults(void)
{
    struct outcome o;

    run_child(child_touches_guard, &o);
    assert_killed_by(&o, SIGSEGV);
}

static wf_fiber_t child_main, child_f;
static volatile int recursion_limit = INT_MAX;

static int recurse(int n)
{
    volatile char pad[256];

    pad[0] = (char)n;
    if (n >= recursion_limit)
        return 0;
    return recurse(n + 1) + pad[0];
}

static void deep_entry(void *arg)
{
    (void)arg;
    recurse(0);
    wf_fiber_switch_final(&child_f, &child_main);
}

/* Runs entry in a fiber called `name` on a fresh guarded stack, with the
 * overflow handler and an alternate signal stack in place. */
static void run_in_named_fiber(void (*entry)(void *), const char *name)
{
    wf_altstack_t alt;
    wf_stack_t s = get_stack();

    wf_overflow_install();
    if (wf_altstack_init(&alt) != 0 || !s.guarded)
        _exit(3);
    wf_fiber_init_thread(&child_main);
    wf_fiber_init(&child_f, &s, s.hi, entry, NULL);
    child_f.name = name;
    wf_fiber_switch(&child_main, &child_f);
    wf_altstack_fini(&alt);
}

static void child_overflows(void)
{
    run_in_named_fiber(deep_entry, "deep");
}

static void overflow_names_task(void)
{
    struct outcome o;

    run_child(child_overflows, &o);
    if (!strstr(o.err, "weft: task 'deep' overflowed its 256 KiB stack"))
        fail_msg("no overflow message; stderr:\n%s", o.err);
    assert_killed_by(&o, SIGABRT);
}

/* Faults that are not overflows go to the previous handler, or kill the
 * process as if no handler had been there. */
static int *volatile bad_pointer = (int *)64;

static void wild_write_entry(void *arg)
{
    (void)arg;
    *bad_pointer = 1;
    wf_fiber_switch_final(&child_f, &child_main);
}

static void previous_handler(int sig, siginfo_t *info, void *uctx)
{
    (void)uctx;
    _exit(sig == SIGSEGV && info->si_addr == (void *)bad_pointer ? 42 : 43);
}

static void child_wild_write_with_previous_handler(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = previous_handler;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    run_in_named_fiber(wild_write_entry, "wild");
}

static void child_wild_write_with_default(void)
{
    run_in_named_fiber(wild_write_entry, "wild");
}

static void other_faults_are_chained(void)
{
    struct outcome o;

    run_child(child_wild_write_with_previous_handler, &o);
    if (!WIFEXITED(o.status) || WEXITSTATUS(o.status) != 42)
        fail_msg("child status %#x; stderr:\n%s", o.status, o.err);
    run_child(child_wild_write_with_default, &o);
    assert_killed_by(&o, SIGSEGV);
    assert_null(strstr(o.err, "weft:"));
}

static void returning_entry(void *arg)
{
    (void)arg;
}

static void child_entry_returns(void)
{
    wf_stack_t s = get_stack();

    wf_fiber_init_thread(&child_main);
    wf_fiber_init(&child_f, &s, s.hi, returning_entry, NULL);
    wf_fiber_switch(&child_main, &child_f);
}

static void returning_entry_traps(void)
{
    struct outcome o;

    run_child(child_entry_returns, &o);
    if (!WIFSIGNALED(o.status) ||
        (WTERMSIG(o.status) != SIGILL && WTERMSIG(o.status) != SIGTRAP))
        fail_msg("child status %#x; stderr:\n%s", o.status, o.err);
}

/* Exhausts the kernel's mappings (vm.max_map_count), optionally gives a few
 * back, then asks for stacks: every one must come, the later ones without a
 * guard. */
static int map_count_limit(void)
{
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    int limit = -1;

    if (f) {
        if (fscanf(f, "%d", &limit) != 1)
            limit = -1;
        fclose(f);
    }
    return limit;
}

static void exhaust_mappings(int give_back)
{
    size_t pages = (size_t)map_count_limit() * 2 + 16;
    char *region = mmap(NULL, pages * page, PROT_NONE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    size_t i;

    if (region == MAP_FAILED)
        _exit(4);
    /* A checkerboard of protections takes two VMAs a step... */
    for (i = 1; i < pages; i += 2)
        if (mprotect(region + i * page, page, PROT_READ) != 0)
            break;
    if (i >= pages)
        _exit(5);
    /* ...then single pages of alternating protection take one (or none, when
     * one merges with a neighbour) until not one more fits. */
    for (int n = 0; n < 1000; n++)
        if (mmap(NULL, page, n % 2 ? PROT_READ : PROT_NONE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
                 0) == MAP_FAILED)
            break;
    /* Each page merged back into its neighbours frees two. */
    for (int k = 0; k < give_back; k++)
        mprotect(region + (i - 2 - 2 * (size_t)k) * page, page, PROT_NONE);
}

static void take_stacks_at_limit(int give_back)
{
    wf_stack_pool_t *p;
    wf_stack_cache_t c;
    wf_stack_t s[40];
    int guarded = 0;

    /* A pool of its own, so that every stack is a new mapping. */
    if (wf_stack_pool_new(&p, STACK_SIZE) != 0 || wf_stack_cache_init(&c) != 0)
        _exit(7);
    exhaust_mappings(give_back);
    for (int i = 0; i < 40; i++) {
        if (wf_stack_get(p, &c, &s[i]) != 0)
            _exit(10 + i);
        s[i].lo[0] = 1;
        s[i].hi[-1] = 1;
        guarded += s[i].guarded;
    }
    /* With none given back, only the reserve makes the first one possible. */
    if (s[39].guarded || (give_back ? guarded == 0 : guarded != 0))
        _exit(6);
}

static void child_at_limit(void)
{
    take_stacks_at_limit(0);
}

static void child_below_limit(void)
{
    take_stacks_at_limit(3);
}

static void map_count_fallback(void)
{
    static const char msg[] =
        "weft: vm.max_map_count reached; further task stacks have no guard page\n";
    void (*children[])(void) = {child_at_limit, child_below_limit};
    struct outcome o;

#ifdef WF_TSAN
    /* TSan maps shadow memory for every new mapping, which fails once the
     * process is at the limit. */
    skip();
#endif
    if (map_count_limit() <= 0 || map_count_limit() > 300000)
        skip();
    for (int i = 0; i < 2; i++) {
        char *first;

        run_child(children[i], &o);
        if (!WIFEXITED(o.status) || WEXITSTATUS(o.status) != 0)
            fail_msg("child %d status %#x; stderr:\n%s", i, o.status, o.err);
        first = strstr(o.err, msg);
        assert_non_null(first);
        assert_null(strstr(first + 1, msg));
    }
}

static const wt_case_t cases[] = {
    WT_TEST(ping_pong),
    WT_TEST(runs_on_own_stack),
    WT_TEST(thread_fiber_describes_thread_stack),
    WT_TEST(init_touches_only_top_page),
    WT_TEST(callee_saved_and_fp_survive),
    WT_TEST(rounding_mode_is_per_fiber),
    WT_TEST(x87_control_word_is_per_fiber),
    WT_TEST(fiber_migrates_between_threads),
    WT_TEST(stack_geometry),
    WT_TEST(guard_page_is_prot_none),
    WT_TEST(cache_reuses_last_stack),
    WT_TEST(pool_shared_by_two_threads),
    WT_TEST(guard_page_faults),
    WT_TEST(overflow_names_task),
    WT_TEST(other_faults_are_chained),
    WT_TEST(returning_entry_traps),
    WT_TEST(map_count_fallback),
};
WT_SUITE(cases)
