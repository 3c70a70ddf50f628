/* Task groups: spawn, close, failures, cancellation, start/started. */
#define _GNU_SOURCE
#include "helpers.h"

typedef struct {
    weft_group_t *g;
    double sleep_s;
    atomic_int ran;
    atomic_int cancelled;   /* saw WEFT_ECANCELED */
    atomic_int completed;   /* slept the whole time */
    atomic_int first_cp_cancelled;
} kids_t;

/* Sleeps k->sleep_s, records how it ended, returns the sleep's rc. */
static int sleeper(void *arg)
{
    kids_t *k = arg;
    atomic_fetch_add(&k->ran, 1);
    int rc = weft_sleep(k->sleep_s);
    if (rc == WEFT_ECANCELED)
        atomic_fetch_add(&k->cancelled, 1);
    else if (rc == 0)
        atomic_fetch_add(&k->completed, 1);
    else
        EXPECT_RC(rc, 0);
    return rc;
}

static int fail_eio(void *arg)
{
    (void)arg;
    return -EIO;
}

static int fail_enoent(void *arg)
{
    (void)arg;
    return -ENOENT;
}

static int returns_ecanceled(void *arg)
{
    (void)arg;
    return WEFT_ECANCELED;
}

static int mark_ran(void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
    return 0;
}

/* Look for (err, name) among the failures of g. */
static int has_failure(const weft_group_t *g, int err, const char *name)
{
    size_t n = weft_group_failure_count(g);
    for (size_t i = 0; i < n; i++) {
        int e = 0;
        const char *nm = NULL;
        if (weft_group_failure(g, i, &e, &nm) != 0)
            continue;
        if (e == err && nm != NULL && strcmp(nm, name) == 0)
            return 1;
    }
    return 0;
}

/* ------------------------------------------------------------ basics */

static int open_spawn_close(void *arg)
{
    (void)arg;
    atomic_int ran = 0;
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, mark_ran, &ran), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT(atomic_load(&ran) == 1);
    EXPECT(weft_group_failure_count(&g) == 0);
    /* An empty group. */
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    return 0;
}

typedef struct {
    int n;
    atomic_int count;
} many_t;

static int count_once(void *arg)
{
    many_t *m = arg;
    if (atomic_load(&m->count) % 7 == 0)
        EXPECT_RC(weft_checkpoint(), 0);
    atomic_fetch_add(&m->count, 1);
    return 0;
}

static int many_tasks_all_run(void *arg)
{
    (void)arg;
    many_t m = {.n = WT_TSAN_PICK(2000, 300)};
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < m.n; i++)
        EXPECT_RC(weft_group_spawn(&g, count_once, &m), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT(atomic_load(&m.count) == m.n);
    return 0;
}

static int close_waits_for_children(void *arg)
{
    (void)arg;
    kids_t k = {.sleep_s = 0.05};
    weft_group_t g;
    double t0 = weft_now();
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < 10; i++)
        EXPECT_RC(weft_group_spawn(&g, sleeper, &k), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    double dt = weft_now() - t0;
    EXPECT(atomic_load(&k.completed) == 10);
    EXPECT(dt >= k.sleep_s);
    EXPECT(dt < k.sleep_s + WT_SLACK);
    EXPECT(atomic_load(&k.ran) == 10);
    return 0;
}

/* ------------------------------------------------------------ failures */

typedef struct {
    kids_t k;
    int close_rc;
    size_t nfail;
    int err0;
    char name0[64];
    int has_eio, has_enoent, has_host, has_custom;
    double elapsed;
    const char *host_name;
} fail_ctx_t;

static void collect(fail_ctx_t *c, weft_group_t *g, int close_rc)
{
    c->close_rc = close_rc;
    c->nfail = weft_group_failure_count(g);
    const char *nm = NULL;
    c->err0 = 0;
    if (c->nfail > 0 && weft_group_failure(g, 0, &c->err0, &nm) == 0)
        snprintf(c->name0, sizeof c->name0, "%s", nm ? nm : "(null)");
    c->has_eio = has_failure(g, -EIO, "fail_eio");
    c->has_enoent = has_failure(g, -ENOENT, "fail_enoent");
    c->has_custom = has_failure(g, -EIO, "custom-worker");
}

static int failing_child_cancels_siblings(void *arg)
{
    (void)arg;
    fail_ctx_t c;
    memset(&c, 0, sizeof c);
    c.k.sleep_s = 10.0;
    weft_group_t g;
    double t0 = weft_now();
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < 5; i++)
        EXPECT_RC(weft_group_spawn(&g, sleeper, &c.k), 0);
    EXPECT_RC(weft_group_spawn(&g, fail_eio, NULL), 0);
    collect(&c, &g, weft_group_close(&g, 0));
    c.elapsed = weft_now() - t0;
    EXPECT_RC(c.close_rc, -EIO);
    EXPECT(c.nfail == 1);
    EXPECT_RC(c.err0, -EIO);
    EXPECT_STR(c.name0, "fail_eio");
    EXPECT(atomic_load(&c.k.ran) == 5);
    EXPECT(atomic_load(&c.k.cancelled) == 5);
    EXPECT(c.elapsed < 5.0);
    return 0;
}

static int two_failures_egroup(void *arg)
{
    (void)arg;
    fail_ctx_t c;
    memset(&c, 0, sizeof c);
    c.k.sleep_s = 10.0;
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < 3; i++)
        EXPECT_RC(weft_group_spawn(&g, sleeper, &c.k), 0);
    EXPECT_RC(weft_group_spawn(&g, fail_eio, NULL), 0);
    EXPECT_RC(weft_group_spawn(&g, fail_enoent, NULL), 0);
    collect(&c, &g, weft_group_close(&g, 0));
    /* Out of range. */
    int e = 0;
    const char *nm = NULL;
    EXPECT_RC(weft_group_failure(&g, 2, &e, &nm), WEFT_EINVAL);
    EXPECT_RC(weft_group_failure(&g, (size_t)-1, &e, &nm), WEFT_EINVAL);
    EXPECT_RC(c.close_rc, WEFT_EGROUP);
    EXPECT(c.nfail == 2);
    EXPECT(c.has_eio);
    EXPECT(c.has_enoent);
    EXPECT(atomic_load(&c.k.cancelled) == 3);
    return 0;
}

