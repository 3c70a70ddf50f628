#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "sched/clock.h"
#include "sched/runtime.h"

_Static_assert(sizeof(wf_scope_t) <= sizeof(weft_scope_t), "weft_scope_t too small");
_Static_assert(_Alignof(wf_scope_t) <= _Alignof(weft_scope_t), "weft_scope_t misaligned");

/* What `magic` says of a weft_scope_t a caller hands to weft_scope_exit:
 * misuse that would otherwise pass silently (a second exit) is caught. */
#define MAGIC_ENTERED 0x73636f70u /* "scop" */
#define MAGIC_EXITED 0x65786974u  /* "exit" */
#define MAGIC_INERT 0x696e7274u   /* "inrt": entered outside a task */

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
    atomic_init(&s->deadline, INFINITY);
    atomic_init(&s->cancel_called, 0);
    atomic_init(&s->shield, 0);
    atomic_init(&s->eff_cancelled, 0);
    atomic_init(&s->eff_deadline, INFINITY);
    atomic_init(&s->tracked, parent == NULL);
    s->magic = 0;
    s->caught = 0;
    atomic_init(&s->flags, 0);
}

/* ---------------------------------------------------------------- effective state */

/* The scope whose effective state applies to `s`: itself once tracked, else
 * (a task's root not linked yet) its parent's, which always is. */
static inline const wf_scope_t *state_of(const wf_scope_t *s) {
    return atomic_load_explicit(&s->tracked, memory_order_acquire) ? s : s->parent;
}

int wf_scope_cancelled(const wf_scope_t *s) {
    s = state_of(s);
    if (atomic_load_explicit(&s->eff_cancelled, memory_order_acquire)) return 1;
    /* A deadline that has passed counts before its timer fires: a task that
     * computed through it sees it at its next checkpoint. */
    double deadline = atomic_load_explicit(&s->eff_deadline, memory_order_relaxed);
    return deadline != INFINITY && wf_clock_now() >= deadline;
}

double wf_scope_effective_deadline(const wf_scope_t *s) {
    if (wf_scope_cancelled(s)) return -INFINITY;
    return atomic_load_explicit(&state_of(s)->eff_deadline, memory_order_relaxed);
}

/* Cancelled by itself: called, or past its own deadline. */
static int own_cancelled(const wf_scope_t *s) {
    if (atomic_load_explicit(&s->cancel_called, memory_order_acquire)) return 1;
    double deadline = atomic_load_explicit(&s->deadline, memory_order_relaxed);
    return deadline != INFINITY && wf_clock_now() >= deadline;
}

int wf_scope_owns_cancel(const wf_scope_t *s) {
    if (!own_cancelled(s)) return 0;
    return atomic_load_explicit(&s->shield, memory_order_relaxed) || !s->parent ||
           !wf_scope_cancelled(s->parent);
}

/* Store what `s`'s own state and its parent's effective state make of it;
 * 1 if that changed anything.  The caller holds s->lock, or s is not
 * reachable by anyone else yet. */
static int recompute(wf_scope_t *s, const wf_scope_t *parent, int *became_cancelled) {
    int cancelled = atomic_load_explicit(&s->cancel_called, memory_order_acquire);
    double deadline = atomic_load_explicit(&s->deadline, memory_order_relaxed);
    if (parent && !atomic_load_explicit(&s->shield, memory_order_relaxed)) {
        cancelled |= atomic_load_explicit(&parent->eff_cancelled, memory_order_acquire);
        double above = atomic_load_explicit(&parent->eff_deadline, memory_order_relaxed);
        if (above < deadline) deadline = above;
    }
    int was = atomic_load_explicit(&s->eff_cancelled, memory_order_relaxed);
    if (was == cancelled && atomic_load_explicit(&s->eff_deadline, memory_order_relaxed) == deadline)
        return 0;
    atomic_store_explicit(&s->eff_deadline, deadline, memory_order_relaxed);
    atomic_store_explicit(&s->eff_cancelled, cancelled, memory_order_release);
    *became_cancelled = cancelled && !was;
    return 1;
}

/* One step of the walk: bring `s` up to date; an owner blocked in a
 * cancellable wait whose innermost scope is now cancelled is woken.  (If its
 * innermost scope lies deeper, the walk gets there too.) */
static int refresh_one(wf_scope_t *s, wf_scope_t *parent, unsigned depth, void *ctx) {
    (void)depth;
    (void)ctx;
    int became_cancelled = 0;
    if (!recompute(s, parent, &became_cancelled)) return 0; /* nothing below changes either */
    if (became_cancelled && s->owner) wf_wait_deliver_cancel(s->owner);
    return 1;
}

/* The one path every change takes: s->lock held, s tracked. */
static void refresh_locked(wf_scope_t *s) {
    if (refresh_one(s, s->parent, 0, NULL)) wf_scope_walk(s, refresh_one, NULL, NULL);
}

