#include "sched/group.h"

#include <string.h>

#include "sched/runtime.h"

#define GROUP_MAGIC 0x67726f75u

_Static_assert(sizeof(wf_group_t) <= sizeof(weft_group_t), "weft_group_t too small");
_Static_assert(_Alignof(wf_group_t) <= _Alignof(weft_group_t), "weft_group_t misaligned");

static inline wf_group_t *impl(weft_group_t *g) { return (wf_group_t *)(void *)g; }
static inline const wf_group_t *cimpl(const weft_group_t *g) { return (const wf_group_t *)(const void *)g; }

/* ---------------------------------------------------------------- failures */

static wf_failure_t *failure_slot(const wf_group_t *g, size_t i) {
    size_t ninline = sizeof g->failures / sizeof g->failures[0];
    if (i < ninline) return (wf_failure_t *)&g->failures[i];
    i -= ninline;
    size_t per = sizeof g->more->items / sizeof g->more->items[0];
    wf_failure_chunk_t *c = g->more;
    for (; c && i >= per; i -= per) c = c->next;
    return c ? &c->items[i] : NULL;
}

/* Record a failure; the caller holds g->lock. */
static void record_locked(wf_group_t *g, int err, const char *name) {
    size_t ninline = sizeof g->failures / sizeof g->failures[0];
    size_t per = sizeof g->more->items / sizeof g->more->items[0];
    size_t i = g->nfail;
    if (i >= ninline && (i - ninline) % per == 0) {
        wf_failure_chunk_t *c = wf_calloc(1, sizeof *c);
        if (c) {
            wf_failure_chunk_t **tail = &g->more;
            while (*tail) tail = &(*tail)->next;
            *tail = c;
            wf_task_defer_free(g->host, &c->cleanup);
        }
    }
    g->nfail++;
    wf_failure_t *f = failure_slot(g, i);
    if (!f) return; /* counted; weft_group_failure reports it as unrecorded */
    f->err = err;
    f->name = name;
}

static void fail(wf_group_t *g, int err, const char *name) {
    wf_spin_lock(&g->lock);
    record_locked(g, err, name);
    wf_spin_unlock(&g->lock);
    wf_scope_cancel(&g->scope);
}

/* ---------------------------------------------------------------- weft_group_start */

static void start_resolve(wf_start_t *st, int rc, void *value) {
    wf_spin_lock(&st->lock);
    st->done = 1;
    st->rc = rc;
    st->value = value;
    if (st->waiting) wf_wait_claim(st->waiter, 0);
    wf_spin_unlock(&st->lock);
}


int weft_started(void *value) {
    wf_task_t *t = wf_current_task();
    if (!t || t->started) return WEFT_EPERM;
    t->started = 1;
    wf_start_t *st = t->start;
    if (!st) return 0;
    t->start = NULL;
    /* The task leaves the starter's scope for its group's: from now on
     * cancelling the starter no longer reaches it (Trio's
     * task_status.started), and a cancellation in effect in the group
     * reaches it and everything below it at once. */
    wf_scope_reparent(&t->root, &t->group->scope);
    start_resolve(st, 0, value);
    return 0;
}

/* ---------------------------------------------------------------- tasks */

static inline unsigned long live_count(unsigned long v) { return v / WF_GROUP_ONE; }

/* One task fewer.  The host pointer is read first: after the decrement the
 * group may be gone, unless we are the one the waiting host needs. */
static void task_gone(wf_group_t *g) {
    wf_task_t *host = g->host;
    unsigned long v = atomic_load(&g->live), next;
    do {
        next = v - WF_GROUP_ONE;
        if (live_count(next) == 0) next &= ~WF_GROUP_WAITING;
    } while (!atomic_compare_exchange_weak(&g->live, &v, next));
    if ((v & WF_GROUP_WAITING) && live_count(next) == 0) wf_wait_claim(host, 0);
}

void wf_group_task_finished(wf_task_t *t, int rc) {
    wf_group_t *g = t->group;
    if (t->start) start_resolve(t->start, rc ? rc : WEFT_ENOTSTARTED, NULL);
    else if (rc != 0 && rc != WEFT_ECANCELED) fail(g, rc, t->name);
    task_gone(g);
}

static int launch(weft_group_t *pg, weft_fn_t fn, void *arg, const char *name, wf_start_t *st,
                  wf_task_t **out) {
    if (!pg || !fn) return WEFT_EINVAL;
    /* A task of the group's runtime, or a call that runtime runs between
     * tasks (weft_from_thread_run_sync): not another runtime, not a thread. */
    wf_worker_t *w = wf_current_worker();
    wf_task_t *self = wf_current_task();
    if (!w || (st && !self)) return WEFT_EPERM;
    wf_group_t *g = impl(pg);
    if (g->magic != GROUP_MAGIC) return WEFT_EINVAL;
    if (g->host->rt != w->rt) return WEFT_EPERM;
    unsigned long v = atomic_load(&g->live);
    do {
        if (v & WF_GROUP_CLOSED) return WEFT_EBADF;
    } while (!atomic_compare_exchange_weak(&g->live, &v, v + WF_GROUP_ONE));
    wf_task_t *t;
    int rc = wf_task_new(w->rt, fn, arg, name, st ? self->scope : &g->scope, &t);
    if (rc != 0) {
        task_gone(g);
        return rc;
    }
    t->group = g;
    t->start = st;
    *out = t;
    return 0;
}

#undef weft_group_spawn
int weft_group_spawn(weft_group_t *g, weft_fn_t fn, void *arg) {
    return weft_group_spawn_named(g, fn, arg, "task");
}

