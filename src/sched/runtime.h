/*
 * The runtime and its workers (the scheduler proper).
 *
 * Threads: one worker thread per `config.workers` (the thread that called
 * weft_run is worker 0).  Each worker owns its run queue, a small LIFO stack
 * of the tasks it spawned or woke last, a timer heap and a libuv loop it
 * parks in.  Shared
 * between workers: the injection queue, the idle list, and the counters that
 * decide whom to wake.
 */
#ifndef WEFT_SCHED_RUNTIME_H
#define WEFT_SCHED_RUNTIME_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "sched/fiber.h"
#include "sched/queue.h"
#include "sched/spinwait.h"
#include "sched/task.h"
#include "sched/timer.h"

typedef struct wf_runtime wf_runtime_t;

#define WF_LIFO_CAP 64u

/* Line-aligned (and allocated so, wf_calloc_line): the workers sit side by
 * side in rt->workers, and without it the counters each one stores on every
 * switch (at the end) shared a line with its neighbour's `rt`, `current` and
 * LIFO stack (at the start). */
typedef struct wf_worker {
    _Alignas(WF_CACHE_LINE) wf_runtime_t *rt;
    unsigned index;
    pthread_t thread;
    wf_fiber_t sched_fiber;     /* the worker thread's own stack */
    wf_task_t *current;
    /* Tasks this worker spawned or woke, run newest first (depth first, as
     * in Cilk: a fork-join tree keeps O(depth) stacks alive).  Owner-only;
     * the oldest move to the stealable ring when other workers are idle or
     * when it is full. */
    wf_task_t *lifo[WF_LIFO_CAP];
    unsigned lifo_bottom, lifo_count;
    unsigned tick;
    int searching;              /* counted in rt->n_searching */
    int spare;                  /* the stand-in worker (WEFT_CONFIG_SPARE_WORKER) */
    int polling;                /* inside uv_run: callbacks are waking tasks */
    int idle, notified;         /* guarded by rt->idle_lock */
    uint64_t rng;
    double now;                 /* clock at the last timer check */
    _Atomic double wake_at;     /* parked until then at the latest; NAN while running */
    wf_local_queue_t queue;
    wf_task_t *_Atomic pinned;  /* tasks moved here to use this loop (newest first) */
    wf_timer_heap_t timers;
    wf_stack_cache_t stacks;
    wf_task_t *records;         /* cache of free task records (queue_next list) */
    unsigned n_records;
    uv_loop_t loop;
    uv_async_t wakeup;
    uv_timer_t park_timer;
    wf_altstack_t altstack;

    /* Published for the monitor and the statistics (monitor.h): written by
     * this worker only, with relaxed stores; read by anyone. */
    _Atomic(wf_task_t *) running;       /* the task on its CPU; NULL between tasks */
    _Atomic(const char *) running_name; /* its name (the record may be reused) */
    atomic_uint name_readers;           /* copying running_name (wf_worker_running_name) */
    atomic_ulong runs;                  /* tasks switched to so far */
    atomic_ullong spawned, exited, steals, task_parks, parks;
    /* For placing connections (src/io/place.h): the CPU this worker last
     * polled its loop on (-1 before), written by it; the connections placed
     * on it and not yet ended, counted by whoever places or ends one. */
    atomic_int cpu;
    atomic_uint io_load;
    /* Its loop had users' handles when it last went idle (deadlock.h). */
    atomic_int loop_alive;
} wf_worker_t;

