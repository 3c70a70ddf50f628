/*
 * weft/thread.h — threads: capacity limiters, offloading blocking calls to
 * pooled threads, calling back into the runtime from other threads, tokens
 * and blocking portals.  Included by weft.h (and includes it).
 *
 * The model is AnyIO's (anyio.to_thread, anyio.from_thread, CapacityLimiter,
 * BlockingPortal), with Trio's rules for cancellation.
 */
#ifndef WEFT_THREAD_H
#define WEFT_THREAD_H

#include "../weft.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- capacity limiters
 *
 * A limiter lends `total_tokens` tokens.  A borrower (the calling task, or any
 * pointer with the _on_behalf_of forms) holds at most one token: a second
 * acquire returns WEFT_EPERM, and so does releasing a token it does not hold.
 * Waiters are served first come, first served; a waiter cancelled at the
 * moment a token was offered to it takes nothing and the token goes to the
 * next one.  Raising the total wakes waiters; lowering it revokes nothing
 * (borrowers keep their tokens and new ones wait until the count is below
 * the new total).  Limiters are shared objects: any task of any runtime and,
 * for the non-waiting calls, any thread may use them. */
typedef struct weft_limiter_t weft_limiter_t;
typedef struct weft_limiter_stats_t {
    unsigned total_tokens, borrowed_tokens, tasks_waiting;
} weft_limiter_stats_t;

/* total_tokens >= 1, else WEFT_EINVAL. */
WEFT_EXTERN int weft_limiter_new(weft_limiter_t **l, unsigned total_tokens);
/* Free a limiter nobody borrows from or waits on.  Offloaded calls that were
 * abandoned keep it alive until their functions return. */
WEFT_EXTERN void weft_limiter_free(weft_limiter_t *l);
/* [fiber][checkpoint] Borrow a token for the calling task, waiting if none is free. */
WEFT_EXTERN int weft_limiter_acquire(weft_limiter_t *l);
/* Borrow a token for the calling task (or, outside a task, the calling
 * thread) if one is free now, else WEFT_EAGAIN; never waits. */
WEFT_EXTERN int weft_limiter_try_acquire(weft_limiter_t *l);
/* [fiber][checkpoint] Borrow a token for `borrower` (any non-NULL pointer). */
WEFT_EXTERN int weft_limiter_acquire_on_behalf_of(weft_limiter_t *l, const void *borrower);
/* Borrow for `borrower` if a token is free now, else WEFT_EAGAIN; any thread. */
WEFT_EXTERN int weft_limiter_try_acquire_on_behalf_of(weft_limiter_t *l, const void *borrower);
/* Give back the calling task's (thread's) / borrower's token; any thread. */
WEFT_EXTERN int weft_limiter_release(weft_limiter_t *l);
WEFT_EXTERN int weft_limiter_release_on_behalf_of(weft_limiter_t *l, const void *borrower);
/* Any thread.  total_tokens >= 1, else WEFT_EINVAL. */
WEFT_EXTERN int weft_limiter_set_total_tokens(weft_limiter_t *l, unsigned total_tokens);
WEFT_EXTERN void weft_limiter_stats(const weft_limiter_t *l, weft_limiter_stats_t *out);
/* [fiber] The runtime's default thread limiter (config.thread_tokens tokens).
 * Also works on the runtime's blocking threads; NULL anywhere else.  Owned by
 * the runtime: do not free it. */
WEFT_EXTERN weft_limiter_t *weft_default_thread_limiter(void);

/* ---------------------------------------------------------------- to_thread */

typedef struct weft_thread_opts_t {
    weft_limiter_t *limiter;        /* NULL = the runtime's default thread limiter */
    int abandon_on_cancel;          /* return WEFT_ECANCELED at once when cancelled */
    void (*on_abandoned)(void *arg, int rc); /* runs on the thread after an abandoned fn returns */
} weft_thread_opts_t;

/* [fiber][checkpoint] Run fn(arg) on one of the runtime's blocking threads
 * while holding a token of the limiter, and return fn's result.
 *
 * Cancelled before fn starts (also while waiting for a token): WEFT_ECANCELED,
 * fn never runs.  Cancelled while fn runs: without abandon_on_cancel the call
 * still waits for fn and returns its result (the next checkpoint reports the
 * cancellation; fn may poll weft_from_thread_check_cancelled); with it, the
 * call returns WEFT_ECANCELED at once, fn finishes on its thread, the token is
 * released when fn returns and on_abandoned(arg, rc) then runs on that thread.
 * No blocking thread could be started: WEFT_ENOMEM (the token is returned).
 *
 * Who owns arg with abandon_on_cancel: whenever the call returns
 * WEFT_ECANCELED, on_abandoned(arg, rc) runs exactly once — on the blocking
 * thread with fn's result if fn ran (also when fn itself returned
 * WEFT_ECANCELED), or on the calling task with WEFT_ECANCELED before the call
 * returns if fn never started.  So on_abandoned frees arg, and after any
 * other result the caller still owns it. */
