#include "sched/task.h"

#include <stdint.h>
#include <string.h>

#include "sched/det.h"
#include "sched/group.h"
#include "sched/inbox.h"
#include "sched/local.h"
#include "sched/vclock.h"


wf_task_t *wf_current_task(void) {
    wf_worker_t *w = wf_current_worker();
    return w ? w->current : NULL;
}

void wf_task_link_root(wf_task_t *t) {
    if (t->root_linked) return;
    wf_scope_link(&t->root);
    t->root_linked = 1;
}

/* Before anyone hears of the end: a caller that waited for the task sees
 * the values only it held destroyed.  Out of line, so that the common end
 * (no values) stays small enough for the compiler to inline. */
__attribute__((noinline, cold)) static void drop_locals(wf_task_t *t) {
    /* A destroy that sets a value (it runs as this task) made another. */
    while (t->locals) {
        wf_locals_t *l = t->locals;
        t->locals = NULL;
        wf_locals_release(l);
    }
}

void wf_task_complete(wf_task_t *t, int rc) {
    if (WF_UNLIKELY(t->locals != NULL)) drop_locals(t);
    /* Leave the tree before the group learns we are done: once it does, the
     * group's scope (on the host's stack) may be gone. */
    if (t->root_linked) wf_scope_detach(&t->root);
    if (t->group) wf_group_task_finished(t, rc);
    else if (t->call) t->call->done(t->call, rc);
    else {
        wf_runtime_t *rt = t->rt;
        rt->root_rc = rc;
        pthread_mutex_lock(&rt->root_lock); /* the dump may be reading our tree */
        rt->root_gone = 1;
        pthread_mutex_unlock(&rt->root_lock);
    }
}

static void task_entry(void *arg) {
    wf_task_t *t = arg;
    int rc = t->fn(t->arg);
    if (t->scope != &t->root)
        wf_scope_misuse(t->scope, "a scope or group", "by returning: it was still open when the task returned");
    /* Once its group hears of the end, the name may be freed. */
    wf_worker_forget_name(wf_current_worker());
    wf_task_complete(t, rc);
    wf_task_switch_out(t, WF_SWITCH_EXIT);
}

/* ---------------------------------------------------------------- records */

/* Task records are recycled through a per-worker list in front of a
 * runtime-wide one: spawning and ending a task then costs no malloc, and a
 * spawner on one worker reuses what finishers on others give back, in
 * batches so the runtime's mutex stays cold. */
#define RECORD_CACHE 256u
#define RECORD_BATCH 128u
#define RECORD_POOL_MAX 65536u

/* The runtime-wide count, written under record_lock.  A spawner whose cache
 * ran dry reads it without the lock to learn whether taking the lock is
 * worth it: a stale answer costs one malloc or one empty look, never a
 * record. */
static size_t pool_count(const wf_runtime_t *rt) {
    return atomic_load_explicit(&rt->n_records, memory_order_relaxed);
}

static void pool_count_set(wf_runtime_t *rt, size_t n) {
    atomic_store_explicit(&rt->n_records, n, memory_order_relaxed);
}

/* `w`: the calling worker if it belongs to rt, else NULL. */
static wf_task_t *record_get(wf_runtime_t *rt, wf_worker_t *w) {
    if (!w) return wf_alloc(sizeof(wf_task_t));
    if (!w->records && pool_count(rt)) {
        pthread_mutex_lock(&rt->record_lock);
        size_t n = pool_count(rt);
        while (rt->records && w->n_records < RECORD_BATCH) {
            wf_task_t *t = rt->records;
            rt->records = t->queue_next;
            n--;
            t->queue_next = w->records;
            w->records = t;
            w->n_records++;
        }
        pool_count_set(rt, n);
        pthread_mutex_unlock(&rt->record_lock);
    }
    wf_task_t *t = w->records;
    if (!t) return wf_alloc(sizeof *t);
    w->records = t->queue_next;
    w->n_records--;
    return t;
}

static void records_give_back(wf_worker_t *w, unsigned n) {
    wf_runtime_t *rt = w->rt;
    pthread_mutex_lock(&rt->record_lock);
    size_t pooled = pool_count(rt);
    for (; n && w->records; n--) {
        wf_task_t *t = w->records;
        w->records = t->queue_next;
        w->n_records--;
        if (pooled >= RECORD_POOL_MAX) {
            wf_free(t);
            continue;
        }
        t->queue_next = rt->records;
        rt->records = t;
        pooled++;
    }
    pool_count_set(rt, pooled);
    pthread_mutex_unlock(&rt->record_lock);
}