static int child_ecanceled_is_not_failure(void *arg)
{
    (void)arg;
    fail_ctx_t c;
    memset(&c, 0, sizeof c);
    c.k.sleep_s = 0.05;
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, sleeper, &c.k), 0);
    EXPECT_RC(weft_group_spawn(&g, returns_ecanceled, NULL), 0);
    collect(&c, &g, weft_group_close(&g, 0));
    EXPECT_RC(c.close_rc, 0);
    EXPECT(c.nfail == 0);
    /* ... and it does not cancel the group either. */
    EXPECT(atomic_load(&c.k.completed) == 1);
    EXPECT(atomic_load(&c.k.cancelled) == 0);
    return 0;
}

static int host_fails(void *arg)
{
    fail_ctx_t *c = arg;
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < 3; i++)
        EXPECT_RC(weft_group_spawn(&g, sleeper, &c->k), 0);
    EXPECT_RC(weft_sleep(0.01), 0);
    collect(c, &g, weft_group_close(&g, -EIO));
    c->has_host = has_failure(&g, -EIO, "host_fails");
    return 0;
}

static int host_rc_recorded_and_cancels(void *arg)
{
    (void)arg;
    fail_ctx_t c;
    memset(&c, 0, sizeof c);
    c.k.sleep_s = 10.0;
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, host_fails, &c), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(c.close_rc, -EIO);
    EXPECT(c.nfail == 1);
    EXPECT_RC(c.err0, -EIO);
    EXPECT_STR(c.name0, "host_fails");
    EXPECT(c.has_host);
    EXPECT(atomic_load(&c.k.cancelled) == 3);
    return 0;
}

static int host_and_child_fail(void *arg)
{
    fail_ctx_t *c = arg;
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, fail_enoent, NULL), 0);
    EXPECT_RC(weft_group_spawn(&g, sleeper, &c->k), 0);
    collect(c, &g, weft_group_close(&g, -EIO));
    c->has_host = has_failure(&g, -EIO, "host_and_child_fail");
    return 0;
}

static int host_and_child_failures_egroup(void *arg)
{
    (void)arg;
    fail_ctx_t c;
    memset(&c, 0, sizeof c);
    c.k.sleep_s = 10.0;
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, host_and_child_fail, &c), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(c.close_rc, WEFT_EGROUP);
    EXPECT(c.nfail == 2);
    EXPECT(c.has_host);
    EXPECT(c.has_enoent);
    return 0;
}

static int spawn_named_name_in_failure(void *arg)
{
    (void)arg;
    fail_ctx_t c;
    memset(&c, 0, sizeof c);
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn_named(&g, fail_eio, NULL, "custom-worker"), 0);
    collect(&c, &g, weft_group_close(&g, 0));
    EXPECT_RC(c.close_rc, -EIO);
    EXPECT(c.nfail == 1);
    EXPECT_STR(c.name0, "custom-worker");
    EXPECT(c.has_custom);
    return 0;
}

/* Failures keep the task's whole name, however long. */
static const char long_name[] =
    "a_rather_long_task_name_that_describes_exactly_what_this_task_does_"
    "when_it_handles_one_connection_with_retries_and_exponential_backoff";

typedef struct {
    int close_rc;
    char got[256];
    char current[256];
} long_ctx_t;

static int long_named_fails(void *arg)
{
    long_ctx_t *c = arg;
    const char *n = weft_current_task_name();
    snprintf(c->current, sizeof c->current, "%s", n ? n : "(null)");
    return -EIO;
}

static int long_task_name_in_failure(void *arg)
{
    (void)arg;
    long_ctx_t c;
    memset(&c, 0, sizeof c);
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn_named(&g, long_named_fails, &c, long_name), 0);
    c.close_rc = weft_group_close(&g, 0);
    int e = 0;
    const char *nm = NULL;
    EXPECT_RC(weft_group_failure(&g, 0, &e, &nm), 0);
    EXPECT_RC(e, -EIO);
    snprintf(c.got, sizeof c.got, "%s", nm ? nm : "(null)");
    EXPECT_RC(c.close_rc, -EIO);
    EXPECT_STR(c.current, long_name);
    EXPECT_STR(c.got, long_name);
    return 0;
}

/* The group is cancelled by a failure while the host is still in its body:
 * the host sees ECANCELED; the failure takes precedence at close. */
static int failure_cancels_host_body(void *arg)
{
    (void)arg;
    fail_ctx_t c;
    memset(&c, 0, sizeof c);
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, fail_eio, NULL), 0);
    int rc = weft_sleep(10.0);
    EXPECT_RC(rc, WEFT_ECANCELED);
    collect(&c, &g, weft_group_close(&g, rc));
    EXPECT_RC(c.close_rc, -EIO);
    EXPECT(c.nfail == 1);
    EXPECT_STR(c.name0, "fail_eio");
    return 0;
}

/* Failures are readable until the group is opened again. */
static int reopen_after_failure(void *arg)
{
    (void)arg;
    fail_ctx_t c;
    memset(&c, 0, sizeof c);
    c.k.sleep_s = 0.01;
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, fail_eio, NULL), 0);
    EXPECT_RC(weft_group_close(&g, 0), -EIO);
    EXPECT(weft_group_failure_count(&g) == 1);
    EXPECT_RC(weft_checkpoint(), 0);
    EXPECT(weft_group_failure_count(&g) == 1);
    EXPECT(has_failure(&g, -EIO, "fail_eio"));
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, sleeper, &c.k), 0);
    collect(&c, &g, weft_group_close(&g, 0));
    EXPECT_RC(c.close_rc, 0);
    EXPECT(c.nfail == 0);
    EXPECT(atomic_load(&c.k.completed) == 1);
    return 0;
}

/* ------------------------------------------------------------ cancellation */

static int group_cancel_absorbed(void *arg)
{
    (void)arg;
    fail_ctx_t c;
    memset(&c, 0, sizeof c);
    c.k.sleep_s = 10.0;
    weft_group_t g;
    double t0 = weft_now();
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < 4; i++)
        EXPECT_RC(weft_group_spawn(&g, sleeper, &c.k), 0);
    EXPECT_RC(weft_sleep(0.02), 0);
    weft_group_cancel(&g);
    collect(&c, &g, weft_group_close(&g, 0));
    c.elapsed = weft_now() - t0;
    /* The cancellation was absorbed: the host is not cancelled. */
    EXPECT_RC(weft_checkpoint(), 0);
    EXPECT_RC(c.close_rc, 0);
    EXPECT(c.nfail == 0);
    EXPECT(atomic_load(&c.k.cancelled) == 4);
    EXPECT(c.elapsed < 5.0);
    return 0;
}

