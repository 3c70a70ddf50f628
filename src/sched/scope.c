#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "clock.h"
#include "runtime.h"

_Static_assert(sizeof(wf_scope_t) <= sizeof(weft_scope_t), "weft_scope_t too small");
_Static_assert(_Alignof(wf_scope_t) <= _Alignof(weft_scope_t), "weft_scope_t misaligned");

static inline wf_scope_t *impl(weft_scope_t *s) { return (wf_scope_t *)(void *)s; }
static inline const wf_scope_t *cimpl(const weft_scope_t *s) { return (const wf_scope_t *)(const void *)s; }

static void deadline_expired(wf_timer_t *timer) {
    wf_scope_cancel(WF_CONTAINER_OF(timer, wf_scope_t, timer));
}

void wf_scope_init(wf_scope_t *s, wf_scope_t *parent, struct wf_task *owner) {
    s->parent = parent;
    s->owner = owner;
    wf_list_init(&s->children);
    wf_list_init(&s->node);
    wf_spin_init(&s->lock);
}

void wf_scope_link(wf_scope_t *s) {
    wf_scope_t *parent = s->parent;
    if (!parent) return;
    wf_spin_lock(&parent->lock);
    wf_list_push_back(&parent->children, &s->node);
    wf_spin_unlock(&parent->lock);
}

void wf_scope_attach(wf_scope_t *s, wf_scope_t *parent, struct wf_task *owner) {
    wf_scope_init(s, parent, owner);
    wf_scope_link(s);
}

void wf_scope_detach(wf_scope_t *s) {
    wf_scope_t *parent = s->parent;
    if (parent) {
        wf_spin_lock(&parent->lock);
        wf_list_remove(&s->node);
        wf_spin_unlock(&parent->lock);
    }
    wf_spin_lock(&s->lock);
    s->owner = NULL;
    wf_spin_unlock(&s->lock);
}

/* Cancelled, or past its deadline: a task that computed through the expiry
 * sees it at its next checkpoint, before the timer has had a chance to fire.
 * The clock is read at most once per call, and only for scopes with a
 * deadline. */
static int scope_cancelled(const wf_scope_t *s, double *now) {
    if (atomic_load_explicit(&s->cancel_called, memory_order_acquire)) return 1;
    double deadline = atomic_load_explicit(&s->deadline, memory_order_relaxed);
    if (deadline == INFINITY) return 0;
    if (isnan(*now)) *now = wf_clock_now();
    return *now >= deadline;
}

int wf_scope_chain_cancelled(const wf_scope_t *s) {
    double now = NAN;
    for (; s; s = s->parent) {
        if (scope_cancelled(s, &now)) return 1;
        if (atomic_load_explicit(&s->shield, memory_order_relaxed)) return 0;
    }
    return 0;
}

int wf_scope_owns_cancel(const wf_scope_t *s) {
    double now = NAN;
    if (!scope_cancelled(s, &now)) return 0;
    return atomic_load_explicit(&s->shield, memory_order_relaxed) || !wf_scope_chain_cancelled(s->parent);
}

/* Offer the cancellation to every task with a scope in the subtree.  Locks are
 * taken parent before child, the order every other path respects. */
static void deliver_subtree(wf_scope_t *s) {
    wf_spin_lock(&s->lock);
    if (s->owner) wf_wait_deliver_cancel(s->owner);
    for (wf_list_t *n = s->children.next; n != &s->children; n = n->next) {
        wf_scope_t *c = WF_CONTAINER_OF(n, wf_scope_t, node);
        if (!atomic_load_explicit(&c->shield, memory_order_relaxed)) deliver_subtree(c);
    }
    wf_spin_unlock(&s->lock);
}

void wf_scope_cancel(wf_scope_t *s) {
    if (atomic_exchange_explicit(&s->cancel_called, 1, memory_order_acq_rel)) return;
    deliver_subtree(s);
}

/* A deadline that has passed cancels its scope for good, as Trio's
 * cancel_called does: moving it later afterwards changes nothing. */
static int latch_expired(wf_scope_t *s) {
    double now = NAN;
    if (!(s->flags & WF_SCOPE_ACTIVE) || !scope_cancelled(s, &now)) return 0;
    wf_scope_cancel(s);
    return 1;
}

static void arm_deadline(wf_scope_t *s, double deadline) {
    latch_expired(s);
    atomic_store_explicit(&s->deadline, deadline, memory_order_relaxed);
    if (!(s->flags & WF_SCOPE_ACTIVE)) return;
    if (deadline <= wf_clock_now()) {
        wf_timer_remove(&s->timer);
        wf_scope_cancel(s);
    } else if (isinf(deadline) || isnan(deadline)) {
        wf_timer_remove(&s->timer);
    } else {
        wf_worker_t *w = wf_current_worker();
        /* A scope whose deadline cannot be watched is cancelled now rather
         * than left to run past it; its exit reports WEFT_ENOMEM. */
        if (!w || wf_worker_arm_timer(w, &s->timer, deadline) != 0) {
            s->flags |= WF_SCOPE_NOMEM;
            wf_scope_cancel(s);
        }
    }
}

