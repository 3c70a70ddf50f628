/* Task-local values (weft/local.h): what a spawned or started task inherits
 * (a snapshot: later sets on either side never show on the other), nested
 * spawns, to_thread's fn (sees the caller's values; its sets stay in the
 * call), from_thread calls from that thread and the tasks they start, what
 * starts empty (main, also of a runtime run inside a blocking call; portal
 * calls; token calls, also from foreign threads), destroy exactly once (a
 * replaced value, a holder's end, a runtime's end, an abandoned call), many
 * tasks on two workers, misuse and allocation failures.
 *
 * The thread cases follow AnyIO's context propagation tests: the context is
 * copied to the worker thread, changes there do not propagate back, and a
 * call from the worker thread into the event loop sees the thread's context.
 */
#define _GNU_SOURCE
#include "thread_helpers.h"

#include "sched/fault.h"

/* WEFT_TEST_TIMEOUT 120 */

/* ------------------------------------------------------------ tracked values */

/* A value that counts its destroys: every case checks "exactly once". */
typedef struct val {
    int id;
    atomic_int destroyed;
} val_t;

static void val_destroy(void *p)
{
    val_t *v = p;
    atomic_fetch_add(&v->destroyed, 1);
}

#define DESTROYED(v) atomic_load(&(v).destroyed)

static weft_local_t *new_key(void)
{
    weft_local_t *k = NULL;
    EXPECT_RC(weft_local_new(&k, val_destroy), 0);
    return k;
}

static int id_of(weft_local_t *k)
{
    val_t *v = weft_local_get(k);
    return v ? v->id : 0;
}

/* ------------------------------------------------------------ spawn: a snapshot both ways */

typedef struct snap {
    weft_local_t *k;
    weft_event_t *parent_changed, *child_changed;
    val_t mine;        /* the child's own value */
    int seen_at_start, seen_after_parent_set, seen_after_own_set;
} snap_t;

static int snap_child(void *p)
{
    snap_t *s = p;
    s->seen_at_start = id_of(s->k);
    EXPECT_RC(weft_event_wait(s->parent_changed), 0);
    s->seen_after_parent_set = id_of(s->k);
    EXPECT_RC(weft_local_set(s->k, &s->mine), 0);
    s->seen_after_own_set = id_of(s->k);
    weft_event_set(s->child_changed);
    return 0;
}

static int early_child(void *p)
{
    snap_t *s = p;
    EXPECT(weft_local_get(s->k) == NULL); /* spawned before anything was set */
    return 0;
}

static int snapshot_both_ways_main(void *arg)
{
    (void)arg;
    val_t a = {.id = 1}, b = {.id = 2};
    snap_t s = {.k = new_key(), .mine = {.id = 3}};
    EXPECT_RC(weft_event_new(&s.parent_changed), 0);
    EXPECT_RC(weft_event_new(&s.child_changed), 0);
    EXPECT(weft_local_get(s.k) == NULL); /* main starts with none */

    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, early_child, &s), 0);
    EXPECT_RC(weft_local_set(s.k, &a), 0);
    EXPECT_RC(weft_group_spawn(&g, snap_child, &s), 0);
    EXPECT_RC(weft_local_set(s.k, &b), 0); /* after the spawn: not the child's */
    EXPECT(id_of(s.k) == 2);
    EXPECT(DESTROYED(a) == 0);             /* the child still holds a */
    weft_event_set(s.parent_changed);
    EXPECT_RC(weft_event_wait(s.child_changed), 0);
    EXPECT(id_of(s.k) == 2);               /* the child's set stays its own */
    EXPECT_RC(weft_group_close(&g, 0), 0);

    EXPECT(s.seen_at_start == 1);
    EXPECT(s.seen_after_parent_set == 1);
    EXPECT(s.seen_after_own_set == 3);
    /* The child ended: a (replaced by both) and its own value are gone. */
    EXPECT(DESTROYED(a) == 1);
    EXPECT(DESTROYED(s.mine) == 1);
    EXPECT(DESTROYED(b) == 0);
    EXPECT_RC(weft_local_set(s.k, NULL), 0);
    EXPECT(DESTROYED(b) == 1);
    EXPECT(weft_local_get(s.k) == NULL);
    weft_event_free(s.parent_changed);
    weft_event_free(s.child_changed);
    weft_local_free(s.k);
    return 0;
}

/* ------------------------------------------------------------ weft_group_start */