static int host_body_inside_group_scope(void *arg)
{
    (void)arg;
    fail_ctx_t c;
    memset(&c, 0, sizeof c);
    c.k.sleep_s = 10.0;
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, sleeper, &c.k), 0);
    EXPECT_RC(weft_checkpoint(), 0);
    weft_group_cancel(&g);
    /* The host's own code runs inside the group's scope. */
    EXPECT_RC(weft_checkpoint(), WEFT_ECANCELED);
    EXPECT(weft_current_effective_deadline() == -INFINITY);
    int rc = weft_sleep(10.0);
    EXPECT_RC(rc, WEFT_ECANCELED);
    collect(&c, &g, weft_group_close(&g, rc));
    EXPECT_RC(weft_checkpoint(), 0);
    EXPECT_RC(c.close_rc, 0);
    EXPECT(c.nfail == 0);
    EXPECT(atomic_load(&c.k.cancelled) == 1);
    return 0;
}

static int child_cancels_group(void *arg)
{
    kids_t *k = arg;
    EXPECT_RC(weft_sleep(0.01), 0);
    weft_group_cancel(k->g);
    EXPECT_RC(weft_checkpoint(), WEFT_ECANCELED);
    return 0;
}

static int child_cancels_own_group(void *arg)
{
    (void)arg;
    fail_ctx_t c;
    memset(&c, 0, sizeof c);
    c.k.sleep_s = 10.0;
    weft_group_t g;
    c.k.g = &g;
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < 3; i++)
        EXPECT_RC(weft_group_spawn(&g, sleeper, &c.k), 0);
    EXPECT_RC(weft_group_spawn(&g, child_cancels_group, &c.k), 0);
    collect(&c, &g, weft_group_close(&g, 0));
    EXPECT_RC(c.close_rc, 0);
    EXPECT(c.nfail == 0);
    EXPECT(atomic_load(&c.k.cancelled) == 3);
    return 0;
}

typedef struct {
    fail_ctx_t f;
    weft_scope_t *outer;
    int exit_rc;
    int caught;
} outer_ctx_t;

static int cancel_outer_scope(void *arg)
{
    outer_ctx_t *o = arg;
    EXPECT_RC(weft_sleep(0.01), 0);
    weft_scope_cancel(o->outer);
    return 0;
}

static int group_in_cancelled_scope_propagates(void *arg)
{
    (void)arg;
    outer_ctx_t o;
    memset(&o, 0, sizeof o);
    o.f.k.sleep_s = 10.0;
    weft_scope_t s;
    weft_group_t g;
    weft_scope_enter(&s, WEFT_FOREVER, 0);
    o.outer = &s;
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < 3; i++)
        EXPECT_RC(weft_group_spawn(&g, sleeper, &o.f.k), 0);
    EXPECT_RC(weft_group_spawn(&g, cancel_outer_scope, &o), 0);
    int rc = weft_group_close(&g, 0);
    collect(&o.f, &g, rc);
    EXPECT_RC(weft_checkpoint(), WEFT_ECANCELED);
    o.exit_rc = weft_scope_exit(&s, rc);
    o.caught = weft_scope_cancelled_caught(&s);
    EXPECT_RC(o.f.close_rc, WEFT_ECANCELED);
    EXPECT(o.f.nfail == 0);
    EXPECT(atomic_load(&o.f.k.cancelled) == 3);
    EXPECT_RC(o.exit_rc, 0);
    EXPECT(o.caught);
    return 0;
}

/* Recorded failures take precedence over an enclosing cancellation. */
static int failure_precedes_cancellation(void *arg)
{
    (void)arg;
    outer_ctx_t o;
    memset(&o, 0, sizeof o);
    weft_scope_t s;
    weft_group_t g;
    weft_scope_enter(&s, WEFT_FOREVER, 0);
    EXPECT_RC(weft_group_open(&g), 0);
    weft_scope_cancel(&s);
    EXPECT_RC(weft_group_spawn(&g, fail_eio, NULL), 0);
    int rc = weft_group_close(&g, 0);
    collect(&o.f, &g, rc);
    o.exit_rc = weft_scope_exit(&s, rc);
    o.caught = weft_scope_cancelled_caught(&s);
    EXPECT_RC(o.f.close_rc, -EIO);
    EXPECT(o.f.nfail == 1);
    EXPECT_RC(o.exit_rc, -EIO);
    EXPECT(!o.caught);
    return 0;
}

static int first_checkpoint_probe(void *arg)
{
    kids_t *k = arg;
    atomic_fetch_add(&k->ran, 1);
    if (weft_checkpoint() == WEFT_ECANCELED)
        atomic_fetch_add(&k->first_cp_cancelled, 1);
    /* Level cancellation: again and again. */
    EXPECT_RC(weft_checkpoint(), WEFT_ECANCELED);
    return 0;
}

static int spawn_into_cancelled_group_runs(void *arg)
{
    (void)arg;
    fail_ctx_t c;
    memset(&c, 0, sizeof c);
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    weft_group_cancel(&g);
    for (int i = 0; i < 5; i++)
        EXPECT_RC(weft_group_spawn(&g, first_checkpoint_probe, &c.k), 0);
    collect(&c, &g, weft_group_close(&g, WEFT_ECANCELED));
    EXPECT_RC(c.close_rc, 0);
    EXPECT(atomic_load(&c.k.ran) == 5);
    EXPECT(atomic_load(&c.k.first_cp_cancelled) == 5);
    return 0;
}

typedef struct {
    atomic_int ran;
    int spawn_rc;
    int spawn_named_rc;
    int start_rc;
} closed_ctx_t;

static int spawn_after_close_ebadf(void *arg)
{
    (void)arg;
    closed_ctx_t c;
    memset(&c, 0, sizeof c);
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    c.spawn_rc = weft_group_spawn(&g, mark_ran, &c.ran);
    c.spawn_named_rc = weft_group_spawn_named(&g, mark_ran, &c.ran, "x");
    EXPECT_RC(weft_sleep(0.01), 0);
    EXPECT_RC(c.spawn_rc, WEFT_EBADF);
    EXPECT_RC(c.spawn_named_rc, WEFT_EBADF);
    EXPECT(atomic_load(&c.ran) == 0);
    return 0;
}

