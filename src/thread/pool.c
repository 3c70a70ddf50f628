#include "thread/pool.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "sched/clock.h"
#include "sched/fault.h"
#include "sched/thread_name.h"
#include "sched/util.h"
#include "thread/park.h"
#include "weft.h"

/* Threads that finished a job this recently are cycling through short
 * calls and will take a new one from the queue soon. */
#define CYCLING_SECONDS 20e-6
/* The monitor's period while jobs are queued, and how many empty periods it
 * waits before it sleeps until a job needs it again. */
#define MONITOR_PERIOD 200e-6
#define MONITOR_IDLE_TICKS 1000u

typedef struct wf_bthread {
    wf_list_t link;              /* in pool->sleepers while asleep */
    wf_list_t by_index;          /* in pool->threads */
    unsigned index;              /* its name's N: weft-blocking-N */
    pthread_t thread;
    struct wf_pool *pool;
    wf_flag_t wake;
    struct wf_bthread *next;     /* pool->exited */
    int returning;               /* counted in pool->returning */
} wf_bthread_t;

/* The pool thread running this job, for wf_pool_returning. */
static _Thread_local wf_bthread_t *current;

struct wf_pool {
    pthread_mutex_t lock;        /* guards everything below but `queued` reads */
    wf_pool_job_t *head, *tail;
    atomic_uint queued;          /* read without the lock by the spinner */
    unsigned long taken;         /* jobs taken off the queue, ever */
    double last_done;            /* when a thread last finished a job */
    wf_list_t sleepers;          /* most recently idle at the back */
    wf_bthread_t *spinner;       /* an idle thread spinning for work */
    wf_spinwait_t spins;         /* what its spinning bought lately */
    unsigned claimed;            /* spinners a job was counted on, not back yet */
    unsigned waking;             /* sleepers woken, not yet back under the lock */
    atomic_uint returning;       /* threads past their job's wake (wf_pool_returning) */
    unsigned alive, busy;
    unsigned starting;           /* started, not yet through on_thread_start */
    wf_list_t threads;           /* every thread that took an index, by index */
    int closing;
    wf_bthread_t *exited;        /* to join and free */
    double idle_timeout;
    void (*on_start)(void *arg), (*on_stop)(void *arg);
    void *hook_arg;
    pthread_cond_t all_exited;
    /* The monitor (started with the first job that relies on it). */
    pthread_t monitor;
    int monitor_started, monitor_asleep;
    pthread_cond_t monitor_cond;
};

int wf_pool_new(wf_pool_t **out, const weft_config_t *config) {
    wf_pool_t *p = wf_calloc(1, sizeof *p);
    if (!p) return WEFT_ENOMEM;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->all_exited, NULL);
    wf_cond_init_monotonic(&p->monitor_cond);
    wf_list_init(&p->sleepers);
    wf_list_init(&p->threads);
    p->idle_timeout = config->thread_idle_timeout;
    p->on_start = config->on_thread_start;
    p->on_stop = config->on_thread_stop;
    p->hook_arg = config->thread_hook_arg;
    *out = p;
    return 0;
}

/* ---------------------------------------------------------------- the queue (lock held) */

static void enqueue(wf_pool_t *p, wf_pool_job_t *job) {
    job->next = NULL;
    if (p->tail) p->tail->next = job;
    else p->head = job;
    p->tail = job;
    atomic_store_explicit(&p->queued, atomic_load_explicit(&p->queued, memory_order_relaxed) + 1,
                          memory_order_release);
}

static wf_pool_job_t *dequeue(wf_pool_t *p) {
    wf_pool_job_t *job = p->head;
    if (!job) return NULL;
    if (!(p->head = job->next)) p->tail = NULL;
    atomic_store_explicit(&p->queued, atomic_load_explicit(&p->queued, memory_order_relaxed) - 1,
                          memory_order_relaxed);
    p->taken++;
    return job;
}

