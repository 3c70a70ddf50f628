/*
 * Cost of one context switch: two fibers on one thread hand control to each
 * other N times.  The baseline does the same with swapcontext, which also
 * saves and restores the signal mask (a system call each way).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <ucontext.h>

#include "sched/fiber.h"

#define N 10000000L
#define STACK_SIZE (64 * 1024)

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static wf_fiber_t thread_f, ping_f, pong_f;

static void ping(void *arg)
{
    (void)arg;
    for (long i = 0; i < N / 2; i++)
        wf_fiber_switch(&ping_f, &pong_f);
    wf_fiber_switch(&ping_f, &thread_f);
}

static void pong(void *arg)
{
    (void)arg;
    for (;;)
        wf_fiber_switch(&pong_f, &ping_f);
}

static double weft_ns(void)
{
    wf_stack_pool_t *pool;
    wf_stack_cache_t cache;
    wf_stack_t a, b;
    double t0, t1;

    if (wf_stack_pool_new(&pool, STACK_SIZE) || wf_stack_cache_init(&cache) ||
        wf_stack_get(pool, &cache, &a) || wf_stack_get(pool, &cache, &b)) {
        fputs("context_switch: no stacks\n", stderr);
        exit(1);
    }
    wf_fiber_init_thread(&thread_f);
    wf_fiber_init(&ping_f, &a, a.hi, ping, NULL);
    wf_fiber_init(&pong_f, &b, b.hi, pong, NULL);
    t0 = now_ns();
    wf_fiber_switch(&thread_f, &ping_f);
    t1 = now_ns();
    wf_fiber_destroy(&ping_f);
    wf_fiber_destroy(&pong_f);
    wf_stack_put(pool, &cache, &a);
    wf_stack_put(pool, &cache, &b);
    wf_stack_cache_fini(pool, &cache);
    wf_stack_pool_free(pool);
    return (t1 - t0) / N;
}

static ucontext_t uc_thread, uc_ping, uc_pong;

static void uc_ping_fn(void)
{
    for (long i = 0; i < N / 2; i++)
        swapcontext(&uc_ping, &uc_pong);
    swapcontext(&uc_ping, &uc_thread);
}

static void uc_pong_fn(void)
{
    for (;;)
        swapcontext(&uc_pong, &uc_ping);
}

static double ucontext_ns(void)
{
    char *a = malloc(STACK_SIZE), *b = malloc(STACK_SIZE);
    double t0, t1;

    if (!a || !b) {
        fputs("context_switch: no stacks\n", stderr);
        exit(1);
    }
    getcontext(&uc_ping);
    uc_ping.uc_stack.ss_sp = a;
    uc_ping.uc_stack.ss_size = STACK_SIZE;
    makecontext(&uc_ping, uc_ping_fn, 0);
    getcontext(&uc_pong);
    uc_pong.uc_stack.ss_sp = b;
    uc_pong.uc_stack.ss_size = STACK_SIZE;
    makecontext(&uc_pong, uc_pong_fn, 0);
    t0 = now_ns();
    swapcontext(&uc_thread, &uc_ping);
    t1 = now_ns();
    free(a);
    free(b);
    return (t1 - t0) / N;
}

int main(void)
{
    double weft = weft_ns();
    double base = ucontext_ns();

    printf("weft context_switch %.2f ns\n", weft);
    printf("baseline context_switch_ucontext %.2f ns\n", base);
    printf("ratio context_switch %.4f\n", weft / base);
    return 0;
}
