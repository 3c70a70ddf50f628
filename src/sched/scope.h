/*
 * Cancel scopes and how cancellation travels.
 *
 * Scopes form one tree per runtime: a scope's parent is its owner's innermost
 * scope when it was entered; a task's own root scope hangs under the scope it
 * was spawned into (its group's scope).  Each scope lists its children under
 * a small lock, so cancelling a scope walks its subtree (stopping at shields)
 * and offers the cancellation to the owner of every scope in it; an owner
 * blocked in a cancellable wait is woken with WEFT_ECANCELED.  Whether a task
 * is cancelled is always computed from its chain of scopes (level
 * cancellation), never stored in the task.
 */
#ifndef WEFT_SCHED_SCOPE_H
#define WEFT_SCHED_SCOPE_H

#include <stdatomic.h>

#include "timer.h"
#include "util.h"

struct wf_task;

enum wf_scope_flags {
    /* bit 0 is WEFT_SHIELD, kept in `shield` */
    WF_SCOPE_FAIL_AFTER = 1u << 8, /* exit reports an expired deadline as ETIMEDOUT */
    WF_SCOPE_ACTIVE = 1u << 9,     /* entered and not yet exited */
    WF_SCOPE_GROUP = 1u << 10,     /* belongs to a task group (closed, not exited) */
    WF_SCOPE_NOMEM = 1u << 11,     /* its deadline timer could not be armed */
};

typedef struct wf_scope {
    struct wf_scope *parent;
    struct wf_task *owner;      /* guarded by lock; NULL once exited */
    wf_list_t node;             /* in parent->children */
    wf_list_t children;
    wf_spin_t lock;             /* guards children and owner */
    _Atomic double deadline;
    atomic_int cancel_called;
    atomic_int shield;
    int caught;
    unsigned flags;
    wf_timer_t timer;
} wf_scope_t;

/* Make `s` (owned by `owner`) a child of `parent` (NULL for the root) without
 * linking it into the parent's list: enough for the chain walk, not yet for
 * the cancellation walk. */
void wf_scope_init(wf_scope_t *s, wf_scope_t *parent, struct wf_task *owner);
/* Link an initialised scope into its parent's list of children. */
void wf_scope_link(wf_scope_t *s);
/* Both: the scope is reachable by a cancellation of any ancestor. */
void wf_scope_attach(wf_scope_t *s, wf_scope_t *parent, struct wf_task *owner);
/* Unlink `s` from its parent and forget its owner. */
void wf_scope_detach(wf_scope_t *s);
/* Is a task whose innermost scope is `s` effectively cancelled? */
int wf_scope_chain_cancelled(const wf_scope_t *s);
/* Mark cancelled and wake the blocked tasks in the subtree. */
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

#endif