/* Count an event in one of the worker's published counters (owner only). */
static inline void wf_count(atomic_ullong *c) {
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

struct wf_runtime {
    weft_config_t config;
    unsigned nworkers;
    wf_worker_t *workers;
    wf_inject_t inject;
    wf_stack_pool_t *stacks;
    pthread_mutex_t idle_lock;
    unsigned *idle_list, n_idle_list;   /* guarded by idle_lock */
    atomic_uint n_idle, n_searching;
    pthread_mutex_t record_lock;        /* task records freed on one worker, */
    wf_task_t *records;                 /* allocated on another, meet here   */
    atomic_size_t n_records;            /* written under record_lock; read  */
                                        /* without it as a hint (task.c)    */
    atomic_int done;
    atomic_uint io_turn;                /* deals ties in I/O placement (place.h) */
    wf_task_t *root;                    /* the scope tree hangs from root->root */
    int root_rc;

    /* Work from other threads (inbox.h). */
    struct wf_call *_Atomic calls;      /* posted, not yet run (newest first) */
    atomic_ulong gate;                  /* units in flight * 2 | WF_GATE_CLOSED */
    atomic_uint posting;                /* threads inside wf_runtime_post */
    wf_scope_t detached_scope;          /* detached tasks hang here */

    /* Thread bridges (src/thread/). */
    atomic_uint offloads;               /* tasks waiting in weft_to_thread_run_sync */
    atomic_uint offloads_calling_in;    /* of their threads, those waiting for a task
                                           they started with weft_from_thread_run:
                                           blocked on the runtime, no real-time work */
    atomic_int offload_spinner;         /* a worker waits for them (worker.c) */
    wf_spinwait_t offload_spins;        /* what that waiting bought lately */
    struct wf_pool *pool;               /* blocking threads */
    struct weft_limiter_t *limiter;     /* the default thread limiter */
    struct weft_token_t *token;         /* the runtime's own reference */

    /* Seeing inside (monitor.h, vclock.h, dump.c). */
    struct wf_monitor *monitor;         /* blocking detector, SIGQUIT dumps */
    wf_runtime_t *registry_next;        /* the process's live runtimes */
    pthread_mutex_t root_lock;          /* the dump reads the root task's tree */
    int root_gone;                      /* under root_lock: main has returned */
    atomic_ullong spawned_outside;      /* tasks created off the workers (main) */
    int vclock;                         /* WEFT_CONFIG_VIRTUAL_CLOCK */
    struct wf_det *det;                 /* WEFT_CONFIG_DETERMINISTIC (det.h), else NULL */

    /* Global deadlocks (deadlock.h). */
    atomic_uint running_calls;          /* blocking calls running, abandoned ones too */
    wf_worker_t *_Atomic dl_watcher;    /* the idle worker watching a suspected one */
    double dl_since;                    /* the watcher's: since when, and the progress */
    unsigned long long dl_progress;     /*   count then */
    int deadlocked;                     /* 1: declared, all cancelled; 2: given up */
    struct wf_task **lost;              /* tasks given up for lost, freed at the end */
    size_t lost_n, lost_cap;
    int tree_lost;                      /* under root_lock: the dump walks it no more */
    _Atomic double clock_offset;        /* virtual clock: ahead of the real one by */
    atomic_long vc_active;              /* virtual clock: runnable or running tasks */
    atomic_uint io_waits;               /* virtual clock: tasks waiting on I/O */
    atomic_uint held_tokens;            /* tokens held by others (src/thread/token.c):
                                           a holder may call in at any moment */
    atomic_ullong clock_jumps;
    atomic_ullong blocked_warnings;     /* the blocking detector's */
    pthread_mutex_t vc_lock;            /* virtual clock: timers fire, time jumps */

    /* The spare worker (WEFT_CONFIG_SPARE_WORKER): the last of `workers`,
     * asleep on spare_cond until the monitor wants it (spare_wanted). */
    int has_spare;
    atomic_int spare_wanted, spare_awake;
    pthread_mutex_t spare_lock;
    pthread_cond_t spare_cond;
};

#define WF_GATE_CLOSED 1ul
#define WF_GATE_ONE 2ul

/* The worker running on this thread, or NULL.  Never inlined: a task may
 * resume on another thread, so a cached thread-local address would be stale. */
wf_worker_t *wf_current_worker(void);

/* Make a runnable task run soon: from a worker of t's runtime onto that
 * worker's LIFO stack, from anywhere else into the injection queue. */
void wf_schedule(wf_task_t *t);

/* Make a new task runnable on worker `to` (it starts there). */
void wf_schedule_on(wf_task_t *t, wf_worker_t *to);

/* Continue the running task `t` on worker `to` (the owner of a libuv handle
 * it is about to use); returns at once if it already runs there.  Every
 * libuv call on a worker's loop is made on that worker's thread: that is
 * what keeps a loop single-threaded. */
void wf_task_move_to(wf_task_t *t, wf_worker_t *to);

/* Arm `timer` on the calling worker's heap.  An idle worker parks until the
 * earliest deadline of every heap, so that a timer still fires while its own
 * worker is busy in a long computation; when no parked worker will wake up in
 * time for this one, one is woken to look again. */
int wf_worker_arm_timer(wf_worker_t *w, wf_timer_t *timer, double deadline);

/* Copy the name of the task running on `w` into buf; 0 when none runs.  Any
 * thread.  A task's name may be freed as soon as the task has ended, so the
 * copy is made while the task cannot end: its worker forgets the name first
 * (wf_worker_forget_name) and waits for copies in progress. */
int wf_worker_running_name(wf_worker_t *w, char *buf, size_t len);
/* The running task is about to end (the calling worker's). */
void wf_worker_forget_name(wf_worker_t *w);

/* Worker thread body; worker 0 runs it on the caller of weft_run. */
void wf_worker_run(wf_worker_t *w);
int wf_worker_init(wf_worker_t *w, wf_runtime_t *rt, unsigned index);
/* Free what wf_worker_init made; every handle still open on the loop
 * (those a program never closed, the worker's own) is closed first by
 * `close_leftover` (a uv_walk callback: the I/O module knows its handles). */
void wf_worker_fini(wf_worker_t *w, uv_walk_cb close_leftover);
/* Wake an idle worker to look for work, unless someone is already searching. */
void wf_runtime_notify(wf_runtime_t *rt);
/* Wake the spare worker / let it go back to sleep once it has nothing to do
 * (the monitor, when a worker is held by a task / no longer). */
void wf_runtime_want_spare(wf_runtime_t *rt, int wanted);
/* Earliest deadline of every worker's timers; INFINITY when none. */
double wf_runtime_next_deadline(wf_runtime_t *rt);
/* Wake every worker (shutdown). */
void wf_runtime_wake_all(wf_runtime_t *rt);
/* The root task ended: every other task has too (its groups are closed). */
void wf_runtime_finish(wf_runtime_t *rt);

#endif
