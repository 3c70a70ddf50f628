/* The rules every waiting primitive shares (include/weft/sync.h,
 * include/weft/channel.h, docs/sync.md, docs/channels.md), one case per rule,
 * each run over the table of waiting operations `ops` below:
 *
 *   1. a waiter cancelled while blocked returns WEFT_ECANCELED and takes
 *      nothing: the unit offered at that moment goes to the next waiter;
 *   2. a wait granted before the cancellation arrives returns 0 and the
 *      waiter holds the unit; its next checkpoint reports the cancellation;
 *   3. waiters are served in the order they started waiting;
 *   4. in a cancelled scope the call returns WEFT_ECANCELED at once (every
 *      time) and takes nothing, though a unit is free.
 *
 * A row of `ops` says how to make its object unavailable, the waiting call,
 * how to make one unit available and what a waiter got.  A new waiting
 * primitive adds its row here (docs/ARCHITECTURE.md); its own suite keeps
 * only what is specific to it. */
#define _GNU_SOURCE
#include "helpers.h"

#define NW 4              /* waiters of one scenario at most */
#define PENDING 1         /* a waiter's result before its wait returned */
#define ROUNDS 20         /* rule 2 races the waiter's wake-up on 2 workers */

/* Channel items: what waiter i sends, the k-th item handed to receivers, and
 * the item a full channel starts with. */
#define ITEM(i) ((void *)(uintptr_t)(0x100 + (i)))
#define UNIT(k) ((void *)(uintptr_t)(0x200 + (k)))
#define PREFILL ((void *)(uintptr_t)0x300)

typedef struct ctx ctx_t;

typedef struct {
    ctx_t *c;
    int i;
    int cancel_first;    /* rule 4: its scope is cancelled before the call */
    weft_scope_t *scope; /* its scope, alive until it is let go */
    void *got;           /* a receive's item; NULL while it got none */
    atomic_int rc;       /* PENDING until the wait returned */
    int again;           /* rule 4: the second call's result */
    atomic_int go;       /* main lets it go on */
    int after;           /* its next checkpoint's result, once let go */
} waiter_t;

typedef struct {
    const char *name;
    void (*make)(ctx_t *c);               /* create the object, unavailable */
    void (*enter)(ctx_t *c);              /* in a waiter before its scope, or NULL */
    int (*wait)(ctx_t *c, waiter_t *w);   /* the waiting call */
    void (*got)(ctx_t *c, int rc);        /* right after it: what the waiter holds, or NULL */
    void (*leave)(ctx_t *c);              /* after `got`, or NULL */
    void (*give)(ctx_t *c);               /* one unit available (for the first waiter) */
    int (*offer)(ctx_t *c);               /* rule 4: one unit free with nobody waiting; 0: none can be */
    size_t (*waiting)(ctx_t *c);          /* tasks blocked in `wait` */
    int (*left)(ctx_t *c);                /* units free now, or NULL: the object keeps none */
    void (*check)(ctx_t *c);              /* at the end: where the units went, or NULL */
    void (*free)(ctx_t *c);
} op_t;

struct ctx {
    const op_t *op;
    weft_lock_t *lock;
    weft_sem_t *sem;
    weft_limiter_t *lim;
    weft_cond_t *cond;
    weft_sender_t *tx;
    weft_receiver_t *rx;
    size_t cap;
    weft_group_t g;
    int queued;                /* waiters started so far that queued */
    waiter_t w[NW];
    atomic_int order[NW];      /* the waiter served k-th; -1: none yet */
    atomic_int grants;
    void *log[NW + 1];         /* sends: the items taken out of the channel, in order */
    atomic_int logged;
    atomic_int units;          /* receives: items handed in so far */
};

/* Reads of what the tasks record, short enough for a failed check's text. */
static int grants(ctx_t *c)
{
    return atomic_load(&c->grants);
}

/* The waiter served k-th; -1 while none was. */
static int served(ctx_t *c, int k)
{
    return atomic_load(&c->order[k]);
}

static int result(waiter_t *w)
{
    return atomic_load(&w->rc);
}

/* ------------------------------------------------------------ lock: held */

static void lock_make(ctx_t *c)
{
    EXPECT_RC(weft_lock_new(&c->lock), 0);
    EXPECT_RC(weft_lock_acquire(c->lock), 0);
}

static int lock_wait(ctx_t *c, waiter_t *w)
{
    (void)w;
    return weft_lock_acquire(c->lock);
}

/* Held by the caller: try_acquire says EPERM to the owner alone, release to
 * everyone else (neither call changes anything then). */