typedef struct start {
    weft_local_t *k;
    weft_event_t *starter_changed;
    val_t before_started;
    int seen_at_start, seen_later;
} start_t;

static int started_child(void *p)
{
    start_t *s = p;
    s->seen_at_start = id_of(s->k);
    EXPECT_RC(weft_local_set(s->k, &s->before_started), 0); /* not the starter's */
    EXPECT_RC(weft_started(NULL), 0);
    EXPECT_RC(weft_event_wait(s->starter_changed), 0);
    s->seen_later = id_of(s->k);
    return 0;
}

static int start_inherits_main(void *arg)
{
    (void)arg;
    val_t a = {.id = 1}, b = {.id = 2};
    start_t s = {.k = new_key(), .before_started = {.id = 4}};
    EXPECT_RC(weft_event_new(&s.starter_changed), 0);
    EXPECT_RC(weft_local_set(s.k, &a), 0);
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_start(&g, started_child, &s, NULL), 0);
    EXPECT(id_of(s.k) == 1);
    EXPECT_RC(weft_local_set(s.k, &b), 0);
    weft_event_set(s.starter_changed);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT(s.seen_at_start == 1);
    EXPECT(s.seen_later == 4);
    EXPECT(DESTROYED(a) == 1 && DESTROYED(s.before_started) == 1 && DESTROYED(b) == 0);
    EXPECT_RC(weft_local_set(s.k, NULL), 0);
    weft_event_free(s.starter_changed);
    weft_local_free(s.k);
    return 0;
}

/* ------------------------------------------------------------ nested spawns */

#define DEPTH 6

typedef struct nest {
    weft_local_t *k[DEPTH];
    val_t v[DEPTH];
    val_t shadow[DEPTH]; /* each level's replacement of level 0's value */
    int level;
} nest_t;

static int nest_task(void *p)
{
    nest_t *n = p;
    int level = n->level;
    /* Every level above set its own key, and replaced k[0] with its shadow. */
    for (int i = 1; i < level; i++)
        EXPECT(id_of(n->k[i]) == n->v[i].id);
    for (int i = level; i < DEPTH; i++)
        EXPECT(weft_local_get(n->k[i]) == NULL);
    EXPECT(id_of(n->k[0]) == (level > 1 ? n->shadow[level - 1].id : n->v[0].id));
    if (level == DEPTH)
        return 0;
    EXPECT_RC(weft_local_set(n->k[level], &n->v[level]), 0);
    EXPECT_RC(weft_local_set(n->k[0], &n->shadow[level]), 0);
    n->level = level + 1;
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, nest_task, n), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    /* What the levels below set is gone with them, and never showed here. */
    EXPECT(id_of(n->k[level]) == n->v[level].id);
    EXPECT(id_of(n->k[0]) == n->shadow[level].id);
    if (level + 1 < DEPTH)
        EXPECT(DESTROYED(n->v[level + 1]) == 1 && DESTROYED(n->shadow[level + 1]) == 1);
    return 0;
}

static int nested_spawns_main(void *arg)
{
    (void)arg;
    nest_t n = {.level = 1};
    for (int i = 0; i < DEPTH; i++) {
        n.k[i] = new_key();
        n.v[i].id = 10 + i;
        n.shadow[i].id = 100 + i;
    }
    EXPECT_RC(weft_local_set(n.k[0], &n.v[0]), 0);
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, nest_task, &n), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT(id_of(n.k[0]) == 10);
    for (int i = 1; i < DEPTH; i++) {
        EXPECT(weft_local_get(n.k[i]) == NULL);
        EXPECT(DESTROYED(n.v[i]) == 1);
        EXPECT(DESTROYED(n.shadow[i]) == 1);
    }
    EXPECT(DESTROYED(n.v[0]) == 0);
    EXPECT_RC(weft_local_set(n.k[0], NULL), 0);
    EXPECT(DESTROYED(n.v[0]) == 1);
    for (int i = 0; i < DEPTH; i++)
        weft_local_free(n.k[i]);
    return 0;
}

/* ------------------------------------------------------------ to_thread */

typedef struct thr {
    weft_local_t *k, *k2;
    val_t in_fn, in_fn2;
    int seen, seen_after_set, seen_k2;
    int seen_by_run_sync, seen_by_run_task, seen_by_grandchild, seen_after_calls;
    int set_outside_rc;
} thr_t;

