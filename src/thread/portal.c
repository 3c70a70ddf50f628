/*
 * Blocking portals (AnyIO's BlockingPortal): a runtime on a thread of its
 * own whose main task holds one task group open until the portal stops.
 * Spawning posts a call that starts the task in that group; the task keeps
 * its result in a future, which the spawner and the task share by reference
 * count (either may let go first).
 *
 * Stopping while other threads still call in.  The handle outlives the
 * runtime: it is reference counted (the handle itself, a stop under way,
 * each spawn in flight), so weft_portal_free may come while a racing caller
 * is still returning.  Once stop began, spawns return WEFT_EBADF before they
 * post anything.  One posted just before is started in the group only if
 * stop's call has not closed admission yet (`admit`): main waits until no
 * spawn is starting a task, so it never closes its group under one, and no
 * later spawn touches the group, which lives on main's stack.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "sched/config.h"
#include "sched/group.h"
#include "sched/inbox.h"
#include "sched/thread_name.h"
#include "thread/park.h"
#include "thread/token.h"

/* `admit`: spawn calls starting a task in the group right now, times
 * ADMIT_ONE, plus ADMIT_CLOSED once stop's call ran.  Whichever of stop's
 * call and the last such spawn leaves the word at ADMIT_CLOSED wakes main. */
#define ADMIT_CLOSED 1u
#define ADMIT_ONE 2u

struct weft_portal_t {
    weft_token_t *token;      /* released with the handle: callers after stop read it */
    atomic_int refs;          /* the handle, a stop under way, each spawn in flight */
    atomic_int stopping;      /* weft_portal_stop began: spawns return WEFT_EBADF */
    atomic_uint admit;
    pthread_t thread;
    weft_config_t config;     /* the caller's, as this library's struct */
    weft_group_t *group;      /* on main's stack, while admission is open */
    weft_event_t *stop;       /* main waits on it; set once admission closed and drained */
    int cancel_remaining;
    wf_flag_t ready;          /* main is in its wait, or weft_run failed */
    int rc;                   /* weft_run's result */
};

struct weft_future_t {
    wf_call_t call;           /* the spawn */
    weft_portal_t *portal;
    weft_fn_t fn;
    void *arg;
    atomic_int refs;
    wf_spin_t lock;
    weft_scope_t *scope;      /* lock: the task's scope while fn runs */
    int cancel;               /* lock: weft_future_cancel was called */
    int rc;
    wf_flag_t done;
};

/* ---------------------------------------------------------------- the portal's runtime */

static int portal_main(void *arg) {
    weft_portal_t *p = arg;
    weft_group_t g;
    int rc = weft_event_new(&p->stop);
    if (rc) return rc;
    weft_group_open(&g);
    p->group = &g;
    p->token = weft_current_token();
    wf_flag_set(&p->ready);
    /* Nothing cancels main: it waits until admission closed and drained. */
    weft_event_wait(p->stop);
    if (p->cancel_remaining) weft_group_cancel(&g);
    weft_group_close(&g, 0);
    weft_event_free(p->stop);
    return 0;
}

static void *portal_thread(void *arg) {
    weft_portal_t *p = arg;
    wf_thread_name_set("weft-portal"); /* its worker 0 */
    p->rc = weft_run(portal_main, p, &p->config);
    if (!wf_flag_is_set(&p->ready)) wf_flag_set(&p->ready); /* it never started */
    return NULL;
}

