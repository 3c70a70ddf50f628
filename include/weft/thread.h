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
 * abandoned keep it alive until their functions return.  Freeing one that
 * still lends a token to a task or borrower, or that tasks wait on, or the
 * runtime's default limiter, is a programming error: it aborts with a
 * message naming the calling task. */
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
    const char *thread_name;        /* while fn runs, its blocking thread carries this
                                       name (cut to the system's limit, 15 bytes on
                                       Linux; copied: it need not outlive the call),
                                       then takes back its own, weft-blocking-N;
                                       NULL or "" = keep weft-blocking-N */
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

/* [fiber] A new reference to the running runtime; NULL outside a task.  A
 * thread that holds one may call in at any moment, so a runtime with a
 * virtual clock does not jump time while any is held (weft/debug.h). */
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
 *
 * Stopping a portal that other threads still call (a callback source that is
 * still producing) is safe: weft_portal_call and weft_portal_spawn that race
 * with weft_portal_stop or come after it return WEFT_EBADF.  A call already
 * under way when stop begins either runs its function to completion (the
 * call returns its result, a spawn's future resolves with it) or does not
 * run it at all (the call returns WEFT_EBADF, and so does the future of a
 * spawn that had returned 0).  The handle stays valid after stop, so callers
 * keep getting WEFT_EBADF: release it with weft_portal_free once no thread
 * will start another call on it (after joining the callers, say).  Futures
 * outlive their portal: wait, done, cancel and free stay valid after stop
 * and free. */
typedef struct weft_portal_t weft_portal_t;
typedef struct weft_future_t weft_future_t;

/* [thread] Start a runtime on a new thread (config as for weft_run). */
WEFT_EXTERN int weft_portal_start(weft_portal_t **p, const weft_config_t *config);
/* A new reference to the portal's runtime (any thread, no round trip), for
 * code that takes a weft_token_t: the weft_from_thread_*_token calls run
 * there.  Release it with weft_token_release.  After the portal stopped,
 * calls through it return WEFT_EBADF.  NULL for NULL. */
WEFT_EXTERN weft_token_t *weft_portal_token(weft_portal_t *p);
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
/* [thread] Stop the portal: from now on calls and spawns return WEFT_EBADF;
 * optionally cancel the tasks still running, wait for all of them, end the
 * runtime and join its thread.  The handle stays valid (see weft_portal_free).
 * Returns the portal runtime's result (0, or WEFT_ENOMEM if it failed); a
 * second stop, also one racing the first, returns WEFT_EBADF at once. */
WEFT_EXTERN int weft_portal_stop(weft_portal_t *p, int cancel_remaining);
/* Release a stopped portal; NULL does nothing.  A stop still joining on
 * another thread, or calls still returning WEFT_EBADF, keep the memory until
 * they return; no thread may start a call on the portal after this.  Freeing
 * a portal that was never stopped is a programming error: it aborts with a
 * message (its runtime would run on with nobody to join it). */
WEFT_EXTERN void weft_portal_free(weft_portal_t *p);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_THREAD_H */