static int thread_fn(void *p)
{
    thr_t *t = p;
    t->seen = id_of(t->k);
    EXPECT_RC(weft_local_set(t->k, &t->in_fn), 0);
    EXPECT_RC(weft_local_set(t->k2, &t->in_fn2), 0);
    t->seen_after_set = id_of(t->k);
    t->seen_k2 = id_of(t->k2);
    return 0;
}

static int to_thread_sees_caller_main(void *arg)
{
    (void)arg;
    val_t a = {.id = 1};
    for (int abandonable = 0; abandonable < 2; abandonable++) {
        thr_t t = {.k = new_key(), .k2 = new_key(), .in_fn = {.id = 5}, .in_fn2 = {.id = 6}};
        weft_thread_opts_t o = {.abandon_on_cancel = abandonable};
        EXPECT_RC(weft_local_set(t.k, &a), 0);
        EXPECT_RC(weft_to_thread_run_sync(thread_fn, &t, &o), 0);
        EXPECT(t.seen == 1);
        EXPECT(t.seen_after_set == 5);
        EXPECT(t.seen_k2 == 6);
        /* Nothing came back, and what fn set died with the call. */
        EXPECT(id_of(t.k) == 1);
        EXPECT(weft_local_get(t.k2) == NULL);
        EXPECT(DESTROYED(t.in_fn) == 1 && DESTROYED(t.in_fn2) == 1);
        EXPECT(DESTROYED(a) == 0);
        EXPECT_RC(weft_local_set(t.k, NULL), 0);
        EXPECT(DESTROYED(a) == 1);
        atomic_store(&a.destroyed, 0);
        weft_local_free(t.k);
        weft_local_free(t.k2);
    }
    return 0;
}

/* ------------------------------------------------------------ from_thread from that thread */

static int read_in_run_sync(void *p)
{
    thr_t *t = p;
    t->seen_by_run_sync = id_of(t->k);
    return 0;
}

static int grandchild(void *p)
{
    thr_t *t = p;
    t->seen_by_grandchild = id_of(t->k);
    return 0;
}

static int read_in_run_task(void *p)
{
    thr_t *t = p;
    t->seen_by_run_task = id_of(t->k);
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, grandchild, t), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(weft_local_set(t->k, &t->in_fn2), 0); /* the task's own, not the thread's */
    return 0;
}

static int calling_back_fn(void *p)
{
    thr_t *t = p;
    EXPECT_RC(weft_local_set(t->k, &t->in_fn), 0);
    EXPECT_RC(weft_from_thread_run_sync(read_in_run_sync, t), 0);
    EXPECT_RC(weft_from_thread_run(read_in_run_task, t), 0);
    t->seen_after_calls = id_of(t->k);
    EXPECT(DESTROYED(t->in_fn2) == 1); /* the task that set it ended */
    return 0;
}

static int from_thread_sees_thread_main(void *arg)
{
    (void)arg;
    val_t a = {.id = 1};
    thr_t t = {.k = new_key(), .in_fn = {.id = 5}, .in_fn2 = {.id = 6}};
    EXPECT_RC(weft_local_set(t.k, &a), 0);
    EXPECT_RC(weft_to_thread_run_sync(calling_back_fn, &t, NULL), 0);
    EXPECT(t.seen_by_run_sync == 5);
    EXPECT(t.seen_by_run_task == 5);
    EXPECT(t.seen_by_grandchild == 5);
    EXPECT(t.seen_after_calls == 5);
    EXPECT(DESTROYED(t.in_fn) == 1);
    EXPECT(id_of(t.k) == 1);
    EXPECT_RC(weft_local_set(t.k, NULL), 0);
    EXPECT(DESTROYED(a) == 1);
    weft_local_free(t.k);
    return 0;
}

/* A function run by from_thread_run_sync may set a value: for that call only. */
static int set_in_run_sync(void *p)
{
    thr_t *t = p;
    EXPECT(id_of(t->k) == 1);
    EXPECT_RC(weft_local_set(t->k, &t->in_fn2), 0);
    t->seen_by_run_sync = id_of(t->k);
    return 0;
}

static int run_sync_sets_fn(void *p)
{
    thr_t *t = p;
    EXPECT_RC(weft_from_thread_run_sync(set_in_run_sync, t), 0);
    t->seen_after_calls = id_of(t->k);
    return 0;
}

