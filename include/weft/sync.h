/* Part of weft.h: include <weft.h>, not this file.
 *
 * Synchronisation primitives (AnyIO's Event, Lock, Semaphore, Condition).
 * Shared objects: create with weft_X_new, free with weft_X_free.  Freeing an
 * object while a task waits on it (or uses it) is a programming error with
 * undefined behaviour, as in AnyIO; weft_X_free(NULL) does nothing.
 *
 * Rules common to every waiting call ([fiber][checkpoint]):
 *   - waiters are served first come, first served;
 *   - called in an effectively cancelled scope they return WEFT_ECANCELED and
 *     take nothing (also when the object is available);
 *   - a cancelled wait consumes nothing (no lock, no permit, no notification);
 *   - a wait that was already granted (the lock handed over, the permit given,
 *     the event set) returns 0 even if cancellation arrives at that moment;
 *     the caller's next checkpoint reports the cancellation;
 *   - from a plain thread they return WEFT_EPERM.
 * A call that completes at once reports cancellation but, unlike Trio, does
 * not yield, except once every 128 such calls on the same worker, where it
 * lets the worker's other tasks run (a cooperative budget, as in Tokio).
 */
#ifndef WEFT_SYNC_H
#define WEFT_SYNC_H

#include "../weft.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- events */

typedef struct weft_event_t weft_event_t;

typedef struct weft_event_stats_t {
    size_t tasks_waiting;        /* tasks blocked in weft_event_wait */
} weft_event_stats_t;

/* Create an unset event.  WEFT_EINVAL (e NULL), WEFT_ENOMEM. */
WEFT_EXTERN int weft_event_new(weft_event_t **e);
WEFT_EXTERN void weft_event_free(weft_event_t *e);
/* Set the event and wake every waiter; idempotent.  From any task or thread. */
WEFT_EXTERN void weft_event_set(weft_event_t *e);
/* 1 if set, 0 if not (also for NULL). */
WEFT_EXTERN int weft_event_is_set(const weft_event_t *e);
/* [fiber][checkpoint] Wait until the event is set. */
WEFT_EXTERN int weft_event_wait(weft_event_t *e);
/* Statistics; zeroes for NULL. */
WEFT_EXTERN void weft_event_stats(const weft_event_t *e, weft_event_stats_t *out);

/* ---------------------------------------------------------------- locks */

typedef struct weft_lock_t weft_lock_t;

typedef struct weft_lock_stats_t {
    int locked;                  /* 1 if a task holds the lock */
    const char *owner;           /* the holder's task name, NULL if unlocked */
    size_t tasks_waiting;        /* tasks blocked in weft_lock_acquire */
} weft_lock_stats_t;

/* Create an unlocked lock.  WEFT_EINVAL (l NULL), WEFT_ENOMEM. */
WEFT_EXTERN int weft_lock_new(weft_lock_t **l);
WEFT_EXTERN void weft_lock_free(weft_lock_t *l);
/* [fiber][checkpoint] Acquire; the owner is the calling task.  FIFO: release
 * hands the lock to the longest waiting task.  Already held by the caller:
 * WEFT_EPERM. */
WEFT_EXTERN int weft_lock_acquire(weft_lock_t *l);
/* [fiber] Acquire without waiting: WEFT_EAGAIN when another task holds it,
 * WEFT_EPERM when the caller does. */
WEFT_EXTERN int weft_lock_try_acquire(weft_lock_t *l);
/* [fiber] Release; the caller must be the owner, else WEFT_EPERM. */
WEFT_EXTERN int weft_lock_release(weft_lock_t *l);
/* 1 if held, 0 if not (also for NULL). */
WEFT_EXTERN int weft_lock_locked(const weft_lock_t *l);
/* Statistics; zeroes for NULL.  `owner` stays valid while the owner lives. */
WEFT_EXTERN void weft_lock_stats(const weft_lock_t *l, weft_lock_stats_t *out);

/* ---------------------------------------------------------------- semaphores */

typedef struct weft_sem_t weft_sem_t;

typedef struct weft_sem_stats_t {
    unsigned value;              /* permits available now */
    unsigned max_value;          /* 0 = unbounded */
    size_t tasks_waiting;        /* tasks blocked in weft_sem_acquire */
} weft_sem_stats_t;

/* Create with `initial` permits; `max_value` 0 = unbounded (up to UINT_MAX,
 * the most the value can hold), else releases past it fail.  WEFT_EINVAL: s
 * NULL, or initial > max_value > 0.  WEFT_ENOMEM. */
WEFT_EXTERN int weft_sem_new(weft_sem_t **s, unsigned initial, unsigned max_value);
WEFT_EXTERN void weft_sem_free(weft_sem_t *s);
/* [fiber][checkpoint] Take a permit, waiting (FIFO) while there is none. */
WEFT_EXTERN int weft_sem_acquire(weft_sem_t *s);
/* Take a permit without waiting: WEFT_EAGAIN when none is free.  Works from
 * any task or thread. */
WEFT_EXTERN int weft_sem_try_acquire(weft_sem_t *s);
/* Return a permit (handed to the first waiter, if any).  From any task or
 * thread.  WEFT_EINVAL, and the value stays, when it would exceed max_value
 * (UINT_MAX for an unbounded semaphore). */
WEFT_EXTERN int weft_sem_release(weft_sem_t *s);
/* Permits available now (0 for NULL). */
WEFT_EXTERN unsigned weft_sem_value(const weft_sem_t *s);
/* Statistics; zeroes for NULL. */
WEFT_EXTERN void weft_sem_stats(const weft_sem_t *s, weft_sem_stats_t *out);

/* ---------------------------------------------------------------- conditions */

typedef struct weft_cond_t weft_cond_t;

typedef struct weft_cond_stats_t {
    size_t tasks_waiting;        /* tasks blocked in weft_cond_wait */
    weft_lock_stats_t lock;      /* statistics of the underlying lock */
} weft_cond_stats_t;

/* Create a condition on `lock` (which must outlive it).  WEFT_EINVAL (c or
 * lock NULL), WEFT_ENOMEM. */
WEFT_EXTERN int weft_cond_new(weft_cond_t **c, weft_lock_t *lock);
WEFT_EXTERN void weft_cond_free(weft_cond_t *c);
/* [fiber][checkpoint] The caller must hold the lock (else WEFT_EPERM).
 * Releases it, waits for a notification, and holds the lock again on return,
 * also when it returns WEFT_ECANCELED.  Called when already cancelled it
 * returns WEFT_ECANCELED at once, still holding the lock. */
WEFT_EXTERN int weft_cond_wait(weft_cond_t *c);
/* Wake the first n waiters (FIFO).  A waiter being cancelled at that moment
 * does not use up a notification.  From any task or thread; holding the lock
 * is not required. */
WEFT_EXTERN void weft_cond_notify(weft_cond_t *c, unsigned n);
/* Wake every waiter. */
WEFT_EXTERN void weft_cond_notify_all(weft_cond_t *c);
/* Statistics; zeroes for NULL. */
WEFT_EXTERN void weft_cond_stats(const weft_cond_t *c, weft_cond_stats_t *out);

#ifdef __cplusplus
}
#endif

#endif