static void lock_held(weft_lock_t *l, int held)
{
    EXPECT_RC(held ? weft_lock_try_acquire(l) : weft_lock_release(l), WEFT_EPERM);
}

static void lock_got(ctx_t *c, int rc)
{
    lock_held(c->lock, rc == 0);
}

static void lock_give(ctx_t *c)
{
    EXPECT_RC(weft_lock_release(c->lock), 0);
}

static size_t lock_waiting(ctx_t *c)
{
    weft_lock_stats_t st;
    weft_lock_stats(c->lock, &st);
    return st.tasks_waiting;
}

static int lock_left(ctx_t *c)
{
    return !weft_lock_locked(c->lock);
}

static void lock_free(ctx_t *c)
{
    weft_lock_free(c->lock);
}

/* ------------------------------------------------------------ semaphore: no permit */

static void sem_make(ctx_t *c)
{
    EXPECT_RC(weft_sem_new(&c->sem, 0, 0), 0);
}

static int sem_wait(ctx_t *c, waiter_t *w)
{
    (void)w;
    return weft_sem_acquire(c->sem);
}

static void sem_give(ctx_t *c)
{
    EXPECT_RC(weft_sem_release(c->sem), 0);
}

static size_t sem_waiting(ctx_t *c)
{
    weft_sem_stats_t st;
    weft_sem_stats(c->sem, &st);
    return st.tasks_waiting;
}

static int sem_left(ctx_t *c)
{
    return (int)weft_sem_value(c->sem);
}

static void sem_free(ctx_t *c)
{
    weft_sem_free(c->sem);
}

/* ------------------------------------------------------------ limiter: no token */

static weft_limiter_stats_t lim_stats(ctx_t *c)
{
    weft_limiter_stats_t st;
    weft_limiter_stats(c->lim, &st);
    return st;
}

/* One token, borrowed by main. */
static void lim_make(ctx_t *c)
{
    EXPECT_RC(weft_limiter_new(&c->lim, 1), 0);
    EXPECT_RC(weft_limiter_acquire(c->lim), 0);
}

static int lim_wait(ctx_t *c, waiter_t *w)
{
    (void)w;
    return weft_limiter_acquire(c->lim);
}

/* As for the lock: a second token is EPERM for a holder, a release EPERM for
 * anyone else. */
static void lim_got(ctx_t *c, int rc)
{
    EXPECT_RC(rc == 0 ? weft_limiter_try_acquire(c->lim) : weft_limiter_release(c->lim),
              WEFT_EPERM);
}

static void lim_give(ctx_t *c)
{
    EXPECT_RC(weft_limiter_release(c->lim), 0);
}

static size_t lim_waiting(ctx_t *c)
{
    return lim_stats(c).tasks_waiting;
}

static int lim_left(ctx_t *c)
{
    weft_limiter_stats_t st = lim_stats(c);
    return (int)st.total_tokens - (int)st.borrowed_tokens;
}

/* Freeing a limiter that still lends a token aborts: leak it instead when a
 * broken rule left one out (the failure is recorded already). */
static void lim_free(ctx_t *c)
{
    weft_limiter_stats_t st = lim_stats(c);
    if (st.borrowed_tokens == 0 && st.tasks_waiting == 0)
        weft_limiter_free(c->lim);
}

/* ------------------------------------------------------------ condition: until notified */

static void cond_make(ctx_t *c)
{
    EXPECT_RC(weft_lock_new(&c->lock), 0);
    EXPECT_RC(weft_cond_new(&c->cond, c->lock), 0);
}

/* A condition's waiter holds its lock before the wait and after it. */
static void cond_enter(ctx_t *c)
{
    EXPECT_RC(weft_lock_acquire(c->lock), 0);
}

static int cond_wait(ctx_t *c, waiter_t *w)
{
    (void)w;
    return weft_cond_wait(c->cond);
}

/* Cancelled or not, it holds the lock again (sync.h). */
static void cond_got(ctx_t *c, int rc)
{
    (void)rc;
    lock_held(c->lock, 1);
}

static void cond_leave(ctx_t *c)
{
    EXPECT_RC(weft_lock_release(c->lock), 0);
}

static void cond_give(ctx_t *c)
{
    weft_cond_notify(c->cond, 1);
}

/* A notification is not stored: with nobody waiting none can be free. */
static int cond_offer(ctx_t *c)
{
    (void)c;
    return 0;
}

static size_t cond_waiting(ctx_t *c)
{
    weft_cond_stats_t st;
    weft_cond_stats(c->cond, &st);
    return st.tasks_waiting;
}