static int run_sync_set_stays_main(void *arg)
{
    (void)arg;
    val_t a = {.id = 1};
    thr_t t = {.k = new_key(), .in_fn2 = {.id = 6}};
    EXPECT_RC(weft_local_set(t.k, &a), 0);
    EXPECT_RC(weft_to_thread_run_sync(run_sync_sets_fn, &t, NULL), 0);
    EXPECT(t.seen_by_run_sync == 6);
    EXPECT(t.seen_after_calls == 1);
    EXPECT(DESTROYED(t.in_fn2) == 1);
    EXPECT(id_of(t.k) == 1);
    EXPECT_RC(weft_local_set(t.k, NULL), 0);
    weft_local_free(t.k);
    return 0;
}

/* ------------------------------------------------------------ what starts empty */

typedef struct empty {
    weft_local_t *k;
    weft_portal_t *portal;
    weft_token_t *own;
    atomic_int seen_values; /* calls that saw a value: none may */
    atomic_int calls;
    atomic_int foreign_done;
} empty_t;

static int count_seen(void *p)
{
    empty_t *e = p;
    atomic_fetch_add(&e->calls, 1);
    if (weft_local_get(e->k))
        atomic_fetch_add(&e->seen_values, 1);
    return 0;
}

static int count_seen_and_spawn(void *p)
{
    empty_t *e = p;
    count_seen(e);
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, count_seen, e), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    return 0;
}

static int calls_elsewhere_fn(void *p)
{
    empty_t *e = p;
    EXPECT(weft_local_get(e->k) != NULL); /* this thread does see them */
    EXPECT_RC(weft_portal_call(e->portal, count_seen_and_spawn, e), 0);
    weft_future_t *f = NULL;
    EXPECT_RC(weft_portal_spawn(e->portal, count_seen, e, &f), 0);
    EXPECT_RC(weft_future_wait(f), 0);
    weft_future_free(f);
    weft_token_t *pt = weft_portal_token(e->portal);
    EXPECT_RC(weft_from_thread_run_sync_token(pt, count_seen, e), 0);
    EXPECT_RC(weft_from_thread_run_token(pt, count_seen_and_spawn, e), 0);
    weft_token_release(pt);
    /* A token of the caller's own runtime links to it, not to this call. */
    EXPECT_RC(weft_from_thread_run_sync_token(e->own, count_seen, e), 0);
    EXPECT_RC(weft_from_thread_run_token(e->own, count_seen, e), 0);
    return 0;
}

static int calls_elsewhere_main(void *p)
{
    empty_t *e = p;
    val_t a = {.id = 1};
    EXPECT(weft_local_get(e->k) == NULL);
    EXPECT_RC(weft_local_set(e->k, &a), 0);
    e->own = weft_current_token();
    EXPECT_RC(weft_to_thread_run_sync(calls_elsewhere_fn, e, NULL), 0);
    weft_token_release(e->own);
    EXPECT_RC(weft_local_set(e->k, NULL), 0);
    return 0;
}

/* A plain thread holding a token, as a library's callback thread would. */
static void *foreign_thread(void *p)
{
    empty_t *e = p;
    EXPECT(weft_local_get(e->k) == NULL);
    EXPECT_RC(weft_local_set(e->k, e), WEFT_EPERM);
    EXPECT_RC(weft_from_thread_run_token(e->own, count_seen, e), 0);
    EXPECT_RC(weft_from_thread_run_sync_token(e->own, count_seen, e), 0);
    atomic_fetch_add(&e->foreign_done, 1);
    return NULL;
}

static int foreign_thread_main(void *p)
{
    empty_t *e = p;
    val_t a = {.id = 1};
    EXPECT_RC(weft_local_set(e->k, &a), 0);
    e->own = weft_current_token();
    pthread_t th;
    if (WT_THREAD_START(&th, foreign_thread, e))
        WT_THREADS_FINISH(&th, 1, &e->foreign_done, 1, 10.0);
    weft_token_release(e->own);
    EXPECT_RC(weft_local_set(e->k, NULL), 0);
    return 0;
}

/* weft_run called from a blocking call: its main starts empty too. */
static int nested_main(void *p)
{
    empty_t *e = p;
    count_seen(e);
    return 0;
}

static int nested_run_fn(void *p)
{
    empty_t *e = p;
    EXPECT(weft_local_get(e->k) != NULL);
    weft_config_t cfg;
    weft_config_init(&cfg);
    cfg.workers = 1;
    EXPECT_RC(weft_run(nested_main, e, &cfg), 0);
    return 0;
}

