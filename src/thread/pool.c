#include "pool.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>

#include "park.h"
#include "util.h"
#include "weft.h"

typedef struct wf_bthread {
    wf_list_t link;              /* in pool->idle while idle (pool lock) */
    pthread_t thread;
    struct wf_pool *pool;
    wf_pool_job_t *job;          /* written before `ready` is set */
    wf_flag_t ready;
    int idle;                    /* pool lock */
    struct wf_bthread *next;     /* pool->exited */
} wf_bthread_t;

struct wf_pool {
    pthread_mutex_t lock;
    pthread_cond_t all_exited;
    wf_list_t idle;              /* most recently idle first */
    unsigned alive;
    atomic_uint spinning;        /* idle threads spinning for a job */
    int closing;
    wf_bthread_t *exited;        /* to join and free */
    double idle_timeout;
};

#define MAX_SPINNERS 1u

/* The job that tells an idle thread to exit (shutdown). */
static wf_pool_job_t exit_job;

int wf_pool_new(wf_pool_t **out, double idle_timeout) {
    wf_pool_t *p = wf_calloc(1, sizeof *p);
    if (!p) return WEFT_ENOMEM;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->all_exited, NULL);
    wf_list_init(&p->idle);
    p->idle_timeout = idle_timeout;
    *out = p;
    return 0;
}

/* Pool lock held. */
static void thread_exits(wf_pool_t *p, wf_bthread_t *bt) {
    bt->next = p->exited;
    p->exited = bt;
    if (--p->alive == 0) pthread_cond_broadcast(&p->all_exited);
}

/* Join the threads that exited; pool lock not held. */
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

/* Idle: list ourselves, wait for a job; 0 when it is time to exit. */
static int wait_for_job(wf_bthread_t *bt) {
    wf_pool_t *p = bt->pool;
    pthread_mutex_lock(&p->lock);
    if (p->closing) {
        thread_exits(p, bt);
        pthread_mutex_unlock(&p->lock);
        return 0;
    }
    wf_flag_reset(&bt->ready);
    wf_list_push_back(&p->idle, &bt->link); /* the back is the most recent */
    bt->idle = 1;
    pthread_mutex_unlock(&p->lock);
    /* Spinning pays when jobs come back to back (the next job goes to the
     * most recently idle thread); a crowd of spinners would only take the
     * CPU from the threads and workers doing the work. */
    int got = 0;
    if (atomic_fetch_add(&p->spinning, 1) < MAX_SPINNERS) got = wf_flag_spin(&bt->ready);
    atomic_fetch_sub(&p->spinning, 1);
    if (got || wf_flag_wait(&bt->ready, wf_park_clock() + p->idle_timeout, 0))
        return bt->job != &exit_job;
    pthread_mutex_lock(&p->lock);
    int leave = bt->idle; /* nobody took us meanwhile */
    if (leave) {
        wf_list_remove(&bt->link);
        bt->idle = 0;
        thread_exits(p, bt);
    }
    pthread_mutex_unlock(&p->lock);
    if (leave) return 0;
    wf_flag_wait(&bt->ready, INFINITY, 0); /* a job is on its way */
    return bt->job != &exit_job;
}

static void *thread_main(void *arg) {
    wf_bthread_t *bt = arg;
    do bt->job->run(bt->job);
    while (wait_for_job(bt));
    return NULL;
}

int wf_pool_submit(wf_pool_t *p, wf_pool_job_t *job) {
    pthread_mutex_lock(&p->lock);
    if (!wf_list_empty(&p->idle)) {
        wf_bthread_t *bt = WF_CONTAINER_OF(p->idle.prev, wf_bthread_t, link);
        wf_list_remove(&bt->link);
        bt->idle = 0;
        pthread_mutex_unlock(&p->lock);
        bt->job = job;
        wf_flag_set(&bt->ready);
        return 0;
    }
    p->alive++;
    int reap_now = p->exited != NULL;
    pthread_mutex_unlock(&p->lock);
    if (reap_now) reap(p);
    wf_bthread_t *bt = wf_calloc(1, sizeof *bt);
    if (bt) {
        bt->pool = p;
        bt->job = job;
        wf_flag_init(&bt->ready);
        if (pthread_create(&bt->thread, NULL, thread_main, bt) == 0) return 0;
        wf_free(bt);
    }
    pthread_mutex_lock(&p->lock);
    if (--p->alive == 0) pthread_cond_broadcast(&p->all_exited);
    pthread_mutex_unlock(&p->lock);
    return WEFT_ENOMEM;
}

void wf_pool_free(wf_pool_t *p) {
    pthread_mutex_lock(&p->lock);
    p->closing = 1;
    while (!wf_list_empty(&p->idle)) {
        wf_bthread_t *bt = WF_CONTAINER_OF(p->idle.next, wf_bthread_t, link);
        wf_list_remove(&bt->link);
        bt->idle = 0;
        thread_exits(p, bt);
        bt->job = &exit_job;
        wf_flag_set(&bt->ready);
    }
    while (p->alive) pthread_cond_wait(&p->all_exited, &p->lock);
    pthread_mutex_unlock(&p->lock);
    reap(p);
    pthread_cond_destroy(&p->all_exited);
    pthread_mutex_destroy(&p->lock);
    wf_free(p);
}