/* ------------------------------------------------------------ spawning from children */

static int spawn_grandchild(void *arg)
{
    kids_t *k = arg;
    EXPECT_RC(weft_group_spawn(k->g, sleeper, k), 0);
    return 0;
}

static int child_spawns_into_parent_group(void *arg)
{
    (void)arg;
    kids_t k;
    memset(&k, 0, sizeof k);
    k.sleep_s = 0.05;
    weft_group_t g;
    k.g = &g;
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < 4; i++)
        EXPECT_RC(weft_group_spawn(&g, spawn_grandchild, &k), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    /* Close waited for the grandchildren too. */
    EXPECT(atomic_load(&k.completed) == 4);
    return 0;
}

typedef struct {
    weft_group_t *g;
    atomic_int count;
    int depth;
} chain_t;

static int chain_link(void *arg)
{
    chain_t *c = arg;
    int n = atomic_fetch_add(&c->count, 1) + 1;
    if (n < c->depth) {
        EXPECT_RC(weft_sleep(0.0001), 0);
        EXPECT_RC(weft_group_spawn(c->g, chain_link, c), 0);
    }
    return 0;
}

static int spawn_chain_keeps_group_open(void *arg)
{
    (void)arg;
    chain_t c = {.depth = 200};
    weft_group_t g;
    c.g = &g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, chain_link, &c), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT(atomic_load(&c.count) == c.depth);
    return 0;
}

/* ------------------------------------------------------------ nesting */

typedef struct {
    kids_t k;
    int inner_rc;
    int outer_rc;
    int middle_recorded;
    size_t outer_nfail;
} nest_ctx_t;

static int middle_task(void *arg)
{
    nest_ctx_t *n = arg;
    weft_group_t inner;
    EXPECT_RC(weft_group_open(&inner), 0);
    EXPECT_RC(weft_group_spawn(&inner, sleeper, &n->k), 0);
    EXPECT_RC(weft_group_spawn(&inner, fail_eio, NULL), 0);
    n->inner_rc = weft_group_close(&inner, 0);
    return n->inner_rc;
}

static int nested_group_failure_propagates(void *arg)
{
    (void)arg;
    nest_ctx_t n;
    memset(&n, 0, sizeof n);
    n.k.sleep_s = 10.0;
    weft_group_t outer;
    EXPECT_RC(weft_group_open(&outer), 0);
    EXPECT_RC(weft_group_spawn(&outer, sleeper, &n.k), 0);
    EXPECT_RC(weft_group_spawn(&outer, middle_task, &n), 0);
    n.outer_rc = weft_group_close(&outer, 0);
    n.outer_nfail = weft_group_failure_count(&outer);
    n.middle_recorded = has_failure(&outer, -EIO, "middle_task");
    EXPECT_RC(n.inner_rc, -EIO);
    EXPECT_RC(n.outer_rc, -EIO);
    EXPECT(n.outer_nfail == 1);
    EXPECT(n.middle_recorded);
    /* Both sleepers (inner and outer group) were cancelled. */
    EXPECT(atomic_load(&n.k.cancelled) == 2);
    return 0;
}

typedef struct {
    weft_group_t *outer;
    atomic_int leaves_ready;
    atomic_int cancelled;
    int inner_rcs[3];
    int outer_rc;
} nest_cancel_t;

static int leaf_forever(void *arg)
{
    nest_cancel_t *n = arg;
    atomic_fetch_add(&n->leaves_ready, 1);
    int rc = weft_sleep(WEFT_FOREVER);
    if (rc == WEFT_ECANCELED)
        atomic_fetch_add(&n->cancelled, 1);
    return rc;
}

typedef struct {
    nest_cancel_t *n;
    int idx;
} nest_arg_t;

static int inner_group_task(void *arg)
{
    nest_arg_t *a = arg;
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    for (int i = 0; i < 3; i++)
        EXPECT_RC(weft_group_spawn(&g, leaf_forever, a->n), 0);
    int rc = weft_group_close(&g, 0);
    a->n->inner_rcs[a->idx] = rc;
    return rc;
}

static int outer_canceller_task(void *arg)
{
    nest_cancel_t *n = arg;
    /* Inside a separate group, on whatever worker it lands. */
    EXPECT(wt_wait_flag(&n->leaves_ready, 9, 10.0));
    weft_group_cancel(n->outer);
    return 0;
}

static int cancel_outer_group_cancels_nested(void *arg)
{
    (void)arg;
    nest_cancel_t n;
    memset(&n, 0, sizeof n);
    weft_group_t top, outer;
    weft_scope_t safety; /* a lost wake-up fails the test instead of hanging */
    weft_move_on_after(&safety, 20.0);
    n.outer = &outer;
    EXPECT_RC(weft_group_open(&top), 0);
    EXPECT_RC(weft_group_spawn(&top, outer_canceller_task, &n), 0);
    nest_arg_t args[3];
    EXPECT_RC(weft_group_open(&outer), 0);
    for (int i = 0; i < 3; i++) {
        args[i].n = &n;
        args[i].idx = i;
        EXPECT_RC(weft_group_spawn(&outer, inner_group_task, &args[i]), 0);
    }
    n.outer_rc = weft_group_close(&outer, 0);
    int rc = weft_group_close(&top, 0);
    rc = weft_scope_exit(&safety, rc);
    EXPECT(!weft_scope_cancelled_caught(&safety));
    EXPECT_RC(rc, 0);
    EXPECT(atomic_load(&n.cancelled) == 9);
    /* Inner groups were cancelled by an enclosing scope: they propagate. */
    for (int i = 0; i < 3; i++)
        EXPECT_RC(n.inner_rcs[i], WEFT_ECANCELED);
    /* The outer group absorbs its own cancellation. */
    EXPECT_RC(n.outer_rc, 0);
    return 0;
}

/* ------------------------------------------------------------ start / started */

typedef struct {
    int token;
    atomic_int before_started;
    atomic_int done;
    int start_rc;
    void *value;
    int done_at_start;
    int started_rc;
    int started_again_rc;
    int close_rc;
    size_t nfail;
    kids_t k;
    char name0[64];
} start_ctx_t;