void wf_scope_walk(wf_scope_t *top, wf_scope_enter_fn enter, wf_scope_leave_fn leave, void *ctx) {
    wf_scope_t *s = top;            /* whose children we are going through */
    wf_list_t *n = top->children.next;
    unsigned depth = 0;             /* of s below top */
    for (;;) {
        if (n != &s->children) {
            wf_scope_t *c = WF_CONTAINER_OF(n, wf_scope_t, node);
            wf_spin_lock(&c->lock);
            if (enter(c, s, depth + 1, ctx)) { /* go down, keeping c locked */
                s = c;
                n = c->children.next;
                depth++;
                continue;
            }
            if (leave) leave(c, depth + 1, ctx);
            wf_spin_unlock(&c->lock);
            n = n->next;
            continue;
        }
        if (s == top) return;
        /* Up again.  s cannot have moved: its parent is locked on our path. */
        wf_scope_t *up = s->parent;
        n = s->node.next;
        if (leave) leave(s, depth, ctx);
        wf_spin_unlock(&s->lock);
        s = up;
        depth--;
    }
}

/* ---------------------------------------------------------------- linking */

void wf_scope_link(wf_scope_t *s) {
    wf_scope_t *parent = s->parent;
    if (!parent) return; /* a tree's root: tracked already */
    int became_cancelled;
    wf_spin_lock(&parent->lock);
    /* Its owner is the caller, running: nobody to wake. */
    recompute(s, parent, &became_cancelled);
    atomic_store_explicit(&s->tracked, 1, memory_order_release);
    wf_list_push_back(&parent->children, &s->node);
    wf_spin_unlock(&parent->lock);
}

void wf_scope_reparent(wf_scope_t *s, wf_scope_t *parent) {
    if (!atomic_load_explicit(&s->tracked, memory_order_relaxed)) {
        s->parent = parent; /* nothing hangs below it, and it reads its parent's state */
        return;
    }
    wf_scope_t *from = s->parent;
    wf_spin_lock(&from->lock);
    wf_list_remove(&s->node);
    wf_spin_unlock(&from->lock);
    wf_spin_lock(&parent->lock);
    wf_spin_lock(&s->lock);
    s->parent = parent;
    wf_list_push_back(&parent->children, &s->node);
    refresh_locked(s);
    wf_spin_unlock(&s->lock);
    wf_spin_unlock(&parent->lock);
}

void wf_scope_detach(wf_scope_t *s) {
    wf_scope_t *parent = s->parent;
    if (parent && atomic_load_explicit(&s->tracked, memory_order_relaxed)) {
        wf_spin_lock(&parent->lock);
        wf_list_remove(&s->node);
        wf_spin_unlock(&parent->lock);
    }
    wf_spin_lock(&s->lock);
    s->owner = NULL;
    atomic_store_explicit(&s->tracked, 0, memory_order_relaxed);
    wf_spin_unlock(&s->lock);
}

/* ---------------------------------------------------------------- changes */

void wf_scope_cancel(wf_scope_t *s) {
    if (atomic_exchange_explicit(&s->cancel_called, 1, memory_order_acq_rel)) return;
    wf_spin_lock(&s->lock);
    if (atomic_load_explicit(&s->tracked, memory_order_relaxed)) refresh_locked(s);
    wf_spin_unlock(&s->lock);
}

static void set_shield(wf_scope_t *s, int shield) {
    wf_spin_lock(&s->lock);
    atomic_store_explicit(&s->shield, shield, memory_order_relaxed);
    if (atomic_load_explicit(&s->tracked, memory_order_relaxed)) refresh_locked(s);
    wf_spin_unlock(&s->lock);
}

static void set_deadline(wf_scope_t *s, double deadline) {
    wf_spin_lock(&s->lock);
    atomic_store_explicit(&s->deadline, deadline, memory_order_relaxed);
    if (atomic_load_explicit(&s->tracked, memory_order_relaxed)) refresh_locked(s);
    wf_spin_unlock(&s->lock);
}

/* A deadline that has passed cancels its scope for good, as Trio's
 * cancel_called does: moving it later afterwards changes nothing. */
static int latch_expired(wf_scope_t *s) {
    if (!(wf_scope_flags(s) & WF_SCOPE_ACTIVE) || !own_cancelled(s)) return 0;
    wf_scope_cancel(s);
    return 1;
}

/* A NaN deadline is a bad argument: the scope is cancelled at once and its
 * exit reports WEFT_EINVAL. */
static void refuse_deadline(wf_scope_t *s) {
    wf_scope_flag_set(s, WF_SCOPE_BADARG);
    wf_timer_remove(&s->timer);
    wf_scope_cancel(s);
}

/* The scope's timer for a deadline already stored. */
static void watch_deadline(wf_scope_t *s, double deadline) {
    if (deadline <= wf_clock_now()) {
        wf_timer_remove(&s->timer);
        wf_scope_cancel(s);
    } else if (isinf(deadline)) {
        wf_timer_remove(&s->timer);
    } else {
        wf_worker_t *w = wf_current_worker();
        /* A scope whose deadline cannot be watched is cancelled now rather
         * than left to run past it; its exit reports WEFT_ENOMEM. */
        if (!w || wf_worker_arm_timer(w, &s->timer, deadline) != 0) {
            wf_scope_flag_set(s, WF_SCOPE_NOMEM);
            wf_scope_cancel(s);
        }
    }
}