WEFT_EXTERN int weft_to_thread_run_sync(weft_fn_t fn, void *arg, const weft_thread_opts_t *opts);

/* ---------------------------------------------------------------- from_thread and tokens
 *
 * From a blocking thread running a weft_to_thread_run_sync function, the
 * plain forms call into that thread's runtime.  From any other thread, the
 * _token forms call into the token's runtime.  From a task, or from a
 * function run by run_sync (which runs on a worker), every form returns
 * WEFT_EPERM: it would wait for itself.  Once the runtime's main task has
 * returned, calls return WEFT_EBADF. */
typedef struct weft_token_t weft_token_t;

/* [fiber] A new reference to the running runtime; NULL outside a task. */
WEFT_EXTERN weft_token_t *weft_current_token(void);
/* Drop a reference (any thread, also after the runtime finished). */
WEFT_EXTERN void weft_token_release(weft_token_t *t);

/* [thread] Run fn(arg) as a task and wait for its result.  From a blocking
 * thread, the task runs under the cancel scope of the task that called
 * weft_to_thread_run_sync, so cancelling that task cancels it; once that
 * call was abandoned, WEFT_ECANCELED without running fn.  Through a token,
 * the task runs under the runtime's own scope, cancelled when main returns. */
WEFT_EXTERN int weft_from_thread_run(weft_fn_t fn, void *arg);
/* [thread] Run fn(arg) on a worker of the runtime, between tasks (no task
 * switch), and wait for its result.  fn may use every call that is not a
 * checkpoint (set an event, cancel a scope, weft_send_nowait, spawn into a
 * group); a checkpoint inside it returns WEFT_EPERM.  fn must not block. */
WEFT_EXTERN int weft_from_thread_run_sync(weft_fn_t fn, void *arg);
WEFT_EXTERN int weft_from_thread_run_token(weft_token_t *t, weft_fn_t fn, void *arg);
WEFT_EXTERN int weft_from_thread_run_sync_token(weft_token_t *t, weft_fn_t fn, void *arg);
/* [thread] From a blocking thread: WEFT_ECANCELED if the task waiting for
 * this thread is effectively cancelled (or abandoned the call), else 0.
 * Elsewhere WEFT_EPERM. */
WEFT_EXTERN int weft_from_thread_check_cancelled(void);

/* ---------------------------------------------------------------- blocking portals
 *
 * A runtime on a background thread, for programs whose main loop is not
 * weft's.  Tasks spawned through a portal run in one task group of the
 * portal; a task's failure goes to its future, never to the other tasks.
 * A portal must not be used by other threads once weft_portal_stop started. */
typedef struct weft_portal_t weft_portal_t;
typedef struct weft_future_t weft_future_t;

/* [thread] Start a runtime on a new thread (config as for weft_run). */
WEFT_EXTERN int weft_portal_start(weft_portal_t **p, const weft_config_t *config);
/* [thread] Run fn(arg) as a task of the portal and return its result. */
WEFT_EXTERN int weft_portal_call(weft_portal_t *p, weft_fn_t fn, void *arg);
/* Spawn fn(arg) as a task of the portal; *f receives its future.  Any thread. */
WEFT_EXTERN int weft_portal_spawn(weft_portal_t *p, weft_fn_t fn, void *arg, weft_future_t **f);
/* [thread] Wait for the task and return its result (WEFT_ECANCELED when
 * weft_future_cancel cancelled it). */
WEFT_EXTERN int weft_future_wait(weft_future_t *f);
/* 1 once the task has finished, else 0 (never waits). */
WEFT_EXTERN int weft_future_done(const weft_future_t *f);
/* Cancel the task (any thread; no effect once it finished). */
WEFT_EXTERN void weft_future_cancel(weft_future_t *f);
/* Forget the future; the task itself runs on (cancel it first to stop it). */
WEFT_EXTERN void weft_future_free(weft_future_t *f);
/* [thread] Stop the portal: optionally cancel the tasks still running, wait
 * for all of them, end the runtime, join its thread and free the portal.
 * Returns the portal runtime's result (0, or WEFT_ENOMEM if it failed). */
WEFT_EXTERN int weft_portal_stop(weft_portal_t *p, int cancel_remaining);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_THREAD_H */
