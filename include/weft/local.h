/*
 * weft/local.h — task-local values: context that follows the work (Python's
 * contextvars as AnyIO and Trio use them).  Included by weft.h (and
 * includes it).
 *
 * A key names one kind of value (a request id, a logger, a trace span); each
 * task has its own value for it.  What a task sees:
 *   - a task spawned (weft_group_spawn) or started (weft_group_start)
 *     inherits its spawner's values as they are at the spawn; a later set in
 *     either never shows in the other;
 *   - fn of weft_to_thread_run_sync sees the calling task's values; a set
 *     inside fn holds for that call only (the task never sees it);
 *   - weft_from_thread_run / weft_from_thread_run_sync called from that
 *     blocking thread see the values fn sees, and a task started by
 *     weft_from_thread_run inherits them;
 *   - main (also of a weft_run called inside a blocking call), tasks and
 *     functions run by a portal (weft_portal_spawn, weft_portal_call), and
 *     the _token forms of from_thread start with no values: a token or a
 *     portal links to a runtime, not to the caller's work.
 *
 * Values are not copied: inheriting shares the same pointer.  A value set is
 * handed over to weft: its key's destroy(value) runs exactly once, when no
 * task or call holds that value any more (it was replaced or unset, and
 * every task and call that inherited it has ended).  destroy may run on any
 * thread weft runs work on (a worker, a blocking thread) and must not wait;
 * weft_run returns after every value of its runtime was destroyed.
 *
 * Cost: a spawn copies one pointer when no value is set, and takes one
 * atomic reference otherwise; get scans the values set (a handful is the
 * intended use); set copies them once per snapshot shared with others.
 */
#ifndef WEFT_LOCAL_H
#define WEFT_LOCAL_H

#include "../weft.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_local_t weft_local_t;

/* A new key (any thread).  destroy may be NULL: values are then left to
 * their owner.  WEFT_EINVAL (key NULL), WEFT_ENOMEM. */
WEFT_EXTERN int weft_local_new(weft_local_t **key, void (*destroy)(void *value));
/* Free a key once no task or call uses it any more (any thread).  Values
 * still set for it in live tasks are not lost: they are destroyed when
 * their holders end, and no other key ever sees them.  NULL does nothing. */
WEFT_EXTERN void weft_local_free(weft_local_t *key);
/* Set the calling task's value for key (or, in weft_to_thread_run_sync's
 * fn, that call's; in a weft_from_thread_run_sync function, that call's).
 * The previous value, if no one else holds it, is destroyed before this
 * returns; setting the value already set does nothing; NULL unsets.
 * WEFT_EINVAL (key NULL), WEFT_EPERM anywhere else (a plain thread),
 * WEFT_ENOMEM (then nothing changed and the caller still owns value). */
WEFT_EXTERN int weft_local_set(weft_local_t *key, void *value);
/* The value the caller sees for key (as set above), NULL when none is set,
 * key is NULL, or the caller is outside all of those. */
WEFT_EXTERN void *weft_local_get(weft_local_t *key);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_LOCAL_H */