/* 1 if `job` was still queued and is now removed. */
static int unqueue(wf_pool_t *p, wf_pool_job_t *job) {
    wf_pool_job_t **at = &p->head, *prev = NULL;
    for (; *at && *at != job; at = &(*at)->next) prev = *at;
    if (!*at) return 0;
    *at = job->next;
    if (p->tail == job) p->tail = prev;
    atomic_store_explicit(&p->queued, atomic_load_explicit(&p->queued, memory_order_relaxed) - 1,
                          memory_order_relaxed);
    return 1;
}

/* ---------------------------------------------------------------- threads */

static void *thread_main(void *arg);

/* pthread_create, or the failure a test injected (fault.h). */
static int create_thread(pthread_t *t, void *(*fn)(void *), void *arg) {
    return wf_fault_hit(WF_FAULT_THREAD) ? EAGAIN : pthread_create(t, NULL, fn, arg);
}

/* Lock held: the lowest index no live thread has, so that names stay within
 * the system's 15 bytes (weft-blocking-9) however many threads came and
 * went.  The list is short: threads that are alive. */
static void take_index(wf_pool_t *p, wf_bthread_t *bt) {
    unsigned i = 0;
    wf_list_t *at = p->threads.next;
    for (; at != &p->threads; at = at->next, i++)
        if (WF_CONTAINER_OF(at, wf_bthread_t, by_index)->index != i) break;
    bt->index = i;
    wf_list_push_back(at, &bt->by_index); /* before `at`: the list stays sorted */
}

/* Lock held. */
static void thread_exits(wf_pool_t *p, wf_bthread_t *bt) {
    wf_list_remove(&bt->by_index);
    bt->next = p->exited;
    p->exited = bt;
    if (--p->alive == 0) pthread_cond_broadcast(&p->all_exited);
}

/* Join the threads that exited; lock not held. */
static void reap(wf_pool_t *p) {
    pthread_mutex_lock(&p->lock);
    wf_bthread_t *bt = p->exited;
    p->exited = NULL;
    pthread_mutex_unlock(&p->lock);
    while (bt) {
        wf_bthread_t *next = bt->next;
        pthread_join(bt->thread, NULL);
        wf_free(bt);
        bt = next;
    }
}

/* Start a thread (lock not held; `alive` and `starting` already count it). */
static int start_thread(wf_pool_t *p) {
    reap(p);
    wf_bthread_t *bt = wf_calloc(1, sizeof *bt);
    if (bt) {
        bt->pool = p;
        wf_flag_init(&bt->wake);
        if (create_thread(&bt->thread, thread_main, bt) == 0) return 0;
        wf_free(bt);
    }
    pthread_mutex_lock(&p->lock);
    p->starting--;
    if (--p->alive == 0) pthread_cond_broadcast(&p->all_exited);
    pthread_mutex_unlock(&p->lock);
    return WEFT_ENOMEM;
}

/* Lock held: wake the most recently idle sleeper.  Until it is back under
 * the lock it counts in `waking`: it is on its way to the queue. */
static void wake_sleeper(wf_pool_t *p) {
    wf_bthread_t *bt = WF_CONTAINER_OF(p->sleepers.prev, wf_bthread_t, link);
    wf_list_remove(&bt->link);
    p->waking++;
    wf_flag_set(&bt->wake);
}

/* Make one more thread look at the queue: the most recently idle sleeper,
 * or (returned 1) a new thread the caller starts after unlocking.  Nothing
 * while the threads already on their way to the queue (woken, starting, or
 * a spinner a job was counted on) are as many as the jobs queued: each will
 * take one.  Without that count a woken thread that the kernel has not run
 * yet looks like no thread at all, the next submit wakes or starts another,
 * and the pool keeps twice the threads that calls need (a slow
 * on_thread_start would likewise have every submit and every monitor
 * period start one more). */
