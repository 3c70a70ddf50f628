/* Stress: lock, semaphore and condition storms across 4 workers with random
 * cancellations (scopes with tiny random deadlines).  Checks mutual exclusion
 * (at most one task inside the lock, at most N inside the semaphore), that a
 * protected counter equals the number of successful acquisitions, and that
 * no lock or permit is lost or duplicated (final state).
 * Sizes scale with WEFT_STRESS_SCALE; much smaller under TSan.
 * The whole run sits under a safety deadline, so a lost wake-up shows as a
 * failed check instead of a hang. */
/* WEFT_TEST_TIMEOUT 600 */
#define _GNU_SOURCE
#include "helpers.h"

#define TASKS 16
#define PERMITS 3

typedef struct {
    int rounds;
    weft_lock_t *l;
    weft_sem_t *s;
    weft_cond_t *c;
    atomic_int inside, max_inside;
    long counter;           /* protected by the lock */
    atomic_long acquired;
    atomic_long cancelled;
    /* condition storm: a bounded count protected by l */
    long items, produced, consumed;
    int producers_done;
} storm_t;

typedef struct {
    storm_t *s;
    int id;
} arg_t;

static void note_inside(storm_t *s, int n)
{
    int m = atomic_load(&s->max_inside);
    while (n > m && !atomic_compare_exchange_weak(&s->max_inside, &m, n)) {
    }
}

/* ------------------------------------------------------------ lock */

static int lock_task(void *p)
{
    arg_t *a = p;
    storm_t *s = a->s;
    uint64_t rng = 0x1234 + (uint64_t)a->id;
    for (int i = 0; i < s->rounds; i++) {
        weft_scope_t sc;
        weft_move_on_after(&sc, wt_tiny_deadline(&rng, 0.4, 0.1));
        int rc = wt_rand(&rng) % 8 == 0 ? weft_lock_try_acquire(s->l) : weft_lock_acquire(s->l);
        if (rc == 0) {
            int n = atomic_fetch_add(&s->inside, 1) + 1;
            note_inside(s, n);
            long c = s->counter;
            if (wt_rand(&rng) % 4 == 0) /* sometimes be slow inside */
                weft_checkpoint();
            s->counter = c + 1;
            atomic_fetch_sub(&s->inside, 1);
            atomic_fetch_add(&s->acquired, 1);
            EXPECT_RC(weft_lock_release(s->l), 0);
        } else if (rc == WEFT_ECANCELED) {
            atomic_fetch_add(&s->cancelled, 1);
        } else if (rc != WEFT_EAGAIN) {
            EXPECT_RC(rc, 0);
        }
        weft_scope_exit(&sc, rc);
    }
    return 0;
}

/* ------------------------------------------------------------ semaphore */

static int sem_task(void *p)
{
    arg_t *a = p;
    storm_t *s = a->s;
    uint64_t rng = 0x5678 + (uint64_t)a->id;
    for (int i = 0; i < s->rounds; i++) {
        weft_scope_t sc;
        weft_move_on_after(&sc, wt_tiny_deadline(&rng, 0.4, 0.1));
        int rc = wt_rand(&rng) % 8 == 0 ? weft_sem_try_acquire(s->s) : weft_sem_acquire(s->s);
        if (rc == 0) {
            int n = atomic_fetch_add(&s->inside, 1) + 1;
            note_inside(s, n);
            if (wt_rand(&rng) % 2 == 0)
                weft_checkpoint();
            atomic_fetch_sub(&s->inside, 1);
            atomic_fetch_add(&s->acquired, 1);
            EXPECT_RC(weft_sem_release(s->s), 0);
        } else if (rc == WEFT_ECANCELED) {
            atomic_fetch_add(&s->cancelled, 1);
        } else if (rc != WEFT_EAGAIN) {
            EXPECT_RC(rc, 0);
        }
        weft_scope_exit(&sc, rc);
    }
    return 0;
}

/* ------------------------------------------------------------ condition */

#define COND_BOUND 4

/* Producers add to a bounded count, consumers take from it; both wait on one
 * condition with cancellations.  Every wait must return holding the lock. */
static int cond_producer(void *p)
{
    arg_t *a = p;
    storm_t *s = a->s;
    uint64_t rng = 0x9abc + (uint64_t)a->id;
    for (int i = 0; i < s->rounds;) {
        weft_scope_t sc;
        weft_move_on_after(&sc, wt_tiny_deadline(&rng, 0.4, 0.1));
        int rc = weft_lock_acquire(s->l);
        if (rc == 0) {
            while (rc == 0 && s->items >= COND_BOUND)
                rc = weft_cond_wait(s->c);
            /* Held again, cancelled or not. */
            EXPECT_RC(weft_lock_try_acquire(s->l), WEFT_EPERM);
            if (rc == 0) {
                s->items++;
                s->produced++;
                i++;
                weft_cond_notify_all(s->c);
            }
            EXPECT_RC(weft_lock_release(s->l), 0);
        }
        if (rc == WEFT_ECANCELED)
            atomic_fetch_add(&s->cancelled, 1);
        else
            EXPECT_RC(rc, 0);
        weft_scope_exit(&sc, rc);
    }
    EXPECT_RC(weft_lock_acquire(s->l), 0);
    s->producers_done++;
    weft_cond_notify_all(s->c);
    EXPECT_RC(weft_lock_release(s->l), 0);
    return 0;
}

