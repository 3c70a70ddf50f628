/* Part of weft.h: include <weft.h>, not this file.
 *
 * Seeing inside a running program: the task tree, runtime statistics, and
 * the switches of weft_config_t that turn on the blocking detector and the
 * virtual clock (docs/debugging.md).
 *
 * The virtual clock (WEFT_CONFIG_VIRTUAL_CLOCK) jumps when nothing it knows
 * of can happen before the next deadline.  It knows of tasks, I/O, blocking
 * calls, calls posted from other threads and held tokens.  A plain thread
 * that sets an event or sends on a channel without holding a token is
 * invisible to it: a task waiting for that thread sees time jump past its
 * deadline.  Give such a thread a token (weft_current_token) for as long as
 * it may call in, or run its work with weft_to_thread_run_sync.
 *
 * The environment variable WEFT_DEBUG=1 turns on, for every runtime:
 *   - the blocking detector with a 100 ms threshold (unless the config sets
 *     one: config.blocking_threshold);
 *   - SIGQUIT (Ctrl-\) prints weft_dump_tasks(stderr) and the program goes on.
 */
#ifndef WEFT_DEBUG_H
#define WEFT_DEBUG_H

#include <stdio.h>

#include "../weft.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- deterministic schedules
 *
 * With config.flags |= WEFT_CONFIG_DETERMINISTIC the runtime runs every
 * task on one worker thread, chooses the next task to run among every
 * runnable one with a PRNG seeded by config.seed (0: WEFT_SEED from the
 * environment, else 1), and runs the virtual clock frozen between jumps, so
 * the same program with the same seed makes the same choices, and different
 * seeds try different orders: a test that fails under one seed fails again
 * under it (weft_test_explore in weft/test.h looks for one).  Blocking calls
 * (weft_to_thread_run_sync) are part of it: their results, and the
 * weft_from_thread_* calls and cancellation checks their threads make, are
 * delivered in a seed-determined order, whatever their threads' timing
 * (each thread waits its turn; the runtime's clock does not move while a
 * call runs).  Real sockets and other I/O, calls from threads outside the
 * runtime's blocking pool (tokens, portals, plain threads), and what an
 * abandoned call does after it was abandoned are outside this promise: their
 * timing is not the runtime's to choose.  config.workers and the blocking
 * detector are ignored.  With WEFT_DEBUG=1 the runtime prints its seed and schedule
 * hash when it ends. */

/* [fiber] A hash of every scheduling choice the caller's runtime made so
 * far: equal at the same point of two runs that made the same choices.  0
 * in a runtime that is not deterministic (it does not count choices). */
WEFT_EXTERN unsigned long long weft_schedule_hash(void);

/* ---------------------------------------------------------------- deadlocks
 *
 * Every runtime, not only a deterministic one: when every task is blocked
 * and nothing can wake any of them (no timer pending, no I/O handle
 * active, no blocking call running, no token held, no call posted by
 * another thread), weft_run prints the task tree to stderr, cancels every
 * task (they unwind and clean up as for any cancellation) and returns
 * WEFT_EDEADLK once main has returned.  Tasks still blocked after that (in
 * shielded scopes) are given up: freed without running again, and weft_run
 * returns WEFT_EDEADLK all the same.  A task in weft_sleep(WEFT_FOREVER)
 * counts as blocked on nothing.  A plain thread that will set an event
 * later is invisible, as for the virtual clock: a runtime on the real clock
 * waits a grace period (1 s) without any progress before it believes a
 * deadlock, one with the virtual clock believes it at once; a thread that
 * may call in later than that must hold a token (weft_current_token).
 *
 * Tasks waiting for what others hold: the dump lists "task 'A' waits for
 * lock L held by task 'B'" for every wait on a lock or a capacity limiter,
 * and names every cycle of them ("... which waits for lock M held by task
 * 'A'"): a deadlock among those tasks, whatever the others do.  While the
 * blocking detector runs (config.blocking_threshold or WEFT_DEBUG=1) it
 * looks for such cycles every second and reports each once to stderr. */

/* Any thread.  Print the live tree of every running runtime of the process:
 * groups and tasks with their names and states (running on which worker,
 * runnable, or waiting on what: sleep, lock, channel, thread, I/O, ... and
 * for how long), cancel scopes with their deadlines and shields.  Tasks that
 * have never blocked and own no scope are not linked into the tree (that is
 * what makes spawning cheap): a group shows them as a count.  Under each
 * waiting task, its stack from the public call it waits in outwards ("at
 * function+0x1c (module)"; functions a program does not export show as
 * module+offset, for addr2line), from a walk of its frame pointers: build
 * weft with WEFT_FRAME_POINTERS (the default) and the program with
 * -fno-omit-frame-pointer, and link it with -rdynamic to see its functions'
 * names.  A running task shows the worker it runs on, not its stack.  Then
 * who waits for what others hold, and the cycles (above).  The output is
 * a snapshot, taken without stopping the workers. */
WEFT_EXTERN void weft_dump_tasks(FILE *out);

/* Statistics of one runtime, for benchmarks and dashboards.  Counters are
 * totals since weft_run started; depths are sampled, not exact.  The
 * reserved words keep the struct's size when later versions add counters
 * (they read 0 until then). */
typedef struct weft_runtime_stats_t {
    unsigned workers;                 /* worker threads (the spare included) */
    unsigned spare_awake;             /* WEFT_CONFIG_SPARE_WORKER: 1 while it stands in */
    unsigned long long tasks_alive;   /* spawned and not yet finished (root included) */
    unsigned long long tasks_spawned;
    unsigned long long steals;        /* batches taken from another worker's queue */
    unsigned long long task_parks;    /* a task blocked (sleep, lock, I/O, ...) */
    unsigned long long worker_parks;  /* a worker found nothing to do and slept */
    unsigned long long blocked_warnings; /* reports of the blocking detector */
    unsigned long long clock_jumps;   /* virtual clock: times it jumped ahead */
    unsigned threads_alive;           /* blocking threads (to_thread) */
    unsigned threads_idle;
    unsigned offloads;                /* tasks waiting in weft_to_thread_run_sync */
    size_t inject_depth;              /* tasks queued from outside the workers */
    unsigned long long weft_reserved_[8];
} weft_runtime_stats_t;

/* [fiber] or a blocking thread of the runtime (inside weft_to_thread_run_sync):
 * fill *out for the caller's runtime.  WEFT_EINVAL for NULL, WEFT_EPERM
 * elsewhere. */
WEFT_EXTERN int weft_runtime_stats(weft_runtime_stats_t *out);

/* One worker's share of those counters, and its queue. */
typedef struct weft_worker_stats_t {
    unsigned long long tasks_run;     /* tasks switched to (a task resumed counts again) */
    unsigned long long tasks_spawned; /* spawned by tasks on this worker */
    unsigned long long tasks_exited;  /* ended on this worker */
    unsigned long long steals;        /* batches it took from another worker */
    unsigned long long task_parks;    /* tasks that blocked on it */
    unsigned long long worker_parks;  /* times it found nothing to do and slept */
    unsigned queue_depth;             /* its stealable queue, sampled */
    int spare;                        /* the stand-in worker (WEFT_CONFIG_SPARE_WORKER) */
    unsigned long long weft_reserved_[8];
} weft_worker_stats_t;

/* As weft_runtime_stats, for worker `index` (0 .. workers - 1; the spare is
 * the last).  WEFT_EINVAL for NULL or an index past the last worker. */
WEFT_EXTERN int weft_worker_stats(unsigned index, weft_worker_stats_t *out);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_DEBUG_H */