int weft_group_spawn_named(weft_group_t *g, weft_fn_t fn, void *arg, const char *name) {
    wf_task_t *t;
    int rc = launch(g, fn, arg, name, NULL, &t);
    if (rc == 0) wf_schedule(t);
    return rc;
}

int wf_group_spawn_mapped(weft_group_t *g, weft_fn_t fn, void *arg, const char *name,
                          wf_worker_t *on) {
    wf_worker_t *w = wf_current_worker();
    if (!w) return WEFT_EPERM;
    wf_stack_t s;
    if (wf_stack_get(w->rt->stacks, &w->stacks, &s) != 0) return WEFT_ENOMEM;
    wf_task_t *t;
    int rc = launch(g, fn, arg, name, NULL, &t);
    if (rc) {
        wf_stack_put(w->rt->stacks, &w->stacks, &s);
        return rc;
    }
    wf_task_use_stack(t, &s);
    if (on) wf_schedule_on(t, on);
    else wf_schedule(t);
    return 0;
}

#undef weft_group_start
int weft_group_start(weft_group_t *g, weft_fn_t fn, void *arg, void **value) {
    return weft_group_start_named(g, fn, arg, value, "task");
}

int weft_group_start_named(weft_group_t *g, weft_fn_t fn, void *arg, void **value,
                           const char *name) {
    wf_task_t *self = wf_current_task();
    /* Launched even when we are cancelled, as spawn does (Trio, AnyIO): the
     * task then sees WEFT_ECANCELED at its first checkpoint, and what it
     * returns is ours to return, so `arg` is always the task's. */
    wf_start_t st = {.waiter = self};
    wf_spin_init(&st.lock);
    if (self) wf_task_link_root(self); /* the task starts below our scope */
    wf_task_t *t;
    int rc = launch(g, fn, arg, name, &st, &t);
    if (rc != 0) return rc;
    wf_schedule(t);
    /* Not cancellable: the task runs under our scope until it starts, so a
     * cancellation of ours reaches it and it resolves the wait itself. */
    wf_spin_lock(&st.lock);
    if (!st.done) {
        wf_wait_arm(self, 0, WF_WAIT_GROUP_START, impl(g));
        st.waiting = 1;
        wf_spin_unlock(&st.lock);
        wf_wait_park(self);
        wf_spin_lock(&st.lock);
    }
    wf_spin_unlock(&st.lock);
    if (st.rc == 0 && value) *value = st.value;
    return st.rc;
}

/* ---------------------------------------------------------------- open / close */

int weft_group_open(weft_group_t *pg) {
    if (!pg) return WEFT_EINVAL;
    wf_task_t *t = wf_current_task();
    if (!t) return WEFT_EPERM;
    wf_group_t *g = impl(pg);
    memset(g, 0, sizeof *g);
    wf_spin_init(&g->lock);
    g->magic = GROUP_MAGIC;
    atomic_init(&g->live, 0);
    g->host = t;
    wf_scope_push(&g->scope, WEFT_FOREVER, WF_SCOPE_GROUP);
    return 0;
}

void weft_group_cancel(weft_group_t *g) {
    if (g && impl(g)->magic == GROUP_MAGIC) wf_scope_cancel(&impl(g)->scope);
}

int weft_group_close(weft_group_t *pg, int rc) {
    if (!pg) return WEFT_EINVAL;
    wf_group_t *g = impl(pg);
    if (g->magic != GROUP_MAGIC) return WEFT_EINVAL;
    if (atomic_load(&g->live) & WF_GROUP_CLOSED) return WEFT_EBADF;
    wf_task_t *t = wf_current_task();
    if (!t) return WEFT_EPERM;
    if (t != g->host || t->scope != &g->scope)
        wf_scope_misuse(&g->scope, "task group", "out of order: close it from the task that opened it, after every scope opened inside it");
    if (rc != 0 && rc != WEFT_ECANCELED) fail(g, rc, t->name);
    for (;;) {
        unsigned long v = atomic_load(&g->live);
        if (live_count(v) == 0) {
            if (atomic_compare_exchange_strong(&g->live, &v, WF_GROUP_CLOSED)) break;
            continue; /* a task was spawned meanwhile */
        }
        /* Not cancellable: the children are in our scope, so a cancellation
         * reaches them and they end; we wait for them whatever happens. */
        wf_wait_arm(t, 0, WF_WAIT_GROUP_CLOSE, g);
        if (atomic_compare_exchange_strong(&g->live, &v, v | WF_GROUP_WAITING)) {
            wf_wait_park(t); /* the last task clears WAITING and wakes us */
            continue;
        }
        if (!wf_wait_disarm(t)) wf_wait_park(t); /* the count moved: look again */
    }
    wf_scope_pop(&g->scope, "task group");
    wf_scope_flag_clear(&g->scope, WF_SCOPE_GROUP);
    if (g->nfail == 1) return failure_slot(g, 0)->err;
    if (g->nfail > 1) return WEFT_EGROUP;
    return wf_scope_cancelled(g->scope.parent) ? WEFT_ECANCELED : 0;
}

size_t weft_group_failure_count(const weft_group_t *g) {
    return g && cimpl(g)->magic == GROUP_MAGIC ? cimpl(g)->nfail : 0;
}

int weft_group_failure(const weft_group_t *pg, size_t i, int *err, const char **task_name) {
    if (!pg || cimpl(pg)->magic != GROUP_MAGIC || i >= cimpl(pg)->nfail) return WEFT_EINVAL;
    const wf_failure_t *f = failure_slot(cimpl(pg), i);
    if (err) *err = f ? f->err : WEFT_ENOMEM;
    if (task_name) *task_name = f ? f->name : "(not recorded: out of memory)";
    return 0;
}