static int server_task(void *arg)
{
    start_ctx_t *c = arg;
    EXPECT_RC(weft_sleep(0.01), 0);
    atomic_store(&c->before_started, 1);
    c->started_rc = weft_started(&c->token);
    EXPECT_RC(weft_sleep(0.05), 0);
    atomic_store(&c->done, 1);
    return 0;
}

static int start_delivers_value(void *arg)
{
    (void)arg;
    start_ctx_t c;
    memset(&c, 0, sizeof c);
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    c.start_rc = weft_group_start(&g, server_task, &c, &c.value);
    EXPECT(atomic_load(&c.before_started) == 1);
    c.done_at_start = atomic_load(&c.done);
    c.close_rc = weft_group_close(&g, 0);
    EXPECT(atomic_load(&c.done) == 1);
    EXPECT_RC(c.start_rc, 0);
    EXPECT(c.value == &c.token);
    EXPECT_RC(c.started_rc, 0);
    EXPECT(c.done_at_start == 0);
    EXPECT_RC(c.close_rc, 0);
    return 0;
}

static int fail_before_started(void *arg)
{
    (void)arg;
    EXPECT_RC(weft_sleep(0.005), 0);
    return -EIO;
}

static int start_task_fails_before_started(void *arg)
{
    (void)arg;
    start_ctx_t c;
    memset(&c, 0, sizeof c);
    c.k.sleep_s = 0.05;
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, sleeper, &c.k), 0);
    c.value = &c.token;
    c.start_rc = weft_group_start(&g, fail_before_started, &c, &c.value);
    /* The group is not cancelled. */
    EXPECT_RC(weft_checkpoint(), 0);
    c.close_rc = weft_group_close(&g, 0);
    c.nfail = weft_group_failure_count(&g);
    EXPECT_RC(c.start_rc, -EIO);
    EXPECT_RC(c.close_rc, 0);
    EXPECT(c.nfail == 0);
    EXPECT(atomic_load(&c.k.completed) == 1);
    EXPECT(atomic_load(&c.k.cancelled) == 0);
    return 0;
}

static int never_started(void *arg)
{
    (void)arg;
    EXPECT_RC(weft_checkpoint(), 0);
    return 0;
}

static int start_without_started_enotstarted(void *arg)
{
    (void)arg;
    start_ctx_t c;
    memset(&c, 0, sizeof c);
    c.k.sleep_s = 0.02;
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, sleeper, &c.k), 0);
    c.start_rc = weft_group_start(&g, never_started, &c, &c.value);
    c.close_rc = weft_group_close(&g, 0);
    c.nfail = weft_group_failure_count(&g);
    EXPECT_RC(c.start_rc, WEFT_ENOTSTARTED);
    EXPECT_RC(c.close_rc, 0);
    EXPECT(c.nfail == 0);
    EXPECT(atomic_load(&c.k.completed) == 1);
    return 0;
}

static int started_twice(void *arg)
{
    start_ctx_t *c = arg;
    c->started_rc = weft_started(&c->token);
    c->started_again_rc = weft_started(NULL);
    return 0;
}

static int started_twice_eperm(void *arg)
{
    (void)arg;
    start_ctx_t c;
    memset(&c, 0, sizeof c);
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    c.start_rc = weft_group_start(&g, started_twice, &c, &c.value);
    c.close_rc = weft_group_close(&g, 0);
    EXPECT_RC(c.start_rc, 0);
    EXPECT(c.value == &c.token);
    EXPECT_RC(c.started_rc, 0);
    EXPECT_RC(c.started_again_rc, WEFT_EPERM);
    EXPECT_RC(c.close_rc, 0);
    return 0;
}

static int started_in_spawned(void *arg)
{
    start_ctx_t *c = arg;
    c->started_rc = weft_started(&c->token);
    atomic_store(&c->done, 1);
    return 0;
}

static int started_in_spawned_task_is_noop(void *arg)
{
    (void)arg;
    start_ctx_t c;
    memset(&c, 0, sizeof c);
    weft_group_t g;
    c.started_rc = -1;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, started_in_spawned, &c), 0);
    c.close_rc = weft_group_close(&g, 0);
    EXPECT(atomic_load(&c.done) == 1);
    EXPECT_RC(c.started_rc, 0);
    EXPECT_RC(c.close_rc, 0);
    return 0;
}

static int start_then_fail(void *arg)
{
    start_ctx_t *c = arg;
    EXPECT_RC(weft_started(&c->token), 0);
    EXPECT_RC(weft_sleep(0.01), 0);
    return -EIO;
}

static int started_task_failure_is_group_failure(void *arg)
{
    (void)arg;
    start_ctx_t c;
    memset(&c, 0, sizeof c);
    c.k.sleep_s = 10.0;
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, sleeper, &c.k), 0);
    c.start_rc = weft_group_start(&g, start_then_fail, &c, &c.value);
    c.close_rc = weft_group_close(&g, 0);
    c.nfail = weft_group_failure_count(&g);
    const char *nm = NULL;
    int e = 0;
    if (c.nfail > 0 && weft_group_failure(&g, 0, &e, &nm) == 0 && nm)
        snprintf(c.name0, sizeof c.name0, "%s", nm);
    EXPECT_RC(c.start_rc, 0);
    EXPECT_RC(c.close_rc, -EIO);
    EXPECT(c.nfail == 1);
    EXPECT_STR(c.name0, "start_then_fail");
    EXPECT(atomic_load(&c.k.cancelled) == 1);
    return 0;
}

static int start_named_name_in_failure(void *arg)
{
    (void)arg;
    start_ctx_t c;
    memset(&c, 0, sizeof c);
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    c.start_rc = weft_group_start_named(&g, start_then_fail, &c, &c.value, "listener");
    c.close_rc = weft_group_close(&g, 0);
    c.nfail = weft_group_failure_count(&g);
    EXPECT(has_failure(&g, -EIO, "listener"));
    EXPECT_RC(c.start_rc, 0);
    EXPECT(c.value == &c.token);
    EXPECT_RC(c.close_rc, -EIO);
    EXPECT(c.nfail == 1);
    return 0;
}

/* The started task may itself spawn into the group it was started in. */
static int starter_spawns(void *arg)
{
    start_ctx_t *c = arg;
    EXPECT_RC(weft_group_spawn(c->k.g, sleeper, &c->k), 0);
    EXPECT_RC(weft_started(NULL), 0);
    return 0;
}

