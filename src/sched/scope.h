/*
 * Cancel scopes and how cancellation travels.
 *
 * Scopes form one tree per runtime: a scope's parent is its owner's innermost
 * scope when it was entered; a task's own root scope hangs under the scope it
 * was spawned into (its group's scope).  Each scope lists its children under
 * a small lock.
 *
 * Every scope in the tree keeps its *effective* state up to date (Trio's
 * CancelStatus): whether it or an enclosing scope up to the nearest shield is
 * cancelled, and the earliest deadline among them.  So asking "is this task
 * cancelled?" at a checkpoint reads one scope, whatever the depth, and every
 * change (a cancel, a shield, a deadline, a task moved to another parent by
 * weft_started, a scope entered under a cancelled one) goes through one path
 * (refresh_locked in scope.c): recompute a scope from its parent, and where
 * that changes anything walk the subtree below it, recomputing each scope and
 * offering the cancellation to the owner of every scope that became cancelled
 * (an owner blocked in a cancellable wait is woken with WEFT_ECANCELED).  The
 * walk is a loop over the tree's own links, not a recursion, so its stack use
 * does not grow with depth.
 *
 * Locks: a scope's lock guards its list of children, its owner, its own
 * state (cancel_called, shield, deadline) and its effective state.  A walk
 * holds the lock of every scope on its path from where it started down to
 * where it is, taken parent before child (the order every path respects), so
 * no scope it stands on can be unlinked under it.  Recomputing a scope reads
 * its parent's effective state without the parent's lock: a walk that
 * changes the parent locks the child afterwards and recomputes it again, so
 * the last word is always right.
 *
 * A task's root scope is linked into its parent's list lazily (task.h,
 * wf_task_link_root); until then it is not `tracked`, and readers take the
 * state of its parent, which always is: roots themselves are never
 * cancelled, shielded or given a deadline.
 */
#ifndef WEFT_SCHED_SCOPE_H
#define WEFT_SCHED_SCOPE_H

#include <stdatomic.h>

#include "sched/timer.h"
#include "sched/util.h"

struct wf_task;

enum wf_scope_flags {
    /* bit 0 is WEFT_SHIELD, kept in `shield` */
    WF_SCOPE_FAIL_AFTER = 1u << 8, /* exit reports an expired deadline as ETIMEDOUT */
    WF_SCOPE_ACTIVE = 1u << 9,     /* entered and not yet exited */
    WF_SCOPE_GROUP = 1u << 10,     /* belongs to a task group (closed, not exited) */
    WF_SCOPE_NOMEM = 1u << 11,     /* its deadline timer could not be armed */
    WF_SCOPE_BADARG = 1u << 12,    /* entered with (or given) a NaN deadline */
};

typedef struct wf_scope {
    struct wf_scope *parent;
    struct wf_task *owner;      /* NULL once exited */
    wf_list_t node;             /* in parent->children */
    wf_list_t children;
    wf_spin_t lock;
    /* Its own state. */
    _Atomic double deadline;
    atomic_int cancel_called;
    atomic_int shield;
    /* Its effective state (see above), read without the lock by checkpoints. */
    atomic_int eff_cancelled;   /* cancel_called here or above, up to a shield */
    _Atomic double eff_deadline; /* earliest deadline here or above, up to a shield */
    atomic_int tracked;         /* the effective state is kept up to date */
    unsigned magic;             /* entered / exited / entered outside a task (scope.c) */
    int caught;
    atomic_uint flags;          /* wf_scope_flags: read by the dump and other tasks */
    wf_timer_t timer;
} wf_scope_t;

/* Its flags (wf_scope_flags); setting one is atomic, since a task moving the
 * deadline of another's scope may set one while the dump reads them. */
static inline unsigned wf_scope_flags(const wf_scope_t *s) {
    return atomic_load_explicit(&s->flags, memory_order_relaxed);
}
static inline void wf_scope_flag_set(wf_scope_t *s, unsigned f) {
    atomic_fetch_or_explicit(&s->flags, f, memory_order_relaxed);
}
static inline void wf_scope_flag_clear(wf_scope_t *s, unsigned f) {
    atomic_fetch_and_explicit(&s->flags, ~f, memory_order_relaxed);
}

/* Make `s` (owned by `owner`) a child of `parent` without linking it into
 * the parent's list: enough for readers (they take the parent's state), not
 * yet for the cancellation walk.  A scope with no parent is a tree's root and
 * tracked from the start. */
void wf_scope_init(wf_scope_t *s, wf_scope_t *parent, struct wf_task *owner);
/* Link an initialised scope into its parent's list and start tracking it. */
void wf_scope_link(wf_scope_t *s);
/* Move a scope (a task's root) under another parent, delivering whatever
 * cancellation is in effect there to the whole subtree. */
void wf_scope_reparent(wf_scope_t *s, wf_scope_t *parent);
/* Unlink `s` from its parent and forget its owner. */
void wf_scope_detach(wf_scope_t *s);
/* Is a task whose innermost scope is `s` effectively cancelled?  O(1). */
int wf_scope_cancelled(const wf_scope_t *s);
/* The earliest deadline that applies to `s`'s owner (-INFINITY when it is
 * effectively cancelled). */
double wf_scope_effective_deadline(const wf_scope_t *s);
/* Mark cancelled and wake the blocked tasks in the subtree.  Any thread. */
void wf_scope_cancel(wf_scope_t *s);
/* Enter `s` as the calling task's innermost scope; returns 0 or WEFT_EPERM. */
int wf_scope_push(wf_scope_t *s, double deadline, unsigned flags);
/* Leave `s` (must be the innermost); aborts naming the task otherwise. */
void wf_scope_pop(wf_scope_t *s, const char *what);
/* Abort: a programming error the API cannot report. */
_Noreturn void wf_scope_misuse(const wf_scope_t *s, const char *what, const char *why);
/* Does `s` own a cancellation that reached it (it is cancelled and no
 * enclosing, unshielded scope is)? */
int wf_scope_owns_cancel(const wf_scope_t *s);

/* Visit the subtree below `top` (not `top` itself), whose lock the caller
 * holds: `enter` sees each scope locked, at its depth below `top` (1 for a
 * child), and returns 1 to go into its children; `leave` (may be NULL) sees
 * it again, still locked, after its children.  A loop, holding the locks of
 * the path; no stack use per level. */
typedef int (*wf_scope_enter_fn)(wf_scope_t *s, wf_scope_t *parent, unsigned depth, void *ctx);
typedef void (*wf_scope_leave_fn)(wf_scope_t *s, unsigned depth, void *ctx);
void wf_scope_walk(wf_scope_t *top, wf_scope_enter_fn enter, wf_scope_leave_fn leave, void *ctx);

#endif