static int nested_runtime_main(void *p)
{
    empty_t *e = p;
    val_t a = {.id = 1};
    EXPECT_RC(weft_local_set(e->k, &a), 0);
    EXPECT_RC(weft_to_thread_run_sync(nested_run_fn, e, NULL), 0);
    EXPECT_RC(weft_local_set(e->k, NULL), 0);
    return 0;
}

static void starts_empty(void)
{
    empty_t e = {0};
    assert_rc(weft_local_new(&e.k, NULL), 0);
    e.portal = wt_portal_start(2);
    WT_RUN_OK(calls_elsewhere_main, &e, 2);
    WT_RUN_OK(foreign_thread_main, &e, 2);
    /* A second runtime's main starts empty too (calls_elsewhere_main checks). */
    WT_RUN_OK(calls_elsewhere_main, &e, 1);
    WT_RUN_OK(nested_runtime_main, &e, 2);
    wt_portal_stop_free(e.portal, 0);
    assert_int_equal(atomic_load(&e.calls), 2 * 8 + 2 + 1);
    assert_int_equal(atomic_load(&e.seen_values), 0);
    weft_local_free(e.k);
}

/* ------------------------------------------------------------ destroy: replacing */

static int destroy_on_replace_main(void *arg)
{
    (void)arg;
    weft_local_t *k = new_key(), *plain = NULL;
    EXPECT_RC(weft_local_new(&plain, NULL), 0); /* no destroy: left to the owner */
    val_t a = {.id = 1}, b = {.id = 2};
    EXPECT_RC(weft_local_set(k, &a), 0);
    EXPECT_RC(weft_local_set(k, &a), 0); /* the value already set: nothing */
    EXPECT(DESTROYED(a) == 0);
    EXPECT_RC(weft_local_set(k, &b), 0); /* a was ours alone: gone now */
    EXPECT(DESTROYED(a) == 1 && DESTROYED(b) == 0);
    EXPECT_RC(weft_local_set(plain, &a), 0);
    EXPECT_RC(weft_local_set(plain, &b), 0);
    EXPECT_RC(weft_local_set(plain, NULL), 0);
    EXPECT(DESTROYED(a) == 1 && DESTROYED(b) == 0);
    EXPECT_RC(weft_local_set(k, NULL), 0);
    EXPECT_RC(weft_local_set(k, NULL), 0); /* unsetting nothing: nothing */
    EXPECT(DESTROYED(b) == 1);
    EXPECT(weft_local_get(k) == NULL);
    weft_local_free(k);
    weft_local_free(plain);
    return 0;
}

/* A destroy that runs at its task's end and sets a value there: that value
 * is destroyed too (LSan would report it otherwise). */
static weft_local_t *resetting_key;
static val_t reset_to = {.id = 9};

static void destroy_and_set(void *p)
{
    val_destroy(p);
    if (p != &reset_to)
        EXPECT_RC(weft_local_set(resetting_key, &reset_to), 0);
}

static int sets_resetting(void *p)
{
    EXPECT_RC(weft_local_set(resetting_key, p), 0);
    return 0;
}

static int destroy_sets_main(void *arg)
{
    (void)arg;
    val_t a = {.id = 1};
    atomic_store(&reset_to.destroyed, 0);
    EXPECT_RC(weft_local_new(&resetting_key, destroy_and_set), 0);
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, sets_resetting, &a), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT(DESTROYED(a) == 1);
    EXPECT(DESTROYED(reset_to) == 1);
    weft_local_free(resetting_key);
    return 0;
}

/* ------------------------------------------------------------ destroy: runtime's end */

typedef struct late {
    weft_local_t *k, *k_fn;
    val_t a, in_fn;
    atomic_int release_fn;
} late_t;

static int outlives_main_fn(void *p)
{
    late_t *l = p;
    EXPECT(id_of(l->k) == 1);
    EXPECT_RC(weft_local_set(l->k_fn, &l->in_fn), 0);
    while (!atomic_load(&l->release_fn))
        usleep(200);
    usleep(10000); /* main returns meanwhile */
    EXPECT(id_of(l->k) == 1);
    EXPECT(id_of(l->k_fn) == 2);
    EXPECT(DESTROYED(l->a) == 0); /* main has returned, but this call holds it */
    return 0;
}