int wf_scope_push(wf_scope_t *s, double deadline, unsigned flags) {
    wf_task_t *t = wf_current_task();
    s->flags = 0; /* an inactive scope: exit and cancel stay harmless */
    atomic_init(&s->cancel_called, 0);
    atomic_init(&s->deadline, deadline);
    atomic_init(&s->shield, 0);
    s->caught = 0;
    s->owner = NULL;
    s->parent = NULL;
    wf_timer_init(&s->timer, deadline_expired);
    if (!t) return WEFT_EPERM;
    atomic_store_explicit(&s->shield, (flags & WEFT_SHIELD) != 0, memory_order_relaxed);
    wf_task_link_root(t); /* our scopes must be reachable from above */
    s->flags = (flags & ~WEFT_SHIELD) | WF_SCOPE_ACTIVE; /* before others can see it */
    wf_scope_attach(s, t->scope, t);
    t->scope = s;
    if (!isinf(deadline)) arm_deadline(s, deadline);
    return 0;
}

_Noreturn void wf_scope_misuse(const wf_scope_t *s, const char *what, const char *why) {
    wf_task_t *t = wf_current_task();
    fprintf(stderr, "weft: task '%s' exited %s %p %s\n", t ? t->name : "(no task)", what,
            (const void *)s, why);
    abort();
}

void wf_scope_pop(wf_scope_t *s, const char *what) {
    wf_task_t *t = wf_current_task();
    if (!t || s->owner != t || t->scope != s)
        wf_scope_misuse(s, what,
                        "out of order: it is not the task's innermost open scope (scopes and "
                        "groups must be exited innermost first, by the task that entered them)");
    latch_expired(s); /* a deadline that passed before its timer fired still counts */
    wf_timer_remove(&s->timer);
    wf_scope_detach(s);
    s->flags &= ~WF_SCOPE_ACTIVE;
    t->scope = s->parent;
}

/* ---------------------------------------------------------------- public API */

void weft_scope_enter(weft_scope_t *s, double deadline, unsigned flags) {
    if (s) wf_scope_push(impl(s), deadline, flags & WEFT_SHIELD);
}

void weft_move_on_after(weft_scope_t *s, double seconds) {
    weft_scope_enter(s, wf_clock_now() + seconds, 0);
}

void weft_fail_after(weft_scope_t *s, double seconds) {
    if (s) wf_scope_push(impl(s), wf_clock_now() + seconds, WF_SCOPE_FAIL_AFTER);
}

int weft_scope_exit(weft_scope_t *ps, int rc) {
    if (!ps) return WEFT_EINVAL;
    wf_scope_t *s = impl(ps);
    if (!(s->flags & WF_SCOPE_ACTIVE)) return rc; /* entered outside a task */
    if (s->flags & WF_SCOPE_GROUP)
        wf_scope_misuse(s, "a task group's scope", "with weft_scope_exit: use weft_group_close");
    wf_scope_pop(s, "cancel scope");
    if (rc == WEFT_ECANCELED && wf_scope_owns_cancel(s)) {
        s->caught = 1;
        if (s->flags & WF_SCOPE_NOMEM) return WEFT_ENOMEM;
        if ((s->flags & WF_SCOPE_FAIL_AFTER) &&
            wf_clock_now() >= atomic_load_explicit(&s->deadline, memory_order_relaxed))
            return WEFT_ETIMEDOUT;
        return 0;
    }
    return rc;
}

void weft_scope_cancel(weft_scope_t *s) {
    if (s) wf_scope_cancel(impl(s));
}

void weft_scope_set_deadline(weft_scope_t *s, double deadline) {
    if (s) arm_deadline(impl(s), deadline);
}

double weft_scope_deadline(const weft_scope_t *s) {
    return s ? atomic_load_explicit(&cimpl(s)->deadline, memory_order_relaxed) : WEFT_FOREVER;
}

void weft_scope_set_shield(weft_scope_t *ps, int shield) {
    if (!ps) return;
    wf_scope_t *s = impl(ps);
    atomic_store_explicit(&s->shield, shield != 0, memory_order_release);
    /* Dropping a shield exposes the subtree to an outer cancellation. */
    if (!shield && (s->flags & WF_SCOPE_ACTIVE) && wf_scope_chain_cancelled(s)) deliver_subtree(s);
}

int weft_scope_cancel_called(const weft_scope_t *s) {
    if (!s) return 0;
    wf_scope_t *m = (wf_scope_t *)(void *)(uintptr_t)s; /* latching is not a visible change */
    return latch_expired(m) || atomic_load_explicit(&m->cancel_called, memory_order_acquire);
}

int weft_scope_cancelled_caught(const weft_scope_t *s) { return s ? cimpl(s)->caught : 0; }

double weft_current_effective_deadline(void) {
    wf_task_t *t = wf_current_task();
    if (!t) return WEFT_FOREVER;
    if (wf_scope_chain_cancelled(t->scope)) return -INFINITY;
    double d = WEFT_FOREVER;
    for (const wf_scope_t *s = t->scope; s; s = s->parent) {
        double sd = atomic_load_explicit(&s->deadline, memory_order_relaxed);
        if (sd < d) d = sd;
        if (atomic_load_explicit(&s->shield, memory_order_relaxed)) break;
    }
    return d;
}