static void cond_free(ctx_t *c)
{
    weft_cond_free(c->cond);
    weft_lock_free(c->lock);
}

/* ------------------------------------------------------------ channels */

static weft_channel_stats_t chan_stats(ctx_t *c)
{
    weft_channel_stats_t st;
    weft_sender_stats(c->tx, &st);
    return st;
}

static void log_item(ctx_t *c, void *item)
{
    int n = atomic_fetch_add(&c->logged, 1);
    if (n < NW + 1)
        c->log[n] = item;
}

static void chan_free(ctx_t *c)
{
    weft_sender_close(c->tx);
    weft_receiver_close(c->rx);
}

/* Send, full: a channel of one item that holds one.  Send, rendezvous: no
 * receiver waits. */
static void send_full_make(ctx_t *c)
{
    c->cap = 1;
    EXPECT_RC(weft_channel(c->cap, &c->tx, &c->rx), 0);
    EXPECT_RC(weft_send_nowait(c->tx, PREFILL), 0);
}

static void send_rendezvous_make(ctx_t *c)
{
    EXPECT_RC(weft_channel(0, &c->tx, &c->rx), 0);
}

static int send_wait(ctx_t *c, waiter_t *w)
{
    return weft_send(c->tx, ITEM(w->i));
}

/* Receive one item: it frees a slot for the first waiting sender (full) or
 * takes that sender's item (rendezvous, where none is left to take once
 * every sender was served). */
static void send_give(ctx_t *c)
{
    void *item = NULL;
    int rc = weft_recv_nowait(c->rx, &item);
    if (rc == 0)
        log_item(c, item);
    else
        EXPECT(rc == WEFT_EAGAIN && c->cap == 0);
}

static size_t send_waiting(ctx_t *c)
{
    return chan_stats(c).tasks_waiting_send;
}

static int send_full_left(ctx_t *c)
{
    return (int)(c->cap - chan_stats(c).current_buffer_used);
}

/* Out of the channel came the item it started with, then the items of the
 * senders served, in the order they were served, and nothing else. */
static void send_check(ctx_t *c)
{
    void *want[NW + 1];
    int n = 0, logged = atomic_load(&c->logged);
    if (c->cap)
        want[n++] = PREFILL;
    for (int k = 0; k < grants(c); k++)
        want[n++] = ITEM(served(c, k));
    EXPECT(logged == n);
    for (int k = 0; k < n && k < logged; k++)
        EXPECT(c->log[k] == want[k]);
}

/* A rendezvous unit is a receiver waiting: start one. */
static int taker(void *p)
{
    ctx_t *c = p;
    void *item = NULL;
    EXPECT_RC(weft_recv(c->rx, &item), 0);
    log_item(c, item);
    return 0;
}

static int send_rendezvous_offer(ctx_t *c)
{
    EXPECT_RC(weft_group_spawn(&c->g, taker, c), 0);
    WAIT_FOR(chan_stats(c).tasks_waiting_receive == 1);
    return 1;
}

/* Receive, empty: a channel of one item that holds none. */
static void recv_make(ctx_t *c)
{
    c->cap = 1;
    EXPECT_RC(weft_channel(c->cap, &c->tx, &c->rx), 0);
}

static int recv_wait(ctx_t *c, waiter_t *w)
{
    return weft_recv(c->rx, &w->got);
}

static void recv_give(ctx_t *c)
{
    EXPECT_RC(weft_send_nowait(c->tx, UNIT(atomic_fetch_add(&c->units, 1))), 0);
}

static size_t recv_waiting(ctx_t *c)
{
    return chan_stats(c).tasks_waiting_receive;
}

static int recv_left(ctx_t *c)
{
    return (int)chan_stats(c).current_buffer_used;
}

/* The k-th receiver served got the k-th item sent; the others got none. */
static void recv_check(ctx_t *c)
{
    for (int k = 0; k < grants(c); k++)
        EXPECT(c->w[served(c, k)].got == UNIT(k));
    for (int i = 0; i < NW; i++)
        if (result(&c->w[i]) != 0)
            EXPECT(c->w[i].got == NULL);
}

/* ------------------------------------------------------------ the table */

/* Rule 4's free unit, for the objects that keep one: `give` with nobody
 * waiting. */
static int offer_give(ctx_t *c)
{
    c->op->give(c);
    return 1;
}