static int runtime_end_main(void *p)
{
    late_t *l = p;
    val_t *in_main = malloc(sizeof *in_main);
    EXPECT(in_main != NULL);
    *in_main = (val_t){.id = 3};
    EXPECT_RC(weft_local_set(l->k, &l->a), 0);
    weft_thread_opts_t o = {.abandon_on_cancel = 1};
    weft_scope_t s;
    weft_scope_enter(&s, weft_now() + 0.01, 0);
    EXPECT_RC(weft_to_thread_run_sync(outlives_main_fn, l, &o), WEFT_ECANCELED);
    weft_scope_exit(&s, WEFT_ECANCELED);
    /* main ends holding values of two keys; the abandoned call still holds a. */
    weft_local_t *k2 = NULL;
    EXPECT_RC(weft_local_new(&k2, free), 0);
    EXPECT_RC(weft_local_set(k2, in_main), 0); /* freed at main's end (LSan) */
    weft_local_free(k2);                       /* its value outlives the key */
    atomic_store(&l->release_fn, 1);
    return 0;
}

static void destroy_at_runtime_end(void)
{
    late_t l = {.a = {.id = 1}, .in_fn = {.id = 2}};
    assert_rc(weft_local_new(&l.k, val_destroy), 0);
    assert_rc(weft_local_new(&l.k_fn, val_destroy), 0);
    WT_RUN_OK(runtime_end_main, &l, 2);
    /* weft_run returned: every value was destroyed, once. */
    assert_int_equal(DESTROYED(l.a), 1);
    assert_int_equal(DESTROYED(l.in_fn), 1);
    weft_local_free(l.k);
    weft_local_free(l.k_fn);
}

/* ------------------------------------------------------------ many tasks, two workers */

#define NKEYS 3

typedef struct many {
    weft_local_t *k[NKEYS];
    val_t inherited[NKEYS];
    val_t *own; /* one per child */
    int n;
    weft_group_t *g;
} many_t;

typedef struct child_arg {
    many_t *m;
    int i;
} child_arg_t;

static int many_leaf(void *p)
{
    child_arg_t *c = p;
    many_t *m = c->m;
    EXPECT(id_of(m->k[0]) == m->own[c->i].id); /* its parent's set, at the spawn */
    for (int j = 1; j < NKEYS; j++)
        EXPECT(id_of(m->k[j]) == m->inherited[j].id);
    return 0;
}

static int many_child(void *p)
{
    child_arg_t *c = p;
    many_t *m = c->m;
    for (int j = 0; j < NKEYS; j++)
        EXPECT(id_of(m->k[j]) == m->inherited[j].id);
    weft_checkpoint(); /* let the other worker steal and run siblings meanwhile */
    EXPECT_RC(weft_local_set(m->k[0], &m->own[c->i]), 0);
    EXPECT(id_of(m->k[0]) == m->own[c->i].id);
    /* The leaf outlives this task in the shared group: it keeps own[i]. */
    EXPECT_RC(weft_group_spawn(m->g, many_leaf, c), 0);
    return 0;
}

static int many_tasks_main(void *arg)
{
    (void)arg;
    many_t m = {.n = WT_TSAN_PICK(4000, 400)};
    m.own = calloc((size_t)m.n, sizeof *m.own);
    child_arg_t *args = calloc((size_t)m.n, sizeof *args);
    EXPECT(m.own && args);
    for (int j = 0; j < NKEYS; j++) {
        m.k[j] = new_key();
        m.inherited[j].id = 1 + j;
        EXPECT_RC(weft_local_set(m.k[j], &m.inherited[j]), 0);
    }
    weft_group_t g;
    m.g = &g;
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < m.n; i++) {
        m.own[i].id = 100 + i;
        args[i] = (child_arg_t){.m = &m, .i = i};
        EXPECT_RC(weft_group_spawn(&g, many_child, &args[i]), 0);
    }
    EXPECT_RC(weft_group_close(&g, 0), 0);
    for (int i = 0; i < m.n; i++)
        EXPECT(DESTROYED(m.own[i]) == 1);
    for (int j = 0; j < NKEYS; j++) {
        EXPECT(DESTROYED(m.inherited[j]) == 0);
        EXPECT_RC(weft_local_set(m.k[j], NULL), 0);
        EXPECT(DESTROYED(m.inherited[j]) == 1);
        weft_local_free(m.k[j]);
    }
    free(m.own);
    free(args);
    return 0;
}

/* ------------------------------------------------------------ misuse */