static void record_put(wf_worker_t *w, wf_task_t *t) {
    t->queue_next = w->records;
    w->records = t;
    if (++w->n_records > RECORD_CACHE) records_give_back(w, RECORD_BATCH);
}

void wf_task_records_flush(wf_worker_t *w) { records_give_back(w, UINT32_MAX); }

void wf_task_records_free(wf_runtime_t *rt) {
    while (rt->records) {
        wf_task_t *t = rt->records;
        rt->records = t->queue_next;
        wf_free(t);
    }
    pool_count_set(rt, 0);
}

/* ---------------------------------------------------------------- lifecycle */

int wf_task_new(wf_runtime_t *rt, weft_fn_t fn, void *arg, const char *name,
                wf_scope_t *parent_scope, wf_task_t **out) {
    wf_worker_t *w = wf_current_worker();
    wf_task_t *spawner = w ? w->current : NULL;
    if (w && w->rt != rt) w = NULL;
    wf_task_t *t = record_get(rt, w);
    if (!t) return WEFT_ENOMEM;
    if (w) wf_count(&w->spawned);
    else atomic_fetch_add_explicit(&rt->spawned_outside, 1, memory_order_relaxed);
    memset(t, 0, sizeof *t);
    t->rt = rt;
    t->fn = fn;
    t->arg = arg;
    t->name = name ? name : "task";
    atomic_init(&t->park, WF_RUNNING);
    wf_spin_init(&t->wlock);
    wf_timer_init(&t->sleep_timer, NULL);
    t->scope = &t->root;
    if (WF_UNLIKELY(rt->det)) t->det_id = ++rt->det->next_id;
    /* The spawner's values as they are now (a NULL copy when it has none);
     * none from outside the runtime (its main, even when weft_run is called
     * from a blocking call of another runtime). */
    wf_locals_t *l = spawner ? spawner->locals : w ? wf_locals_outside() : NULL;
    if (l) t->locals = wf_locals_share(l);
    wf_scope_init(&t->root, parent_scope, t);
    *out = t;
    return 0;
}

int wf_task_prepare(wf_task_t *t) {
    wf_worker_t *w = wf_current_worker();
    wf_stack_t s;
    if (wf_stack_get(t->rt->stacks, &w->stacks, &s) != 0) return WEFT_ENOMEM;
    wf_task_use_stack(t, &s);
    return 0;
}

void wf_task_use_stack(wf_task_t *t, const wf_stack_t *s) {
    t->stack = *s;
    wf_fiber_init(&t->fiber, &t->stack, t->stack.hi, task_entry, t);
    t->fiber.name = t->name;
}

void wf_task_defer_free(wf_task_t *t, struct wf_cleanup *mem) {
    mem->next = atomic_load_explicit(&t->cleanup, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&t->cleanup, &mem->next, mem, memory_order_release,
                                                  memory_order_relaxed)) {
    }
}

void wf_task_discard(wf_task_t *t) {
    if (t->locals) drop_locals(t);
    for (struct wf_cleanup *c = atomic_exchange(&t->cleanup, NULL), *n; c; c = n) {
        n = c->next;
        wf_free(c);
    }
    if (t->stack.lo) {
        wf_fiber_destroy(&t->fiber);
        wf_stack_put(t->rt->stacks, &t->rt->workers[0].stacks, &t->stack);
    }
    wf_free(t);
}

void wf_task_free(wf_task_t *t) {
    wf_runtime_t *rt = t->rt;
    wf_worker_t *w = wf_current_worker();
    for (struct wf_cleanup *c = atomic_exchange_explicit(&t->cleanup, NULL, memory_order_acquire), *n; c; c = n) {
        n = c->next;
        wf_free(c);
    }
    if (t->stack.lo) {
        wf_fiber_destroy(&t->fiber);
        wf_stack_put(rt->stacks, &w->stacks, &t->stack);
    }
    int root = !t->group && !t->call; /* main: neither a group's nor a call's */
    record_put(w, t);
    if (root) wf_runtime_close(rt);
}

/* ---------------------------------------------------------------- wait / wake */