int weft_portal_start(weft_portal_t **out, const weft_config_t *config) {
    if (!out) return WEFT_EINVAL;
    if (wf_current_worker()) return WEFT_EPERM;
    weft_portal_t *p = wf_calloc(1, sizeof *p);
    if (!p) return WEFT_ENOMEM;
    int rc = wf_config_copy(&p->config, config); /* only what the caller's header had */
    if (rc) {
        wf_free(p);
        return rc;
    }
    atomic_init(&p->refs, 1);
    atomic_init(&p->stopping, 0);
    atomic_init(&p->admit, 0);
    wf_flag_init(&p->ready);
    if (pthread_create(&p->thread, NULL, portal_thread, p) != 0) {
        wf_free(p);
        return WEFT_ENOMEM;
    }
    wf_flag_wait(&p->ready, INFINITY, 0);
    if (!p->token) { /* weft_run failed before main was up */
        pthread_join(p->thread, NULL);
        rc = p->rc ? p->rc : WEFT_ENOMEM;
        wf_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

weft_token_t *weft_portal_token(weft_portal_t *p) { return p ? wf_token_share(p->token) : NULL; }

/* ---------------------------------------------------------------- the handle's references */

/* The caller holds a reference already (the handle's, at least). */
static void portal_ref(weft_portal_t *p) {
    atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
}

static void portal_unref(weft_portal_t *p) {
    if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1) return;
    weft_token_release(p->token);
    wf_free(p);
}

/* ---------------------------------------------------------------- admission (on a worker) */

/* 1 if a spawn may start its task in the group now; admit_leave after it. */
static int admit_enter(weft_portal_t *p) {
    unsigned v = atomic_load(&p->admit);
    do {
        if (v & ADMIT_CLOSED) return 0;
    } while (!atomic_compare_exchange_weak(&p->admit, &v, v + ADMIT_ONE));
    return 1;
}

static void admit_leave(weft_portal_t *p) {
    if (atomic_fetch_sub(&p->admit, ADMIT_ONE) == (ADMIT_ONE | ADMIT_CLOSED))
        weft_event_set(p->stop); /* stop's call came while we started ours */
}

/* Stop's call: no spawn starts a task any more; main wakes, closes the
 * group and returns once the ones starting now are done. */
static void admit_close(weft_portal_t *p) {
    if (atomic_fetch_or(&p->admit, ADMIT_CLOSED) == 0) weft_event_set(p->stop);
}

/* ---------------------------------------------------------------- futures */

static void future_unref(weft_future_t *f) {
    if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) == 1) wf_free(f);
}

static void future_resolve(weft_future_t *f, int rc) {
    f->rc = rc;
    wf_flag_set(&f->done);
    future_unref(f);
}

/* The task: its own scope, so that weft_future_cancel reaches it alone; its
 * result goes to the future and never fails the portal's group. */
static int future_task(void *arg) {
    weft_future_t *f = arg;
    weft_scope_t s;
    weft_scope_enter(&s, WEFT_FOREVER, 0);
    wf_spin_lock(&f->lock);
    f->scope = &s;
    if (f->cancel) weft_scope_cancel(&s);
    wf_spin_unlock(&f->lock);
    int rc = f->fn(f->arg);
    wf_spin_lock(&f->lock);
    f->scope = NULL;
    wf_spin_unlock(&f->lock);
    rc = weft_scope_exit(&s, rc);
    future_resolve(f, weft_scope_cancelled_caught(&s) ? WEFT_ECANCELED : rc);
    return 0;
}

static void spawn_now(wf_call_t *c) {
    weft_future_t *f = WF_CONTAINER_OF(c, weft_future_t, call);
    weft_portal_t *p = f->portal;
    wf_runtime_t *rt = c->rt;
    int rc = WEFT_EBADF; /* stop's call ran first: the group is closing, or gone */
    if (admit_enter(p)) {
        rc = wf_group_spawn_mapped(p->group, future_task, f, "portal", NULL);
        admit_leave(p);
    }
    if (rc) future_resolve(f, rc);
    wf_runtime_leave(rt); /* the task, if any, is the group's now */
}