static const op_t ops[] = {
    {.name = "lock", .make = lock_make, .wait = lock_wait, .got = lock_got, .give = lock_give,
     .offer = offer_give, .waiting = lock_waiting, .left = lock_left, .free = lock_free},
    {.name = "semaphore", .make = sem_make, .wait = sem_wait, .give = sem_give,
     .offer = offer_give, .waiting = sem_waiting, .left = sem_left, .free = sem_free},
    {.name = "limiter", .make = lim_make, .wait = lim_wait, .got = lim_got, .give = lim_give,
     .offer = offer_give, .waiting = lim_waiting, .left = lim_left, .free = lim_free},
    {.name = "condition", .make = cond_make, .enter = cond_enter, .wait = cond_wait,
     .got = cond_got, .leave = cond_leave, .give = cond_give, .offer = cond_offer,
     .waiting = cond_waiting, .free = cond_free},
    {.name = "send (full)", .make = send_full_make, .wait = send_wait, .give = send_give,
     .offer = offer_give, .waiting = send_waiting, .left = send_full_left,
     .check = send_check, .free = chan_free},
    {.name = "send (rendezvous)", .make = send_rendezvous_make, .wait = send_wait,
     .give = send_give, .offer = send_rendezvous_offer, .waiting = send_waiting,
     .check = send_check, .free = chan_free},
    {.name = "receive (empty)", .make = recv_make, .wait = recv_wait, .give = recv_give,
     .offer = offer_give, .waiting = recv_waiting, .left = recv_left, .check = recv_check,
     .free = chan_free},
};

/* ------------------------------------------------------------ one scenario */

/* A waiter: the waiting call in a scope of its own, what it got recorded,
 * then (once main lets it go) its next checkpoint, and a unit it got passed
 * on to the next waiter. */
static int waiter(void *p)
{
    waiter_t *w = p;
    ctx_t *c = w->c;
    const op_t *op = c->op;
    weft_scope_t sc;
    if (op->enter)
        op->enter(c);
    weft_scope_enter(&sc, WEFT_FOREVER, 0);
    w->scope = &sc;
    if (w->cancel_first)
        weft_scope_cancel(&sc);
    int rc = op->wait(c, w);
    if (w->cancel_first)
        w->again = op->wait(c, w);
    if (op->got)
        op->got(c, rc);
    if (op->leave)
        op->leave(c);
    if (rc == 0)
        atomic_store(&c->order[atomic_fetch_add(&c->grants, 1)], w->i);
    atomic_store(&w->rc, rc);
    EXPECT(wt_wait_flag(&w->go, 1, 10.0));
    w->after = weft_checkpoint();
    if (rc == 0)
        op->give(c);
    return weft_scope_exit(&sc, rc);
}

static void begin(ctx_t *c, const op_t *op)
{
    memset(c, 0, sizeof *c);
    c->op = op;
    for (int k = 0; k < NW; k++)
        atomic_store(&c->order[k], -1);
    op->make(c);
    EXPECT_RC(weft_group_open(&c->g), 0);
}

enum start { QUEUED, CANCELLED_FIRST, SERVED_AT_ONCE };

/* Start waiter i; a QUEUED one is waiting when this returns, so waiters
 * start waiting in the order of their numbers. */
static void start_waiter(ctx_t *c, int i, enum start how)
{
    waiter_t *w = &c->w[i];
    w->c = c;
    w->i = i;
    w->cancel_first = how == CANCELLED_FIRST;
    atomic_store(&w->rc, PENDING);
    EXPECT_RC(weft_group_spawn(&c->g, waiter, w), 0);
    if (how == QUEUED) {
        c->queued++;
        WAIT_FOR(c->op->waiting(c) == (size_t)c->queued);
    }
}

static int returned(waiter_t *w)
{
    return result(w) != PENDING;
}

/* Let the n waiters go on and wait for them; then check that one unit is
 * free (what main made available, passed on by every waiter served) and
 * where the units went, and free the object.  A broken rule can leave a
 * waiter blocked for ever: cancel the group rather than hang. */
static void end(ctx_t *c, int n)
{
    int stuck = 0;
    for (int i = 0; i < n; i++)
        atomic_store(&c->w[i].go, 1);
    for (int i = 0; i < n; i++) {
        WAIT_FOR(returned(&c->w[i]));
        stuck |= !returned(&c->w[i]);
    }
    if (stuck)
        weft_group_cancel(&c->g);
    EXPECT_RC(weft_group_close(&c->g, 0), 0);
    if (c->op->left)
        EXPECT(c->op->left(c) == 1);
    if (c->op->check)
        c->op->check(c);
    c->op->free(c);
}