/* Tasks waiting on I/O keep a virtual clock from jumping (vclock.h). */
static void count_io_wait(wf_task_t *t, int delta) {
    if (WF_UNLIKELY(t->rt->vclock) && t->wait_kind == WF_WAIT_IO)
        atomic_fetch_add_explicit(&t->rt->io_waits, (unsigned)delta, memory_order_acq_rel);
}

int wf_wait_arm(wf_task_t *t, int cancellable, enum wf_wait_kind kind, const void *obj) {
    /* So that the cancellation walk, and the task-tree dump, find us. */
    wf_task_link_root(t);
    wf_spin_lock(&t->wlock);
    if (cancellable && wf_scope_cancelled(t->scope)) {
        wf_spin_unlock(&t->wlock);
        return WEFT_ECANCELED;
    }
    t->armed = 1;
    t->cancellable = cancellable;
    t->wake_rc = 0;
    t->wait_kind = kind;
    t->wait_obj = obj;
    wf_worker_t *w = wf_current_worker();
    t->wait_since = w ? w->now : 0;
    wf_spin_unlock(&t->wlock);
    count_io_wait(t, 1);
    return 0;
}

/* No lock: others read wait_kind only while `armed` (under wlock), and it
 * is no longer. */
static void wait_over(wf_task_t *t) {
    count_io_wait(t, -1);
    t->wait_kind = WF_WAIT_NONE;
}

int wf_wait_park(wf_task_t *t) {
    wf_task_switch_out(t, WF_SWITCH_PARK);
    wait_over(t);
    return t->wake_rc;
}

int wf_wait_disarm(wf_task_t *t) {
    wf_spin_lock(&t->wlock);
    int mine = t->armed;
    t->armed = 0;
    wf_spin_unlock(&t->wlock);
    if (mine) wait_over(t);
    return mine;
}

const char *wf_wait_kind_name(enum wf_wait_kind kind) {
    static const char *const names[] = {
        [WF_WAIT_NONE] = "nothing",        [WF_WAIT_SLEEP] = "sleep",
        [WF_WAIT_GROUP_CLOSE] = "group close", [WF_WAIT_GROUP_START] = "group start",
        [WF_WAIT_THREAD] = "thread",       [WF_WAIT_EVENT] = "event",
        [WF_WAIT_LOCK] = "lock",           [WF_WAIT_SEM] = "semaphore",
        [WF_WAIT_COND] = "condition",      [WF_WAIT_SEND] = "channel send",
        [WF_WAIT_RECV] = "channel receive", [WF_WAIT_LIMITER] = "capacity limiter",
        [WF_WAIT_IO] = "I/O",
    };
    return (unsigned)kind < sizeof names / sizeof names[0] && names[kind] ? names[kind] : "?";
}

int wf_wait_claim_nowake(wf_task_t *t, int rc) {
    wf_spin_lock(&t->wlock);
    if (!t->armed) {
        wf_spin_unlock(&t->wlock);
        return 0;
    }
    t->armed = 0;
    t->wake_rc = rc;
    wf_spin_unlock(&t->wlock);
    return 1;
}

int wf_wait_claim(wf_task_t *t, int rc) {
    if (!wf_wait_claim_nowake(t, rc)) return 0;
    wf_task_wake(t);
    return 1;
}

void wf_wait_deliver_cancel(wf_task_t *t) {
    wf_spin_lock(&t->wlock);
    if (!t->armed || !t->cancellable || !wf_scope_cancelled(t->scope)) {
        wf_spin_unlock(&t->wlock);
        return;
    }
    t->armed = 0;
    t->wake_rc = WEFT_ECANCELED;
    wf_spin_unlock(&t->wlock);
    wf_task_wake(t);
}

void wf_task_wake(wf_task_t *t) {
    int s = WF_RUNNING;
    /* Still on its worker's CPU: leave a mark the worker will find. */
    if (atomic_compare_exchange_strong(&t->park, &s, WF_WOKEN)) return;
    /* Parked: the word is ours alone until the task runs again, and the
     * queue that hands it to a worker orders this store before that run. */
    atomic_store_explicit(&t->park, WF_RUNNING, memory_order_relaxed);
    wf_schedule(t);
}

void wf_task_switch_out(wf_task_t *t, enum wf_switch_reason reason) {
    wf_worker_t *w = wf_current_worker();
    t->reason = reason;
    if (reason == WF_SWITCH_EXIT) wf_fiber_switch_final(&t->fiber, &w->sched_fiber);
    else wf_fiber_switch(&t->fiber, &w->sched_fiber);
}
