/*
 * Task stacks: mmap'ed with a PROT_NONE guard page below, recycled through a
 * per-worker cache (no lock, LIFO so the next task gets the stack whose pages
 * are still resident and in cache) in front of a shared pool (mutex, touched
 * only once per BATCH stacks).
 *
 * Reused stacks are not madvise(MADV_DONTNEED)'d: that would cost a system
 * call per task plus a page fault per page on the next use, for pages the
 * next task most likely touches again.  What stays resident is bounded by the
 * cache and pool capacities times the deepest use each stack has seen.
 *
 * vm.max_map_count: every guard page splits its mapping, so a guarded stack
 * costs two kernel mappings (VMAs) and only about max_map_count / 2 of them
 * fit.  Past that, stacks come unguarded out of a large read-write arena, one
 * VMA for them all.  Guarded stacks stop well before the limit (HEADROOM
 * mappings are left to malloc, libuv and threads, which fail too when the
 * process is out of mappings).  Should the limit be reached anyway, the kernel
 * lets an mmap take one VMA more than a split may; once other mappings have
 * taken that one, not even the arena fits, so a page is kept mapped as a
 * reserve and given up to make room for it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "sched/fiber.h"
#include "sched/fault.h"
#include "sched/util.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifdef WF_ASAN
#include <sanitizer/asan_interface.h>
#endif

enum {
    CACHE_CAP = 64,
    BATCH = CACHE_CAP / 2,
    POOL_CAP = 1024,
};
/* Address space only (MAP_NORESERVE): large enough that one arena serves all
 * the stacks a process is likely to have past the limit, since a later one
 * merges with it only if nothing else got mapped right below it first. */
#if SIZE_MAX > 0xffffffffu
#define ARENA_BYTES ((size_t)64 << 30)
#else
#define ARENA_BYTES ((size_t)256 << 20)
#endif

struct wf_stack_pool {
    pthread_mutex_t lock;
    size_t stack_size, page;
    unsigned count;
    wf_stack_t items[POOL_CAP];
};

#define STACK_FLAGS (MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK)

/* Process-wide, as vm.max_map_count is. */
static _Atomic(void *) reserve;
static atomic_bool unguarded;
static pthread_mutex_t arena_lock = PTHREAD_MUTEX_INITIALIZER;
static char *arena_lo, *arena_next; /* carved downwards from the top */

static void keep_reserve(size_t page)
{
    void *expected = NULL;
    void *p;

    if (atomic_load_explicit(&reserve, memory_order_relaxed))
        return;
    /* Read-only, unlike any stack, so that it merges with none and unmapping
     * it really frees a VMA. */
    p = mmap(NULL, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
             -1, 0);
    if (p != MAP_FAILED &&
        !atomic_compare_exchange_strong(&reserve, &expected, p))
        munmap(p, page);
}

static int drop_reserve(size_t page)
{
    void *p = atomic_exchange(&reserve, NULL);

    return p && munmap(p, page) == 0;
}

/* The layout is the same with or without a guard: the unguarded first page
 * is simply never used. */
static void describe(wf_stack_t *s, char *map, size_t len, size_t page,
                     int guarded)
{
    s->map = map;
    s->map_size = len;
    s->lo = map + page;
    s->hi = map + len;
    s->guarded = guarded;
}

static int map_guarded(size_t len, size_t page, wf_stack_t *out)
{
    char *m;

    keep_reserve(page);
    m = mmap(NULL, len, PROT_READ | PROT_WRITE, STACK_FLAGS, -1, 0);
    if (m == MAP_FAILED)
        return 0;
    if (mprotect(m, page, PROT_NONE) != 0) {
        munmap(m, len);
        return 0;
    }
    describe(out, m, len, page, 1);
    return 1;
}

/* Halving the size on failure copes with RLIMIT_AS, and with strict
 * overcommit, which charges even a MAP_NORESERVE mapping in full. */
static int new_arena(size_t len, size_t page)
{
    size_t size = ARENA_BYTES / len > 1 ? ARENA_BYTES / len * len : len;

    for (; size >= len; size = size / 2 / len * len) {
        void *below = (uintptr_t)arena_lo > size
                          ? (void *)((uintptr_t)arena_lo - size)
                          : NULL;
        char *m = mmap(below, size, PROT_READ | PROT_WRITE, STACK_FLAGS, -1, 0);

        if (m == MAP_FAILED && errno == ENOMEM && drop_reserve(page))
            m = mmap(below, size, PROT_READ | PROT_WRITE, STACK_FLAGS, -1, 0);
        if (m != MAP_FAILED) {
            arena_lo = m;
            arena_next = m + size;
            return 0;
        }
    }
    return -ENOMEM;
}

static int carve_unguarded(size_t len, size_t page, wf_stack_t *out)
{
    int err = 0;

    pthread_mutex_lock(&arena_lock);
    if ((size_t)(arena_next - arena_lo) < len)
        err = new_arena(len, page);
    if (!err) {
        arena_next -= len;
        describe(out, arena_next, len, page, 0);
    }
    pthread_mutex_unlock(&arena_lock);
    if (!err && !atomic_exchange(&unguarded, 1))
        fputs("weft: vm.max_map_count reached; further task stacks have no "
              "guard page\n",
              stderr);
    return err;
}

#define HEADROOM 4096L