static int started_task_spawns_into_group(void *arg)
{
    (void)arg;
    start_ctx_t c;
    memset(&c, 0, sizeof c);
    c.k.sleep_s = 0.02;
    c.value = &c;
    weft_group_t g;
    c.k.g = &g;
    EXPECT_RC(weft_group_open(&g), 0);
    c.start_rc = weft_group_start(&g, starter_spawns, &c, &c.value);
    c.close_rc = weft_group_close(&g, 0);
    EXPECT_RC(c.start_rc, 0);
    EXPECT(c.value == NULL);
    EXPECT_RC(c.close_rc, 0);
    EXPECT(atomic_load(&c.k.completed) == 1);
    return 0;
}

/* The wait of weft_group_start completed (the value was delivered) when the
 * started task cancelled the starter's scope right after weft_started: start
 * still succeeds; the next checkpoint reports the cancellation. */
typedef struct {
    weft_scope_t *outer;
    int token;
    void *value;
    int start_rc, cp_after_start, close_rc, exit_rc, caught;
    int task_cp_rc;
} race_start_t;

static int start_then_cancel_starter(void *arg)
{
    race_start_t *c = arg;
    EXPECT_RC(weft_started(&c->token), 0);
    weft_scope_cancel(c->outer);
    /* The group sits inside the cancelled scope: this task is cancelled too. */
    c->task_cp_rc = weft_checkpoint();
    return 0;
}

static void completed_start(race_start_t *c)
{
    weft_scope_t s;
    weft_group_t g;
    weft_scope_enter(&s, WEFT_FOREVER, 0);
    c->outer = &s;
    EXPECT_RC(weft_group_open(&g), 0);
    c->start_rc = weft_group_start(&g, start_then_cancel_starter, c, &c->value);
    c->cp_after_start = weft_checkpoint();
    c->close_rc = weft_group_close(&g, c->cp_after_start);
    c->exit_rc = weft_scope_exit(&s, c->close_rc);
    c->caught = weft_scope_cancelled_caught(&s);
}

static int completed_start_not_cancelled(void *arg)
{
    (void)arg;
    race_start_t c;
    memset(&c, 0, sizeof c);
    completed_start(&c);
    EXPECT_RC(c.start_rc, 0);
    EXPECT(c.value == &c.token);
    EXPECT_RC(c.cp_after_start, WEFT_ECANCELED);
    EXPECT_RC(c.task_cp_rc, WEFT_ECANCELED);
    EXPECT_RC(c.close_rc, WEFT_ECANCELED);
    EXPECT_RC(c.exit_rc, 0);
    EXPECT(c.caught);
    return 0;
}

/* Until it calls weft_started, the task runs under the starter's scope:
 * cancelling that scope reaches it, and start reports WEFT_ECANCELED. */
typedef struct {
    weft_scope_t *starter_scope;
    atomic_int sleeping;
    int start_rc, sleep_rc, close_rc, exit_rc;
    size_t nfail;
    void *value;
} slow_start_t;

static int slow_starter(void *arg)
{
    slow_start_t *c = arg;
    atomic_store(&c->sleeping, 1);
    c->sleep_rc = weft_sleep(10.0);
    if (c->sleep_rc != 0)
        return c->sleep_rc;
    return weft_started(NULL);
}

static int cancel_starter_scope(void *arg)
{
    slow_start_t *c = arg;
    EXPECT(wt_wait_flag(&c->sleeping, 1, 10.0));
    EXPECT_RC(weft_sleep(0.01), 0);
    weft_scope_cancel(c->starter_scope);
    return 0;
}

static int start_cancelled_before_started(void *arg)
{
    (void)arg;
    slow_start_t c;
    memset(&c, 0, sizeof c);
    weft_scope_t s;
    weft_group_t helpers, g;
    EXPECT_RC(weft_group_open(&helpers), 0);
    weft_scope_enter(&s, WEFT_FOREVER, 0);
    c.starter_scope = &s;
    EXPECT_RC(weft_group_spawn(&helpers, cancel_starter_scope, &c), 0);
    EXPECT_RC(weft_group_open(&g), 0);
    c.start_rc = weft_group_start(&g, slow_starter, &c, &c.value);
    c.close_rc = weft_group_close(&g, c.start_rc);
    c.nfail = weft_group_failure_count(&g);
    c.exit_rc = weft_scope_exit(&s, c.close_rc);
    EXPECT_RC(weft_group_close(&helpers, 0), 0);
    EXPECT_RC(c.sleep_rc, WEFT_ECANCELED);
    EXPECT_RC(c.start_rc, WEFT_ECANCELED);
    EXPECT_RC(c.close_rc, WEFT_ECANCELED);
    EXPECT(c.nfail == 0);
    EXPECT_RC(c.exit_rc, 0);
    return 0;
}

/* Once started, the task belongs to the group: cancelling the scope of the
 * task that started it no longer reaches it (Trio's task_status.started). */
typedef struct {
    weft_group_t *g;
    int start_rc, server_rc, starter_cp;
    atomic_int server_done;
} moved_t;

static int server_after_start(void *arg)
{
    moved_t *c = arg;
    EXPECT_RC(weft_started(NULL), 0);
    c->server_rc = weft_sleep(0.05);
    atomic_store(&c->server_done, 1);
    return 0;
}

static int starter_in_own_scope(void *arg)
{
    moved_t *c = arg;
    weft_scope_t s;
    weft_scope_enter(&s, WEFT_FOREVER, 0);
    void *value = NULL;
    c->start_rc = weft_group_start(c->g, server_after_start, c, &value);
    weft_scope_cancel(&s);
    c->starter_cp = weft_checkpoint();
    EXPECT_RC(weft_scope_exit(&s, c->starter_cp), 0);
    return 0;
}

static int started_task_leaves_starter_scope(void *arg)
{
    (void)arg;
    moved_t c;
    memset(&c, 0, sizeof c);
    weft_group_t g;
    c.g = &g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, starter_in_own_scope, &c), 0);
    EXPECT_RC(weft_group_close(&g, 0), 0);
    EXPECT_RC(c.start_rc, 0);
    EXPECT_RC(c.starter_cp, WEFT_ECANCELED);
    EXPECT(atomic_load(&c.server_done) == 1);
    EXPECT_RC(c.server_rc, 0);
    return 0;
}