static int holds_value(void *p)
{
    weft_event_t *go = p;
    EXPECT_RC(weft_event_wait(go), 0);
    return 0;
}

static int freed_key_main(void *arg)
{
    (void)arg;
    val_t a = {.id = 1};
    weft_local_t *k = new_key();
    weft_event_t *go;
    EXPECT_RC(weft_event_new(&go), 0);
    EXPECT_RC(weft_local_set(k, &a), 0);
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, holds_value, go), 0);
    EXPECT_RC(weft_local_set(k, NULL), 0);
    /* Against the rule (the child still holds a value of k), but no crash:
     * the value is destroyed when its holder ends, and a new key, even at
     * the same address, never sees it. */
    weft_local_free(k);
    weft_local_t *k2 = new_key();
    EXPECT(weft_local_get(k2) == NULL);
    weft_event_set(go);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT(DESTROYED(a) == 1);
    weft_local_free(k2);
    weft_event_free(go);
    return 0;
}

static void misuse(void)
{
    assert_rc(weft_local_new(NULL, val_destroy), WEFT_EINVAL);
    weft_local_t *k = NULL;
    assert_rc(weft_local_new(&k, val_destroy), 0);
    assert_non_null(k);
    val_t a = {.id = 1};
    /* Outside a task and outside a call's function. */
    assert_rc(weft_local_set(k, &a), WEFT_EPERM);
    assert_null(weft_local_get(k));
    assert_rc(weft_local_set(NULL, &a), WEFT_EINVAL);
    assert_null(weft_local_get(NULL));
    assert_int_equal(DESTROYED(a), 0);
    weft_local_free(NULL);
    weft_local_free(k);
}

static int misuse_in_task_main(void *arg)
{
    (void)arg;
    val_t a = {.id = 1};
    EXPECT_RC(weft_local_set(NULL, &a), WEFT_EINVAL);
    EXPECT(weft_local_get(NULL) == NULL);
    EXPECT(DESTROYED(a) == 0);
    return 0;
}

/* Allocation failures: WEFT_ENOMEM, nothing changed, value not taken. */
static int alloc_failure_main(void *arg)
{
    (void)arg;
    val_t a = {.id = 1}, b = {.id = 2};
    weft_local_t *k = new_key(), *k2 = new_key();
    wf_fault_fail_at(WF_FAULT_ALLOC, 1); /* the value's box */
    EXPECT_RC(weft_local_set(k, &a), WEFT_ENOMEM);
    EXPECT(weft_local_get(k) == NULL);
    EXPECT_RC(weft_local_set(k, &a), 0);
    wf_fault_fail_at(WF_FAULT_ALLOC, 2); /* the new snapshot, after the box */
    EXPECT_RC(weft_local_set(k2, &b), WEFT_ENOMEM);
    wf_fault_fail_at(WF_FAULT_ALLOC, 0);
    EXPECT(weft_local_get(k2) == NULL);
    EXPECT(id_of(k) == 1);
    EXPECT(DESTROYED(a) == 0 && DESTROYED(b) == 0);
    weft_local_t *k3 = NULL;
    wf_fault_fail_at(WF_FAULT_ALLOC, 1);
    EXPECT_RC(weft_local_new(&k3, NULL), WEFT_ENOMEM);
    wf_fault_fail_at(WF_FAULT_ALLOC, 0);
    EXPECT_RC(weft_local_set(k, NULL), 0);
    EXPECT(DESTROYED(a) == 1 && DESTROYED(b) == 0);
    weft_local_free(k);
    weft_local_free(k2);
    return 0;
}

static const wt_case_t cases[] = {
    WT_CASE(snapshot_both_ways_main),
    WT_CASE(start_inherits_main),
    WT_CASE(nested_spawns_main),
    WT_CASE(to_thread_sees_caller_main),
    WT_CASE(from_thread_sees_thread_main),
    WT_CASE(run_sync_set_stays_main),
    WT_TEST(starts_empty),
    WT_CASE(destroy_on_replace_main),
    WT_TEST(destroy_at_runtime_end),
    WT_CASE(destroy_sets_main),
    WT_CASE_ON(many_tasks_main, WT_W2 | WT_W4),
    WT_CASE(freed_key_main),
    WT_TEST(misuse),
    WT_CASE(misuse_in_task_main),
    WT_CASE_ON(alloc_failure_main, WT_W1),
};

WT_SUITE(cases)