/* weft_portal_spawn, the caller holding a reference to p. */
static int spawn_held(weft_portal_t *p, weft_fn_t fn, void *arg, weft_future_t **out) {
    if (atomic_load_explicit(&p->stopping, memory_order_relaxed)) return WEFT_EBADF;
    wf_runtime_t *rt;
    weft_future_t *f = wf_calloc(1, sizeof *f);
    if (!f) return WEFT_ENOMEM;
    int rc = wf_token_enter(p->token, &rt);
    if (rc) {
        wf_free(f);
        return rc;
    }
    f->portal = p;
    f->fn = fn;
    f->arg = arg;
    atomic_init(&f->refs, 2); /* the caller's and the task's */
    wf_spin_init(&f->lock);
    wf_flag_init(&f->done);
    f->call.rt = rt;
    f->call.run = spawn_now;
    *out = f;
    wf_runtime_post(&f->call);
    return 0;
}

int weft_portal_spawn(weft_portal_t *p, weft_fn_t fn, void *arg, weft_future_t **out) {
    if (!p || !fn || !out) return WEFT_EINVAL;
    portal_ref(p); /* a free racing our return leaves the release to us */
    int rc = spawn_held(p, fn, arg, out);
    portal_unref(p);
    return rc;
}

int weft_future_wait(weft_future_t *f) {
    if (!f) return WEFT_EINVAL;
    if (wf_current_worker()) return WEFT_EPERM;
    wf_flag_wait(&f->done, INFINITY, 1);
    return f->rc;
}

int weft_future_done(const weft_future_t *f) { return f && wf_flag_is_set(&f->done); }

void weft_future_cancel(weft_future_t *f) {
    if (!f) return;
    wf_spin_lock(&f->lock);
    f->cancel = 1;
    if (f->scope) weft_scope_cancel(f->scope); /* safe from any thread */
    wf_spin_unlock(&f->lock);
}

void weft_future_free(weft_future_t *f) {
    if (f) future_unref(f);
}

int weft_portal_call(weft_portal_t *p, weft_fn_t fn, void *arg) {
    if (wf_current_worker()) return WEFT_EPERM;
    weft_future_t *f;
    int rc = weft_portal_spawn(p, fn, arg, &f);
    if (rc) return rc;
    rc = weft_future_wait(f);
    weft_future_free(f);
    return rc;
}

/* ---------------------------------------------------------------- stop, free */

typedef struct stop_call {
    wf_call_t call;
    weft_portal_t *portal;
} stop_call_t;

static void stop_now(wf_call_t *c) {
    weft_portal_t *p = WF_CONTAINER_OF(c, stop_call_t, call)->portal;
    wf_runtime_t *rt = c->rt;
    admit_close(p);
    wf_runtime_leave(rt);
}

int weft_portal_stop(weft_portal_t *p, int cancel_remaining) {
    if (!p) return WEFT_EINVAL;
    if (wf_current_worker()) return WEFT_EPERM;
    if (atomic_exchange(&p->stopping, 1)) return WEFT_EBADF; /* a second stop */
    portal_ref(p); /* a free while we join leaves the release to us */
    wf_runtime_t *rt;
    /* Cannot fail: main waits for our call, so its runtime's gate is open. */
    (void)wf_token_enter(p->token, &rt);
    p->cancel_remaining = cancel_remaining;
    /* On our stack: the join below returns only after the call ran. */
    stop_call_t c = {.call = {.rt = rt, .run = stop_now}, .portal = p};
    wf_runtime_post(&c.call);
    pthread_join(p->thread, NULL);
    int rc = p->rc;
    portal_unref(p);
    return rc;
}

void weft_portal_free(weft_portal_t *p) {
    if (!p) return;
    if (!atomic_load(&p->stopping)) {
        /* Its runtime's thread would run on with nobody left to join it. */
        wf_task_t *t = wf_current_task();
        fprintf(stderr,
                "weft: task '%s' freed portal %p before stopping it: call weft_portal_stop first\n",
                t ? t->name : "(no task)", (void *)p);
        abort();
    }
    portal_unref(p);
}
