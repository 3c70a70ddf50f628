/* sched/spinwait.h, white box: a spin's budget shrinks with its recent
 * misses and comes back after a hit.
 *  - a spin that finds its answer returns it and clears the misses;
 *  - each spin that ends with nothing counts one miss, up to the floor (5:
 *    1/32 of the budget);
 *  - after misses, seven spins of eight run the shrunk budget (they end far
 *    sooner than the whole one) and the eighth tries the whole budget;
 *  - a thread spinning on the answer another thread gives gets it. */
#define _GNU_SOURCE
#include "helpers.h"

#include "sched/spinwait.h"

#include <pthread.h>
#include <time.h>

#define BUDGET 2e-3 /* long enough that a shrunk spin is clearly shorter */

static int never(const void *arg)
{
    (void)arg;
    return 0;
}

static int flag_up(const void *arg)
{
    return atomic_load((atomic_int *)arg);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static unsigned misses(wf_spinwait_t *s)
{
    return atomic_load(&s->misses);
}

static void hit_returns_the_answer_and_clears_misses(void)
{
    wf_spinwait_t s = WF_SPINWAIT_INIT;
    atomic_int up = 7;
    atomic_store(&s.misses, 3);
    assert_int_equal(wf_spinwait(&s, BUDGET, flag_up, &up), 7);
    assert_int_equal(misses(&s), 0);
}

static void misses_count_up_to_the_floor(void)
{
    wf_spinwait_t s = WF_SPINWAIT_INIT;
    for (unsigned i = 1; i <= 8; i++) {
        assert_int_equal(wf_spinwait(&s, 20e-6, never, NULL), 0);
        /* A spin the kernel descheduled counts as all five at once. */
        assert_true(misses(&s) == (i < 5 ? i : 5) || misses(&s) == 5);
    }
    assert_int_equal(misses(&s), 5);
}

static void shrunk_budget_and_probes(void)
{
    wf_spinwait_t s = WF_SPINWAIT_INIT;
    atomic_store(&s.misses, 5);
    atomic_store(&s.spins, 1); /* the next probe is the 8th spin from here */
    double shortest = 1, longest = 0;
    for (int i = 0; i < 7; i++) {
        double t0 = now();
        assert_int_equal(wf_spinwait(&s, BUDGET, never, NULL), 0);
        double took = now() - t0;
        shortest = took < shortest ? took : shortest;
    }
    double t0 = now();
    assert_int_equal(wf_spinwait(&s, BUDGET, never, NULL), 0); /* the probe */
    longest = now() - t0;
    /* 1/32 of 2 ms is 62 us; the probe spins the whole 2 ms unless the
     * kernel took the thread away (then it ends early: not measurable). */
    assert_true(shortest < BUDGET / 4);
    if (misses(&s) == 5 && longest < BUDGET)
        print_message("probe ended early (descheduled?): %.0f us\n", longest * 1e6);
    assert_int_equal(misses(&s), 5);
}

static void *raise_flag(void *arg)
{
    struct timespec ts = {0, 100000};
    nanosleep(&ts, NULL);
    atomic_store((atomic_int *)arg, 1);
    return NULL;
}

static void answer_from_another_thread(void)
{
    wf_spinwait_t s = WF_SPINWAIT_INIT;
    int got = 0;
    for (int round = 0; round < 20 && !got; round++) {
        atomic_int up = 0;
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, raise_flag, &up), 0);
        got = wf_spinwait(&s, 0.5, flag_up, &up); /* 0 only if descheduled */
        pthread_join(t, NULL);
    }
    assert_int_equal(got, 1);
    assert_int_equal(misses(&s), 0);
}

static const wt_case_t cases[] = {
    WT_TEST(hit_returns_the_answer_and_clears_misses),
    WT_TEST(misses_count_up_to_the_floor),
    WT_TEST(shrunk_budget_and_probes),
    WT_TEST(answer_from_another_thread),
};
WT_SUITE(cases)