/* ------------------------------------------------------------ the rules */

/* Rule 1: three waiters; the first is cancelled and at that moment a unit
 * is given: it goes to the second. */
static void cancelled_waiter_rule(const op_t *op)
{
    ctx_t c;
    begin(&c, op);
    for (int i = 0; i < 3; i++)
        start_waiter(&c, i, QUEUED);
    weft_scope_cancel(c.w[0].scope);
    op->give(&c);
    WAIT_FOR(returned(&c.w[0]) && grants(&c) == 1);
    EXPECT_RC(result(&c.w[0]), WEFT_ECANCELED);
    EXPECT(served(&c, 0) == 1);
    EXPECT(op->waiting(&c) == 1); /* the cancelled waiter left the queue */
    end(&c, 3);
    EXPECT(grants(&c) == 2 && served(&c, 1) == 2);
    EXPECT_RC(c.w[0].after, WEFT_ECANCELED);
    EXPECT_RC(c.w[1].after, 0);
    EXPECT_RC(c.w[2].after, 0);
}

/* Rule 2: a unit given to the only waiter, then its scope cancelled before
 * it ran (on one worker it cannot run in between). */
static void granted_wait_rule(const op_t *op)
{
    int before = atomic_load(&wt_fail_count);
    for (int round = 0; round < ROUNDS && atomic_load(&wt_fail_count) == before; round++) {
        ctx_t c;
        begin(&c, op);
        start_waiter(&c, 0, QUEUED);
        op->give(&c);
        weft_scope_cancel(c.w[0].scope);
        end(&c, 1);
        EXPECT_RC(result(&c.w[0]), 0);
        EXPECT_RC(c.w[0].after, WEFT_ECANCELED);
    }
}

/* Rule 3: NW waiters, one unit given, passed on by each waiter served. */
static void fifo_rule(const op_t *op)
{
    ctx_t c;
    begin(&c, op);
    for (int i = 0; i < NW; i++)
        start_waiter(&c, i, QUEUED);
    op->give(&c);
    for (int k = 0; k < NW; k++) {
        WAIT_FOR(grants(&c) == k + 1);
        int i = served(&c, k);
        EXPECT(i == k);
        if (i >= 0)
            atomic_store(&c.w[i].go, 1);
    }
    end(&c, NW);
    for (int i = 0; i < NW; i++)
        EXPECT_RC(c.w[i].after, 0);
}

/* Rule 4: a unit free, a call in a cancelled scope; then the unit is still
 * free: the next caller is served at once. */
static void cancelled_scope_rule(const op_t *op)
{
    ctx_t c;
    begin(&c, op);
    int unit_free = op->offer(&c);
    start_waiter(&c, 0, CANCELLED_FIRST);
    WAIT_FOR(returned(&c.w[0]));
    EXPECT_RC(result(&c.w[0]), WEFT_ECANCELED);
    EXPECT_RC(c.w[0].again, WEFT_ECANCELED);
    EXPECT(op->waiting(&c) == 0);
    if (unit_free) {
        start_waiter(&c, 1, SERVED_AT_ONCE);
        WAIT_FOR(grants(&c) == 1);
        EXPECT(served(&c, 0) == 1);
    }
    end(&c, unit_free ? 2 : 1);
    EXPECT_RC(c.w[0].after, WEFT_ECANCELED);
}

/* ------------------------------------------------------------ cases */

static void over_every_op(void (*rule)(const op_t *op))
{
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        int before = atomic_load(&wt_fail_count);
        rule(&ops[i]);
        if (atomic_load(&wt_fail_count) != before)
            fprintf(stderr, "waiting contract: %s breaks the rule\n", ops[i].name);
    }
}

static int cancelled_waiter_takes_nothing(void *p)
{
    (void)p;
    over_every_op(cancelled_waiter_rule);
    return 0;
}

static int granted_wait_beats_cancel(void *p)
{
    (void)p;
    over_every_op(granted_wait_rule);
    return 0;
}

static int fifo_order(void *p)
{
    (void)p;
    over_every_op(fifo_rule);
    return 0;
}

static int cancelled_scope_takes_nothing(void *p)
{
    (void)p;
    over_every_op(cancelled_scope_rule);
    return 0;
}

static const wt_case_t cases[] = {
    WT_CASE(cancelled_waiter_takes_nothing),
    WT_CASE(granted_wait_beats_cancel),
    WT_CASE(fifo_order),
    WT_CASE(cancelled_scope_takes_nothing),
};
WT_SUITE(cases)