static int add_looker(wf_pool_t *p) {
    unsigned on_the_way = p->starting + p->waking + p->claimed +
                          atomic_load_explicit(&p->returning, memory_order_relaxed);
    if (atomic_load_explicit(&p->queued, memory_order_relaxed) <= on_the_way) return 0;
    if (!wf_list_empty(&p->sleepers)) {
        wake_sleeper(p);
        return 0;
    }
    p->alive++;
    p->starting++;
    return 1;
}

static int jobs_queued(const void *p) {
    return atomic_load_explicit(&((wf_pool_t *)p)->queued, memory_order_acquire) != 0;
}

/* Idle: spin (one thread at a time) or sleep until there is work; 0 when
 * the thread should exit.  Lock held on entry and on return. */
static int wait_for_work(wf_pool_t *p, wf_bthread_t *bt) {
    if (!p->spinner) {
        p->spinner = bt;
        pthread_mutex_unlock(&p->lock);
        wf_park_spin(&p->spins, jobs_queued, p);
        pthread_mutex_lock(&p->lock);
        if (p->spinner == bt) p->spinner = NULL;
        else p->claimed--; /* a job counted on us */
        if (p->head || p->closing) return 1;
    }
    wf_flag_reset(&bt->wake);
    wf_list_push_back(&p->sleepers, &bt->link);
    pthread_mutex_unlock(&p->lock);
    int woken = wf_flag_wait(&bt->wake, wf_park_clock() + p->idle_timeout, 0);
    pthread_mutex_lock(&p->lock);
    if (!woken && bt->link.next != &bt->link) { /* still asleep in the list: time to go */
        wf_list_remove(&bt->link);
        return 0;
    }
    if (!woken) { /* a waker took us off the list just now */
        pthread_mutex_unlock(&p->lock);
        wf_flag_wait(&bt->wake, INFINITY, 0);
        pthread_mutex_lock(&p->lock);
    }
    p->waking--;
    return 1;
}

/* A thread's name and the user's on_thread_start, before its first call. */
static void thread_begins(wf_pool_t *p, wf_bthread_t *bt) {
    pthread_mutex_lock(&p->lock);
    take_index(p, bt);
    pthread_mutex_unlock(&p->lock);
    wf_thread_name_set_numbered("weft-blocking", bt->index);
    if (p->on_start) p->on_start(p->hook_arg);
}