/* The deadline of the scope around a group applies to its tasks. */
typedef struct {
    double deadline;
    double child_eff;
    kids_t k;
    int close_rc, exit_rc, caught;
    double elapsed;
} dl_group_t;

static int read_effective_deadline(void *arg)
{
    dl_group_t *c = arg;
    c->child_eff = weft_current_effective_deadline();
    return 0;
}

static int enclosing_deadline_cancels_children(void *arg)
{
    (void)arg;
    dl_group_t c;
    memset(&c, 0, sizeof c);
    c.k.sleep_s = 10.0;
    weft_scope_t s;
    weft_group_t g;
    double t0 = weft_now();
    weft_move_on_after(&s, 0.1);
    c.deadline = weft_scope_deadline(&s);
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, read_effective_deadline, &c), 0);
    for (int i = 0; i < 3; i++)
        EXPECT_RC(weft_group_spawn(&g, sleeper, &c.k), 0);
    c.close_rc = weft_group_close(&g, 0);
    c.elapsed = weft_now() - t0;
    c.exit_rc = weft_scope_exit(&s, c.close_rc);
    c.caught = weft_scope_cancelled_caught(&s);
    EXPECT(fabs(c.child_eff - c.deadline) < 1e-3);
    EXPECT(atomic_load(&c.k.cancelled) == 3);
    EXPECT_RC(c.close_rc, WEFT_ECANCELED);
    EXPECT_RC(c.exit_rc, 0);
    EXPECT(c.caught);
    EXPECT(c.elapsed >= 0.1);
    EXPECT(c.elapsed < 0.1 + WT_SLACK);
    return 0;
}

/* ------------------------------------------------------------ started into a cancelled group */

/* Trio's test_nursery_start_with_cancelled_nursery: a task started into a
 * group that is (or whose enclosing scope is) cancelled just before it calls
 * weft_started has children asleep in a group of its own; moving it into
 * the cancelled group must reach them at once, not leave them asleep. */
typedef struct {
    weft_group_t *target;       /* the group the tasks are started into */
    weft_group_t *outer;        /* the group enclosing the target's host */
    int cancel_outer;           /* cancel `outer` instead of `target` */
    atomic_int asleep;
    atomic_int woken[2];
    int sleep_rc[2], start_rc, inner_close_rc;
    int started_into_target;
} moved_into_cancelled_t;

typedef struct {
    moved_into_cancelled_t *c;
    int i;
} sleeper_arg_t;

static int sleeper_forever(void *arg)
{
    sleeper_arg_t *a = arg;
    atomic_fetch_add(&a->c->asleep, 1);
    a->c->sleep_rc[a->i] = weft_sleep(WEFT_FOREVER);
    atomic_store(&a->c->woken[a->i], 1);
    return a->c->sleep_rc[a->i];
}

static int sleeping_children(void *arg)
{
    moved_into_cancelled_t *c = arg;
    sleeper_arg_t a[2] = {{c, 0}, {c, 1}};
    weft_group_t g;
    EXPECT_RC(weft_group_open(&g), 0);
    EXPECT_RC(weft_group_spawn(&g, sleeper_forever, &a[0]), 0);
    EXPECT_RC(weft_group_spawn(&g, sleeper_forever, &a[1]), 0);
    /* The starter is shielded: until weft_started, nothing cancels us. */
    EXPECT(wt_wait_flag(&c->asleep, 2, 10.0));
    weft_group_cancel(c->cancel_outer ? c->outer : c->target);
    EXPECT_RC(weft_started(NULL), 0);
    c->inner_close_rc = weft_group_close(&g, 0);
    return c->inner_close_rc;
}

/* Holds the target group open, as Trio's setup_nursery does. */
static int target_host(void *arg)
{
    moved_into_cancelled_t *c = arg;
    weft_group_t target;
    EXPECT_RC(weft_group_open(&target), 0);
    c->target = &target;
    EXPECT_RC(weft_started(NULL), 0);
    int rc = weft_sleep(WEFT_FOREVER);
    return weft_group_close(&target, rc);
}

static int moved_into_cancelled(moved_into_cancelled_t *c)
{
    weft_group_t outer;
    EXPECT_RC(weft_group_open(&outer), 0);
    c->outer = &outer;
    EXPECT_RC(weft_group_start(&outer, target_host, c, NULL), 0);
    /* The starter is shielded: only the moved task's side is under test. */
    weft_scope_t shield;
    weft_scope_enter(&shield, WEFT_FOREVER, WEFT_SHIELD);
    c->start_rc = weft_group_start(c->target, sleeping_children, c, NULL);
    EXPECT_RC(weft_scope_exit(&shield, 0), 0);
    weft_group_cancel(&outer); /* ends target_host's sleep */
    return weft_group_close(&outer, 0);
}

static int started_into_cancelled_group_wakes_children(void *arg)
{
    (void)arg;
    for (int variant = 0; variant < 2; variant++) {
        moved_into_cancelled_t c;
        memset(&c, 0, sizeof c);
        c.cancel_outer = variant;
        /* A hang here is the defect (the sleepers never hear of it): the
         * case's timeout reports it with the task tree. */
        EXPECT_RC(moved_into_cancelled(&c), 0);
        EXPECT_RC(c.start_rc, 0);
        for (int i = 0; i < 2; i++) {
            EXPECT(atomic_load(&c.woken[i]) == 1);
            EXPECT_RC(c.sleep_rc[i], WEFT_ECANCELED);
        }
        EXPECT_RC(c.inner_close_rc, WEFT_ECANCELED);
    }
    return 0;
}

/* The reproduction as a user wrote it: weft_started() moves a task whose
 * child sleeps into a group cancelled beforehand; the sleep must end at
 * once with WEFT_ECANCELED, not after its 3 s. */
typedef struct {
    weft_group_t *t;
    int sleep_rc;
    double slept;
} user_started_t;

static int user_sleeper(void *arg)
{
    user_started_t *u = arg;
    double t0 = weft_now();
    u->sleep_rc = weft_sleep(3);
    u->slept = weft_now() - t0;
    return u->sleep_rc;
}

static int user_child(void *arg)
{
    weft_group_t g;
    weft_group_open(&g);
    weft_group_spawn(&g, user_sleeper, arg);
    weft_sleep(0.05);
    weft_started(NULL); /* moves the task into T, which is cancelled */
    return weft_group_close(&g, 0);
}