static atomic_long guarded_live;

/* How many guarded stacks (two VMAs each) this process may keep. */
static long guarded_budget(void)
{
    static atomic_long budget;
    long b = atomic_load_explicit(&budget, memory_order_relaxed);

    if (b == 0) {
        long max = 65530;
        FILE *f = fopen("/proc/sys/vm/max_map_count", "r");

        if (f) {
            if (fscanf(f, "%ld", &max) != 1)
                max = 65530;
            fclose(f);
        }
        b = max > 2 * HEADROOM ? (max - HEADROOM) / 2 : max / 4;
        atomic_store_explicit(&budget, b, memory_order_relaxed);
    }
    return b;
}

/* Any failure of the guarded way is taken for the map count: if memory
 * itself is short, the arena fails too and reports it. */
static int map_stack(size_t size, size_t page, wf_stack_t *out)
{
    size_t len = size + page;

    if (wf_fault_hit(WF_FAULT_STACK))
        return -ENOMEM;
    if (!atomic_load_explicit(&unguarded, memory_order_relaxed) &&
        atomic_load_explicit(&guarded_live, memory_order_relaxed) < guarded_budget() &&
        map_guarded(len, page, out)) {
        atomic_fetch_add_explicit(&guarded_live, 1, memory_order_relaxed);
        return 0;
    }
    return carve_unguarded(len, page, out);
}

static void unmap_stack(const wf_stack_t *s)
{
#ifdef WF_ASAN
    /* The shadow outlives the mapping: leave no stale frame poison for
     * whatever is mapped here next. */
    ASAN_UNPOISON_MEMORY_REGION(s->map, s->map_size);
#endif
    if (s->guarded)
        atomic_fetch_sub_explicit(&guarded_live, 1, memory_order_relaxed);
    /* Cutting a stack out of an arena needs a new VMA, which fails at the
     * limit; then at least give the memory back. */
    if (munmap(s->map, s->map_size) != 0)
        madvise(s->map, s->map_size, MADV_DONTNEED);
}

int wf_stack_pool_new(wf_stack_pool_t **pool, size_t stack_size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    wf_stack_pool_t *p;

    if (stack_size == 0 || stack_size > SIZE_MAX / 2)
        return -EINVAL;
    p = wf_alloc(sizeof *p);
    if (!p)
        return -ENOMEM;
    pthread_mutex_init(&p->lock, NULL);
    p->page = page;
    p->stack_size = (stack_size + page - 1) / page * page;
    p->count = 0;
    *pool = p;
    return 0;
}

void wf_stack_pool_free(wf_stack_pool_t *pool)
{
    if (!pool)
        return;
    for (unsigned i = 0; i < pool->count; i++)
        unmap_stack(&pool->items[i]);
    pthread_mutex_destroy(&pool->lock);
    wf_free(pool);
}

size_t wf_stack_pool_stack_size(const wf_stack_pool_t *pool)
{
    return pool->stack_size;
}

int wf_stack_cache_init(wf_stack_cache_t *c)
{
    c->items = wf_alloc(CACHE_CAP * sizeof *c->items);
    c->count = 0;
    c->cap = c->items ? CACHE_CAP : 0;
    return c->items ? 0 : -ENOMEM;
}

/* Move the n oldest (coldest) stacks of the cache into the pool; what does
 * not fit there is unmapped, outside the lock. */
static void spill(wf_stack_pool_t *pool, wf_stack_cache_t *c, unsigned n)
{
    unsigned kept;

    pthread_mutex_lock(&pool->lock);
    kept = POOL_CAP - pool->count < n ? POOL_CAP - pool->count : n;
    memcpy(&pool->items[pool->count], &c->items[n - kept],
           kept * sizeof *c->items);
    pool->count += kept;
    pthread_mutex_unlock(&pool->lock);
    for (unsigned i = 0; i < n - kept; i++)
        unmap_stack(&c->items[i]);
    c->count -= n;
    memmove(c->items, &c->items[n], c->count * sizeof *c->items);
}

/* Take up to BATCH of the pool's most recently returned stacks, keeping their
 * order so the warmest ends on top of the cache. */
static void refill(wf_stack_pool_t *pool, wf_stack_cache_t *c)
{
    unsigned n;

    pthread_mutex_lock(&pool->lock);
    n = pool->count < BATCH ? pool->count : BATCH;
    pool->count -= n;
    memcpy(c->items, &pool->items[pool->count], n * sizeof *c->items);
    pthread_mutex_unlock(&pool->lock);
    c->count = n;
}

void wf_stack_cache_fini(wf_stack_pool_t *pool, wf_stack_cache_t *c)
{
    if (c->count)
        spill(pool, c, c->count);
    wf_free(c->items);
    c->items = NULL;
    c->cap = 0;
}

int wf_stack_get(wf_stack_pool_t *pool, wf_stack_cache_t *c, wf_stack_t *out)
{
    if (c->count == 0)
        refill(pool, c);
    if (c->count == 0)
        return map_stack(pool->stack_size, pool->page, out);
    *out = c->items[--c->count];
    return 0;
}

void wf_stack_put(wf_stack_pool_t *pool, wf_stack_cache_t *c,
                  const wf_stack_t *s)
{
    if (c->count == c->cap)
        spill(pool, c, BATCH);
    c->items[c->count++] = *s;
}