static void *thread_main(void *arg) {
    wf_bthread_t *bt = arg;
    wf_pool_t *p = bt->pool;
    thread_begins(p, bt);
    pthread_mutex_lock(&p->lock);
    p->starting--;
    for (;;) {
        wf_pool_job_t *job = dequeue(p);
        if (job) {
            p->busy++;
            pthread_mutex_unlock(&p->lock);
            current = bt;
            job->run(job);
            current = NULL;
            double now = wf_park_clock();
            pthread_mutex_lock(&p->lock);
            if (bt->returning) {
                bt->returning = 0;
                atomic_fetch_sub_explicit(&p->returning, 1, memory_order_relaxed);
            }
            p->busy--;
            p->last_done = now;
            continue;
        }
        if (p->closing || !wait_for_work(p, bt)) break;
    }
    /* Still counted alive: shutdown waits for on_thread_stop too. */
    pthread_mutex_unlock(&p->lock);
    if (p->on_stop) p->on_stop(p->hook_arg);
    pthread_mutex_lock(&p->lock);
    thread_exits(p, bt);
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* ---------------------------------------------------------------- the monitor */

static void *monitor_main(void *arg) {
    wf_pool_t *p = arg;
    wf_thread_name_set("weft-pool-mon");
    unsigned long seen = 0;
    unsigned idle_ticks = 0;
    pthread_mutex_lock(&p->lock);
    while (!p->closing) {
        if (!p->head && ++idle_ticks > MONITOR_IDLE_TICKS) {
            p->monitor_asleep = 1;
            pthread_cond_wait(&p->monitor_cond, &p->lock);
            p->monitor_asleep = 0;
            idle_ticks = 0;
            seen = p->taken;
            continue;
        }
        unsigned starts = 0;
        if (p->head) {
            idle_ticks = 0;
            /* The queue did not move for a whole period: every thread that
             * could take from it is stuck in a call (or still starting).
             * One looker per job. */
            if (p->taken == seen && !p->spinner)
                for (unsigned n = atomic_load(&p->queued); n; n--) starts += (unsigned)add_looker(p);
            seen = p->taken;
        }
        if (starts) {
            pthread_mutex_unlock(&p->lock);
            int failed = 0;
            while (starts--) failed |= start_thread(p) != 0;
            pthread_mutex_lock(&p->lock);
            /* On failure the job waits for a thread to free up, and the
             * next period tries again: looping at once would spin on
             * pthread_create for as long as threads cannot start. */
            if (!failed) continue;
        }
        struct timespec ts = wf_clock_deadline(MONITOR_PERIOD);
        pthread_cond_timedwait(&p->monitor_cond, &p->lock, &ts);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* ---------------------------------------------------------------- submit, free */

void wf_pool_returning(void) {
    wf_bthread_t *bt = current;
    if (!bt || bt->returning) return;
    bt->returning = 1;
    /* Before the wake that lets the task submit again: that submit reads it
     * under the lock, after the wake. */
    atomic_fetch_add_explicit(&bt->pool->returning, 1, memory_order_release);
}

int wf_pool_submit(wf_pool_t *p, wf_pool_job_t *job) {
    double now = wf_park_clock();
    pthread_mutex_lock(&p->lock);
    enqueue(p, job);
    int start = 0, cycling = p->claimed || (p->busy && now - p->last_done < CYCLING_SECONDS);
    if (p->spinner) {
        p->spinner = NULL; /* it sees the queue and drains it */
        p->claimed++;
    } else if (cycling && (p->monitor_started || create_thread(&p->monitor, monitor_main, p) == 0)) {
        p->monitor_started = 1;
        if (p->monitor_asleep) pthread_cond_signal(&p->monitor_cond);
    } else {
        start = add_looker(p);
    }
    pthread_mutex_unlock(&p->lock);
    if (!start || start_thread(p) == 0) return 0;
    return wf_pool_cancel(p, job) ? WEFT_ENOMEM : 0; /* taken meanwhile: it runs */
}

int wf_pool_cancel(wf_pool_t *p, wf_pool_job_t *job) {
    pthread_mutex_lock(&p->lock);
    int removed = unqueue(p, job);
    pthread_mutex_unlock(&p->lock);
    return removed;
}

void wf_pool_free(wf_pool_t *p) {
    pthread_mutex_lock(&p->lock);
    p->closing = 1;
    while (!wf_list_empty(&p->sleepers)) wake_sleeper(p);
    pthread_cond_signal(&p->monitor_cond);
    /* Calls abandoned before a thread took them still run (their
     * on_abandoned frees what they hold), with the monitor gone. */
    unsigned starts = 0;
    for (unsigned n = atomic_load(&p->queued); n; n--) starts += (unsigned)add_looker(p);
    pthread_mutex_unlock(&p->lock);
    while (starts--) start_thread(p);
    pthread_mutex_lock(&p->lock);
    while (p->alive) pthread_cond_wait(&p->all_exited, &p->lock);
    pthread_mutex_unlock(&p->lock);
    if (p->monitor_started) pthread_join(p->monitor, NULL);
    reap(p);
    pthread_cond_destroy(&p->monitor_cond);
    pthread_cond_destroy(&p->all_exited);
    pthread_mutex_destroy(&p->lock);
    wf_free(p);
}

void wf_pool_counts(wf_pool_t *p, unsigned *alive, unsigned *busy) {
    pthread_mutex_lock(&p->lock);
    *alive = p->alive;
    *busy = p->busy;
    pthread_mutex_unlock(&p->lock);
}