static void move_deadline(wf_scope_t *s, double deadline) {
    latch_expired(s);
    if (!(wf_scope_flags(s) & WF_SCOPE_ACTIVE)) {
        atomic_store_explicit(&s->deadline, isnan(deadline) ? INFINITY : deadline, memory_order_relaxed);
        return;
    }
    if (isnan(deadline)) {
        refuse_deadline(s);
        return;
    }
    set_deadline(s, deadline);
    watch_deadline(s, deadline);
}

/* ---------------------------------------------------------------- enter / exit */

int wf_scope_push(wf_scope_t *s, double deadline, unsigned flags) {
    wf_task_t *t = wf_current_task();
    int bad = isnan(deadline);
    if (t) wf_task_link_root(t); /* our scopes must be reachable from above */
    wf_scope_init(s, t ? t->scope : NULL, t);
    wf_timer_init(&s->timer, deadline_expired);
    if (!t) { /* an inert scope: cancelling or exiting it stays harmless */
        s->magic = MAGIC_INERT;
        return WEFT_EPERM;
    }
    atomic_store_explicit(&s->deadline, bad ? INFINITY : deadline, memory_order_relaxed);
    atomic_store_explicit(&s->shield, (flags & WEFT_SHIELD) != 0, memory_order_relaxed);
    atomic_store_explicit(&s->flags, (flags & ~WEFT_SHIELD) | WF_SCOPE_ACTIVE, memory_order_relaxed);
    s->magic = MAGIC_ENTERED;
    wf_scope_link(s);
    t->scope = s;
    if (bad) refuse_deadline(s);
    else if (!isinf(deadline)) watch_deadline(s, deadline);
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
    wf_scope_flag_clear(s, WF_SCOPE_ACTIVE);
    s->magic = MAGIC_EXITED;
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

/* What a scope that caught the cancellation it owns reports. */
static int caught_result(const wf_scope_t *s) {
    unsigned flags = wf_scope_flags(s);
    if (flags & WF_SCOPE_BADARG) return WEFT_EINVAL;
    if (flags & WF_SCOPE_NOMEM) return WEFT_ENOMEM;
    if ((flags & WF_SCOPE_FAIL_AFTER) &&
        wf_clock_now() >= atomic_load_explicit(&s->deadline, memory_order_relaxed))
        return WEFT_ETIMEDOUT;
    return 0;
}

int weft_scope_exit(weft_scope_t *ps, int rc) {
    if (!ps) return WEFT_EINVAL;
    wf_scope_t *s = impl(ps);
    switch (s->magic) {
    case MAGIC_ENTERED: break;
    case MAGIC_INERT: return WEFT_EPERM; /* entered outside a task: nothing to leave */
    case MAGIC_EXITED: wf_scope_misuse(s, "cancel scope", "twice: it was already exited");
    default: wf_scope_misuse(s, "cancel scope", "that was never entered");
    }
    if (wf_scope_flags(s) & WF_SCOPE_GROUP)
        wf_scope_misuse(s, "a task group's scope", "with weft_scope_exit: use weft_group_close");
    wf_scope_pop(s, "cancel scope");
    if (rc == WEFT_ECANCELED && wf_scope_owns_cancel(s)) {
        s->caught = 1;
        return caught_result(s);
    }
    /* The body did not see its bad deadline's cancellation (no checkpoint). */
    if (rc == 0 && (wf_scope_flags(s) & WF_SCOPE_BADARG)) return WEFT_EINVAL;
    return rc;
}

void weft_scope_cancel(weft_scope_t *s) {
    if (s) wf_scope_cancel(impl(s));
}

void weft_scope_set_deadline(weft_scope_t *s, double deadline) {
    if (s) move_deadline(impl(s), deadline);
}

double weft_scope_deadline(const weft_scope_t *s) {
    return s ? atomic_load_explicit(&cimpl(s)->deadline, memory_order_relaxed) : WEFT_FOREVER;
}

void weft_scope_set_shield(weft_scope_t *ps, int shield) {
    if (!ps) return;
    wf_scope_t *s = impl(ps);
    if (wf_scope_flags(s) & WF_SCOPE_ACTIVE) set_shield(s, shield != 0); /* raising it, too, changes the subtree */
    else atomic_store_explicit(&s->shield, shield != 0, memory_order_relaxed);
}

int weft_scope_cancel_called(const weft_scope_t *s) {
    if (!s) return 0;
    wf_scope_t *m = (wf_scope_t *)(void *)(uintptr_t)s; /* latching is not a visible change */
    return latch_expired(m) || atomic_load_explicit(&m->cancel_called, memory_order_acquire);
}

int weft_scope_cancelled_caught(const weft_scope_t *s) { return s ? cimpl(s)->caught : 0; }

double weft_current_effective_deadline(void) {
    wf_task_t *t = wf_current_task();
    return t ? wf_scope_effective_deadline(t->scope) : WEFT_FOREVER;
}
