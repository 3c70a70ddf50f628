/*
 * The blocking pool: a runtime's threads for blocking calls, shared by every
 * limiter (limiters bound how many work at once; the pool only supplies
 * them).
 *
 * Jobs wait in one FIFO queue.  A thread that finishes a job takes the next
 * one at once, so while calls are short a few threads serve them back to
 * back without ever sleeping.  A new job wakes (or starts) a thread unless
 * one will get to it soon anyway: an idle thread spinning for work (or
 * about to take the queue after spinning), or threads that finished a job
 * within the last few microseconds (they are cycling through short calls).
 * That bet can lose, when the thread that took a short call next takes one
 * that blocks for long; a monitor thread then sees the queue stop moving
 * for 200 us and wakes or starts threads for the jobs left in it (as Go's
 * sysmon retakes processors from blocked system calls).
 * Idle threads sleep most recently idle first and exit after the idle
 * timeout; shutdown waits for the busy ones and joins all.  Each thread
 * names itself weft-blocking-N (N: the lowest index free when it started)
 * and runs the config's on_thread_start before its first job and
 * on_thread_stop when it exits.  Threads on their way to the queue count as
 * the lookers of as many queued jobs: one still starting, a sleeper woken
 * and not yet run, a spinner a job was counted on, and one whose job has
 * woken its task (wf_pool_returning); neither a submit nor the monitor wakes
 * or starts another for a job one of them will take, so the threads alive
 * follow the calls in flight instead of doubling them.
 */
#ifndef WEFT_THREAD_POOL_H
#define WEFT_THREAD_POOL_H

typedef struct wf_pool wf_pool_t;
struct weft_config_t;

typedef struct wf_pool_job {
    void (*run)(struct wf_pool_job *job); /* on the blocking thread */
    struct wf_pool_job *next;              /* the pool's queue */
} wf_pool_job_t;

/* The config's thread_idle_timeout and thread hooks (resolved). */
int wf_pool_new(wf_pool_t **out, const struct weft_config_t *config);
/* Queue `job`: 0, or WEFT_ENOMEM when it needed a new thread and none
 * could start (the job is then not queued). */
int wf_pool_submit(wf_pool_t *p, wf_pool_job_t *job);
/* In a job's run, just before it wakes the task waiting for it: from here
 * on the thread counts as on its way back to the queue, so the task's next
 * submit neither wakes nor starts a thread for it (the thread takes it a few
 * instructions later).  Call it only where nothing slow follows. */
void wf_pool_returning(void);
/* Take back a job no thread has taken yet: 1 if it was, 0 if it runs. */
int wf_pool_cancel(wf_pool_t *p, wf_pool_job_t *job);
/* Threads started and not exited, and those of them running a job. */
void wf_pool_counts(wf_pool_t *p, unsigned *alive, unsigned *busy);
/* Wait for every thread to finish its job and exit, then free the pool. */
void wf_pool_free(wf_pool_t *p);

#endif
