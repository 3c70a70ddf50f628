/*
 * The blocking pool: a runtime's threads for blocking calls, shared by every
 * limiter (limiters bound how many work at once; the pool only supplies
 * them).
 *
 * A job goes straight to a thread: the most recently idle one if any (its
 * caches are warm and it may still be spinning for work, so back-to-back
 * calls never sleep), else a new thread.  There is no queue: the limiter in
 * front already decided that this job may run now.  An idle thread exits
 * after the idle timeout; shutdown waits for the busy ones and joins all.
 */
#ifndef WEFT_THREAD_POOL_H
#define WEFT_THREAD_POOL_H

typedef struct wf_pool wf_pool_t;

typedef struct wf_pool_job {
    void (*run)(struct wf_pool_job *job); /* on the blocking thread */
} wf_pool_job_t;

int wf_pool_new(wf_pool_t **out, double idle_timeout);
/* Run `job` on a thread now: 0, or WEFT_ENOMEM when no thread could start. */
int wf_pool_submit(wf_pool_t *p, wf_pool_job_t *job);
/* Wait for every thread to finish its job and exit, then free the pool. */
void wf_pool_free(wf_pool_t *p);

#endif
