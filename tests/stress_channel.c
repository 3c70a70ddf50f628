/* Stress: many producers and consumers on clones of one channel across 4
 * workers, with random cancellations (scopes with tiny random deadlines) on
 * both sides, a mix of blocking and _nowait calls, and consumers that close
 * their clone early.  Checks that every item sent is received exactly once
 * and that a send that failed kept its item.
 * Sizes scale with WEFT_STRESS_SCALE; much smaller under TSan.
 * The whole run sits under a safety deadline, so a lost wake-up shows as a
 * failed check instead of a hang. */
/* WEFT_TEST_TIMEOUT 600 */
#define _GNU_SOURCE
#include "helpers.h"

#define PRODUCERS 6
#define CONSUMERS 6

typedef struct {
    size_t cap;
    int per_producer;
    weft_sender_t *tx;
    weft_receiver_t *rx;
    atomic_uchar *seen;
    atomic_int received;
    atomic_int cancelled_sends, cancelled_recvs;
    atomic_int dup, bad;
    uint64_t seed;
} run_t;

typedef struct {
    run_t *r;
    int id;
    weft_sender_t *tx;
    weft_receiver_t *rx;
} role_t;

static int producer(void *p)
{
    role_t *a = p;
    run_t *r = a->r;
    uint64_t rng = r->seed * 1000 + (uint64_t)a->id;
    for (int k = 0; k < r->per_producer;) {
        intptr_t id = (intptr_t)a->id * r->per_producer + k;
        void *item = (void *)(id + 1);
        int rc;
        if (wt_rand(&rng) % 8 == 0) {
            rc = weft_send_nowait(a->tx, item);
            if (rc == WEFT_EAGAIN) {
                weft_checkpoint();
                continue;
            }
        } else {
            weft_scope_t sc;
            weft_move_on_after(&sc, wt_tiny_deadline(&rng, 0.3, 0.1));
            rc = weft_send(a->tx, item);
            int xrc = weft_scope_exit(&sc, rc);
            if (rc == WEFT_ECANCELED) {
                EXPECT_RC(xrc, 0);
                atomic_fetch_add(&r->cancelled_sends, 1);
                continue; /* not delivered: still ours, send it again */
            }
        }
        if (rc != 0) {
            EXPECT_RC(rc, 0);
            break;
        }
        k++;
    }
    weft_sender_close(a->tx);
    return 0;
}

static void got(run_t *r, void *item)
{
    intptr_t id = (intptr_t)item - 1;
    if (id < 0 || id >= (intptr_t)PRODUCERS * r->per_producer) {
        atomic_fetch_add(&r->bad, 1);
        return;
    }
    if (atomic_fetch_add(&r->seen[id], 1) != 0)
        atomic_fetch_add(&r->dup, 1);
    atomic_fetch_add(&r->received, 1);
}

static int consumer(void *p)
{
    role_t *a = p;
    run_t *r = a->r;
    uint64_t rng = r->seed * 7777 + (uint64_t)a->id;
    /* Consumer 0 stays to the end; the others may leave early. */
    int quit_after = a->id == 0 ? -1 : (int)(wt_rand(&rng) % (uint64_t)(r->per_producer * 2 + 1));
    for (int n = 0;; n++) {
        if (n == quit_after)
            break;
        void *item = NULL;
        int rc;
        if (wt_rand(&rng) % 8 == 0) {
            rc = weft_recv_nowait(a->rx, &item);
            if (rc == WEFT_EAGAIN) {
                weft_checkpoint();
                continue;
            }
        } else {
            weft_scope_t sc;
            weft_move_on_after(&sc, wt_tiny_deadline(&rng, 0.3, 0.1));
            rc = weft_recv(a->rx, &item);
            int xrc = weft_scope_exit(&sc, rc);
            if (rc == WEFT_ECANCELED) {
                EXPECT_RC(xrc, 0);
                EXPECT(item == NULL);
                atomic_fetch_add(&r->cancelled_recvs, 1);
                continue;
            }
        }
        if (rc == WEFT_EOF)
            break;
        if (rc != 0) {
            EXPECT_RC(rc, 0);
            break;
        }
        got(r, item);
    }
    weft_receiver_close(a->rx);
    return 0;
}

static void run_storm(run_t *r)
{
    role_t prod[PRODUCERS], cons[CONSUMERS];
    weft_group_t g;
    weft_scope_t safety;
    weft_fail_after(&safety, 120.0);
    EXPECT_RC(weft_channel(r->cap, &r->tx, &r->rx), 0);
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < CONSUMERS; i++) {
        cons[i] = (role_t){r, i, NULL, NULL};
        EXPECT_RC(weft_receiver_clone(r->rx, &cons[i].rx), 0);
        EXPECT_RC(weft_group_spawn(&g, consumer, &cons[i]), 0);
    }
    for (int i = 0; i < PRODUCERS; i++) {
        prod[i] = (role_t){r, i, NULL, NULL};
        EXPECT_RC(weft_sender_clone(r->tx, &prod[i].tx), 0);
        EXPECT_RC(weft_group_spawn(&g, producer, &prod[i]), 0);
    }
    weft_sender_close(r->tx);
    weft_receiver_close(r->rx);
    int rc = weft_group_close(&g, 0);
    EXPECT_RC(weft_scope_exit(&safety, rc), 0);
}

/* One storm on a channel of capacity cap; every item received once. */
static int run_one(size_t cap, int per_producer, uint64_t seed)
{
    run_t r = {.cap = cap, .per_producer = per_producer, .seed = seed};
    size_t total = (size_t)PRODUCERS * (size_t)per_producer;
    r.seen = calloc(total, sizeof *r.seen);
    EXPECT(r.seen != NULL);
    if (!r.seen)
        return WEFT_ENOMEM;
    run_storm(&r);
    EXPECT(atomic_load(&r.dup) == 0);
    EXPECT(atomic_load(&r.bad) == 0);
    EXPECT(atomic_load(&r.received) == (int)total);
    for (size_t i = 0; i < total; i++)
        if (atomic_load(&r.seen[i]) != 1) {
            wt_failf(__FILE__, __LINE__, "item %zu received %d times", i,
                     (int)atomic_load(&r.seen[i]));
            break;
        }
    print_message("cap %zu: %zu items, %d sends and %d receives cancelled\n", cap, total,
                  atomic_load(&r.cancelled_sends), atomic_load(&r.cancelled_recvs));
    free(r.seen);
    return 0;
}

static int per_producer(void)
{
    return wt_scaled(WT_TSAN_PICK(80000, 10000));
}

static int rendezvous(void *p)
{
    (void)p;
    return run_one(0, per_producer(), 1);
}

static int capacity_1(void *p)
{
    (void)p;
    return run_one(1, per_producer(), 2);
}

static int capacity_16(void *p)
{
    (void)p;
    return run_one(16, per_producer(), 3);
}

static const wt_case_t cases[] = {
    WT_CASE_ON(rendezvous, WT_W4),
    WT_CASE_ON(capacity_1, WT_W4),
    WT_CASE_ON(capacity_16, WT_W4),
};
WT_SUITE(cases)