static int cond_consumer(void *p)
{
    arg_t *a = p;
    storm_t *s = a->s;
    uint64_t rng = 0xdef0 + (uint64_t)a->id;
    for (;;) {
        weft_scope_t sc;
        int done = 0;
        weft_move_on_after(&sc, wt_tiny_deadline(&rng, 0.4, 0.1));
        int rc = weft_lock_acquire(s->l);
        if (rc == 0) {
            while (rc == 0 && s->items == 0 && s->producers_done < TASKS / 2)
                rc = weft_cond_wait(s->c);
            EXPECT_RC(weft_lock_try_acquire(s->l), WEFT_EPERM);
            if (rc == 0) {
                if (s->items > 0) {
                    s->items--;
                    s->consumed++;
                    weft_cond_notify(s->c, 1 + (unsigned)(wt_rand(&rng) % 2));
                } else {
                    done = 1;
                }
            }
            EXPECT_RC(weft_lock_release(s->l), 0);
        }
        if (rc == WEFT_ECANCELED)
            atomic_fetch_add(&s->cancelled, 1);
        else
            EXPECT_RC(rc, 0);
        weft_scope_exit(&sc, rc);
        if (done)
            return 0;
    }
}

/* ------------------------------------------------------------ runs */

static void storm(storm_t *s)
{
    arg_t args[TASKS];
    weft_group_t g;
    weft_scope_t safety;
    weft_fail_after(&safety, 120.0);
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < TASKS; i++) {
        args[i] = (arg_t){s, i};
        weft_fn_t fn = s->s ? sem_task : s->c ? (i % 2 ? cond_consumer : cond_producer) : lock_task;
        EXPECT_RC(weft_group_spawn(&g, fn, &args[i]), 0);
    }
    EXPECT_RC(weft_scope_exit(&safety, weft_group_close(&g, 0)), 0);
}

static int rounds(void)
{
    return wt_scaled(WT_TSAN_PICK(60000, 5000));
}

static int lock_storm(void *p)
{
    (void)p;
    storm_t s = {.rounds = rounds()};
    EXPECT_RC(weft_lock_new(&s.l), 0);
    if (!s.l)
        return WEFT_ENOMEM;
    storm(&s);
    EXPECT(atomic_load(&s.max_inside) == 1);
    EXPECT(s.counter == atomic_load(&s.acquired));
    EXPECT(weft_lock_locked(s.l) == 0);
    weft_lock_stats_t ls;
    weft_lock_stats(s.l, &ls);
    EXPECT(ls.tasks_waiting == 0);
    print_message("lock: %ld acquired, %ld cancelled\n", atomic_load(&s.acquired),
                  atomic_load(&s.cancelled));
    weft_lock_free(s.l);
    return 0;
}

static int sem_storm(void *p)
{
    (void)p;
    storm_t s = {.rounds = rounds()};
    EXPECT_RC(weft_sem_new(&s.s, PERMITS, PERMITS), 0);
    if (!s.s)
        return WEFT_ENOMEM;
    storm(&s);
    EXPECT(atomic_load(&s.max_inside) <= PERMITS);
    EXPECT(atomic_load(&s.max_inside) >= 1);
    EXPECT(weft_sem_value(s.s) == PERMITS); /* every permit came back */
    weft_sem_stats_t ss;
    weft_sem_stats(s.s, &ss);
    EXPECT(ss.tasks_waiting == 0);
    print_message("sem: %ld acquired, %ld cancelled, at most %d inside\n",
                  atomic_load(&s.acquired), atomic_load(&s.cancelled),
                  atomic_load(&s.max_inside));
    weft_sem_free(s.s);
    return 0;
}

static int cond_storm(void *p)
{
    (void)p;
    storm_t s = {.rounds = rounds() / 4};
    EXPECT_RC(weft_lock_new(&s.l), 0);
    if (!s.l)
        return WEFT_ENOMEM;
    EXPECT_RC(weft_cond_new(&s.c, s.l), 0);
    if (!s.c) {
        weft_lock_free(s.l);
        return WEFT_ENOMEM;
    }
    storm(&s);
    EXPECT(s.produced == (long)s.rounds * (TASKS / 2));
    EXPECT(s.consumed == s.produced);
    EXPECT(s.items == 0);
    EXPECT(weft_lock_locked(s.l) == 0);
    print_message("cond: %ld items, %ld cancelled waits\n", s.consumed,
                  atomic_load(&s.cancelled));
    weft_cond_free(s.c);
    weft_lock_free(s.l);
    return 0;
}

static const wt_case_t cases[] = {
    WT_CASE_ON(lock_storm, WT_W4),
    WT_CASE_ON(sem_storm, WT_W4),
    WT_CASE_ON(cond_storm, WT_W4),
};
WT_SUITE(cases)