static int user_program(user_started_t *u)
{
    weft_group_t t;
    weft_group_open(&t);
    u->t = &t;
    weft_group_cancel(&t);
    weft_scope_t sh;
    weft_scope_enter(&sh, WEFT_FOREVER, WEFT_SHIELD); /* the starter is not cancelled */
    int rc = weft_group_start(&t, user_child, u, NULL);
    weft_scope_exit(&sh, 0);
    return weft_group_close(&t, rc);
}

static int started_into_cancelled_group_user_program(void *arg)
{
    (void)arg;
    user_started_t u;
    memset(&u, 0, sizeof u);
    EXPECT_RC(user_program(&u), 0);
    EXPECT_RC(u.sleep_rc, WEFT_ECANCELED);
    EXPECT(u.slept < 2.0);
    return 0;
}

/* ------------------------------------------------------------ start in a cancelled scope */

/* As in Trio and AnyIO, start launches the task even when the caller is
 * cancelled: the task runs under the caller's cancelled scope, sees
 * WEFT_ECANCELED at its first checkpoint, and start returns what it
 * returned, so `arg` is always the task's to release. */
typedef struct {
    int *owned;                 /* the task frees it */
    atomic_int ran;
    int task_cp_rc, start_rc, close_rc, exit_rc;
    int call_started_first;     /* call weft_started before any checkpoint */
    void *value;
    int token;
} start_cancelled_t;

static int start_in_cancelled(void *arg)
{
    start_cancelled_t *c = arg;
    atomic_fetch_add(&c->ran, 1);
    free(c->owned);
    c->owned = NULL;
    if (c->call_started_first) {
        EXPECT_RC(weft_started(&c->token), 0);
        /* In the group now, which is inside the cancelled scope too. */
        c->task_cp_rc = weft_checkpoint();
        return c->task_cp_rc;
    }
    c->task_cp_rc = weft_checkpoint();
    if (c->task_cp_rc)
        return c->task_cp_rc;
    return weft_started(NULL);
}

static void start_cancelled(start_cancelled_t *c)
{
    weft_scope_t s;
    weft_group_t g;
    weft_scope_enter(&s, WEFT_FOREVER, 0);
    EXPECT_RC(weft_group_open(&g), 0);
    weft_scope_cancel(&s);
    c->start_rc = weft_group_start(&g, start_in_cancelled, c, &c->value);
    c->close_rc = weft_group_close(&g, 0);
    c->exit_rc = weft_scope_exit(&s, c->close_rc);
}

static int start_in_cancelled_scope_runs_task(void *arg)
{
    (void)arg;
    for (int first = 0; first < 2; first++) {
        start_cancelled_t c;
        memset(&c, 0, sizeof c);
        c.call_started_first = first;
        c.owned = malloc(sizeof *c.owned);
        EXPECT(c.owned != NULL);
        start_cancelled(&c);
        EXPECT(atomic_load(&c.ran) == 1);
        EXPECT(c.owned == NULL); /* LSan: freed by the task */
        EXPECT_RC(c.task_cp_rc, WEFT_ECANCELED);
        if (first) {
            EXPECT_RC(c.start_rc, 0);
            EXPECT(c.value == &c.token);
        } else {
            EXPECT_RC(c.start_rc, WEFT_ECANCELED);
        }
        EXPECT_RC(c.close_rc, WEFT_ECANCELED);
        EXPECT_RC(c.exit_rc, 0);
    }
    return 0;
}

static const wt_case_t cases[] = {
    WT_CASE_ON(open_spawn_close, WT_W2),
    WT_CASE_ON(many_tasks_all_run, WT_W1 | WT_W4),
    WT_CASE_ON(close_waits_for_children, WT_W2),
    WT_CASE_ON(failing_child_cancels_siblings, WT_W2),
    WT_CASE_ON(two_failures_egroup, WT_W2),
    WT_CASE_ON(child_ecanceled_is_not_failure, WT_W2),
    WT_CASE_ON(host_rc_recorded_and_cancels, WT_W2),
    WT_CASE_ON(host_and_child_failures_egroup, WT_W2),
    WT_CASE_ON(spawn_named_name_in_failure, WT_W2),
    WT_CASE_ON(long_task_name_in_failure, WT_W2),
    WT_CASE_ON(failure_cancels_host_body, WT_W2),
    WT_CASE_ON(reopen_after_failure, WT_W2),
    WT_CASE_ON(group_cancel_absorbed, WT_W2),
    WT_CASE_ON(host_body_inside_group_scope, WT_W2),
    WT_CASE_ON(child_cancels_own_group, WT_W2),
    WT_CASE_ON(group_in_cancelled_scope_propagates, WT_W2),
    WT_CASE_ON(failure_precedes_cancellation, WT_W2),
    WT_CASE_ON(spawn_into_cancelled_group_runs, WT_W2),
    WT_CASE_ON(spawn_after_close_ebadf, WT_W2),
    WT_CASE_ON(child_spawns_into_parent_group, WT_W2),
    WT_CASE_ON(spawn_chain_keeps_group_open, WT_W4),
    WT_CASE_ON(nested_group_failure_propagates, WT_W4),
    WT_CASE_ON(cancel_outer_group_cancels_nested, WT_W4),
    WT_CASE_ON(start_delivers_value, WT_W2),
    WT_CASE_ON(start_task_fails_before_started, WT_W2),
    WT_CASE_ON(start_without_started_enotstarted, WT_W2),
    WT_CASE_ON(started_twice_eperm, WT_W2),
    WT_CASE_ON(started_in_spawned_task_is_noop, WT_W2),
    WT_CASE_ON(started_task_failure_is_group_failure, WT_W2),
    WT_CASE_ON(start_named_name_in_failure, WT_W2),
    WT_CASE_ON(started_task_spawns_into_group, WT_W2),
    WT_CASE(completed_start_not_cancelled),
    WT_CASE_ON(start_cancelled_before_started, WT_W2),
    WT_CASE_ON(started_task_leaves_starter_scope, WT_W2),
    WT_CASE_ON(enclosing_deadline_cancels_children, WT_W2),
    WT_CASE(started_into_cancelled_group_wakes_children),
    WT_CASE(started_into_cancelled_group_user_program),
    WT_CASE(start_in_cancelled_scope_runs_task),
};
WT_SUITE(cases)
