/*
 * Blocking portals (AnyIO's BlockingPortal): a runtime on a thread of its
 * own whose main task holds one task group open until the portal stops.
 * Spawning posts a call that starts the task in that group; the task keeps
 * its result in a future, which the spawner and the task share by reference
 * count (either may let go first).
 */
#include <pthread.h>

#include "group.h"
#include "inbox.h"
#include "park.h"
#include "token.h"

struct weft_portal_t {
    pthread_t thread;
    weft_config_t config;
    int has_config;
    weft_token_t *token;
    weft_group_t *group;      /* on main's stack, until stop */
    weft_event_t *stop;
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
    /* Nothing cancels main: it waits until stop sets the event. */
    weft_event_wait(p->stop);
    if (p->cancel_remaining) weft_group_cancel(&g);
    weft_group_close(&g, 0);
    weft_event_free(p->stop);
    return 0;
}

static void *portal_thread(void *arg) {
    weft_portal_t *p = arg;
    p->rc = weft_run(portal_main, p, p->has_config ? &p->config : NULL);
    if (!wf_flag_is_set(&p->ready)) wf_flag_set(&p->ready); /* it never started */
    return NULL;
}

int weft_portal_start(weft_portal_t **out, const weft_config_t *config) {
    if (!out) return WEFT_EINVAL;
    if (wf_current_worker()) return WEFT_EPERM;
    weft_portal_t *p = wf_calloc(1, sizeof *p);
    if (!p) return WEFT_ENOMEM;
    if (config) p->config = *config;
    p->has_config = config != NULL;
    wf_flag_init(&p->ready);
    if (pthread_create(&p->thread, NULL, portal_thread, p) != 0) {
        wf_free(p);
        return WEFT_ENOMEM;
    }
    wf_flag_wait(&p->ready, INFINITY, 0);
    if (!p->token) { /* weft_run failed before main was up */
        pthread_join(p->thread, NULL);
        int rc = p->rc ? p->rc : WEFT_ENOMEM;
        wf_free(p);
        return rc;
    }
    *out = p;
    return 0;
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
    wf_runtime_t *rt = c->rt;
    int rc = wf_group_spawn_mapped(f->portal->group, future_task, f, "portal", NULL);
    if (rc) future_resolve(f, rc);
    wf_runtime_leave(rt); /* the task, if any, is the group's now */
}

int weft_portal_spawn(weft_portal_t *p, weft_fn_t fn, void *arg, weft_future_t **out) {
    if (!p || !fn || !out) return WEFT_EINVAL;
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

/* ---------------------------------------------------------------- stop */

typedef struct stop_call {
    wf_call_t call;
    weft_portal_t *portal;
} stop_call_t;

static void stop_now(wf_call_t *c) {
    weft_portal_t *p = WF_CONTAINER_OF(c, stop_call_t, call)->portal;
    wf_runtime_t *rt = c->rt;
    weft_event_set(p->stop); /* main wakes, closes the group and returns */
    wf_runtime_leave(rt);
}

int weft_portal_stop(weft_portal_t *p, int cancel_remaining) {
    if (!p) return WEFT_EINVAL;
    if (wf_current_worker()) return WEFT_EPERM;
    wf_runtime_t *rt;
    int rc = wf_token_enter(p->token, &rt);
    if (rc) return rc; /* not our portal's runtime any more: a second stop */
    p->cancel_remaining = cancel_remaining;
    /* On our stack: the join below returns only after the call ran. */
    stop_call_t c = {.call = {.rt = rt, .run = stop_now}, .portal = p};
    wf_runtime_post(&c.call);
    pthread_join(p->thread, NULL);
    rc = p->rc;
    weft_token_release(p->token);
    wf_free(p);
    return rc;
}
