#include "sched/monitor.h"

#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sched/clock.h"
#include "sched/dump.h"
#include "sched/thread_name.h"

#define NAME_MAX_SHOWN 64
#define DUMP_ONLY_PERIOD 0.05 /* s: how soon SIGQUIT is served without a detector */
#define CYCLE_PERIOD 1.0      /* s between looks for tasks deadlocked on each other */

typedef struct seen {
    unsigned long runs;   /* the worker's count when we saw this task arrive */
    double since;         /* real time we first saw it */
    int warned;
    char name[NAME_MAX_SHOWN];
} seen_t;

typedef struct wf_monitor {
    wf_runtime_t *rt;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* CLOCK_MONOTONIC */
    int stop;
    double threshold, period;
    seen_t *seen;        /* per worker, monitor thread only */
    double next_cycle_look;             /* monitor thread only */
    unsigned long long cycles_reported; /* a hash of the cycles last reported */
} wf_monitor_t;

static atomic_int dump_requested;

int wf_debug_env(void) {
    const char *v = getenv("WEFT_DEBUG");
    return v && *v && strcmp(v, "0") != 0;
}

/* ---------------------------------------------------------------- SIGQUIT */

static void on_sigquit(int sig) {
    (void)sig;
    atomic_store(&dump_requested, 1);
}

/* Only when nobody else handles SIGQUIT: a program's own handler wins. */
static void install_sigquit(void) {
    struct sigaction old, sa;
    if (sigaction(SIGQUIT, NULL, &old) != 0 || old.sa_handler != SIG_DFL) return;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigquit;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGQUIT, &sa, NULL);
}

/* ---------------------------------------------------------------- the detector */

/* Is worker i held by one task past the threshold? */
static int look_at(wf_monitor_t *m, unsigned i, double now) {
    wf_worker_t *w = &m->rt->workers[i];
    seen_t *s = &m->seen[i];
    unsigned long runs = atomic_load_explicit(&w->runs, memory_order_acquire);
    char name[sizeof s->name];
    int running = wf_worker_running_name(w, name, sizeof name);
    if (running && runs == s->runs) {
        if (!s->warned && now - s->since >= m->threshold) {
            s->warned = 1;
            atomic_fetch_add_explicit(&m->rt->blocked_warnings, 1, memory_order_relaxed);
            fprintf(stderr,
                    "weft: task '%s' has held worker %u for %.3f s without reaching a checkpoint "
                    "(a blocking call or a long computation? see weft_to_thread_run_sync)\n",
                    s->name, i, now - s->since);
        }
        return s->warned;
    }
    if (s->warned)
        fprintf(stderr, "weft: task '%s' let worker %u go after %.3f s\n", s->name, i, now - s->since);
    s->runs = runs;
    /* Read after `runs`, not `now` (read before it): the run it counts began
     * before this, so a hold is never overstated, also when the monitor
     * itself was kept off its CPU between the two. */
    s->since = wf_clock_real();
    s->warned = 0;
    memcpy(s->name, running ? name : "", running ? sizeof s->name : 1);
    return 0;
}

/* Go's answer to a blocked system call: another thread takes over the
 * work, for as long as a worker is held. */
static void detect(wf_monitor_t *m) {
    wf_runtime_t *rt = m->rt;
    double now = wf_clock_real();
    int held = 0;
    for (unsigned i = 0; i < rt->nworkers; i++)
        held |= look_at(m, i, now) && !rt->workers[i].spare;
    if (rt->has_spare && held != atomic_load(&rt->spare_wanted)) wf_runtime_want_spare(rt, held);
}

/* Once in a while, and only while the detector runs: a cycle of tasks each
 * waiting for what the next holds is a deadlock of theirs, whatever the
 * rest of the program does.  Each set of cycles is reported once. */
static void look_for_cycles(wf_monitor_t *m) {
    double now = wf_clock_real();
    if (now < m->next_cycle_look) return;
    m->next_cycle_look = now + CYCLE_PERIOD;
    char *text;
    int found = wf_dump_cycles(m->rt, &text);
    unsigned long long h = 0xcbf29ce484222325ull;
    for (const char *p = text; found && *p; p++) h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    if (found && h != m->cycles_reported) fprintf(stderr, "weft: tasks deadlocked on each other:\n%s", text);
    m->cycles_reported = found ? h : 0;
    free(text);
}

static void *monitor_main(void *arg) {
    wf_monitor_t *m = arg;
    wf_thread_name_set("weft-monitor");
    pthread_mutex_lock(&m->lock);
    while (!m->stop) {
        struct timespec ts = wf_clock_deadline(m->period);
        pthread_cond_timedwait(&m->cond, &m->lock, &ts);
        int last = m->stop; /* one more look: a warned task has let go by now */
        pthread_mutex_unlock(&m->lock);
        if (atomic_exchange(&dump_requested, 0)) weft_dump_tasks(stderr);
        if (m->threshold > 0) {
            detect(m);
            look_for_cycles(m);
        }
        pthread_mutex_lock(&m->lock);
        if (last) break;
    }
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

/* ---------------------------------------------------------------- start / stop */

int wf_monitor_start(wf_runtime_t *rt) {
    double threshold = rt->config.blocking_threshold;
    int debug = wf_debug_env();
    if (threshold <= 0 && !debug) return 0;
    if (debug) {
        static pthread_once_t once = PTHREAD_ONCE_INIT;
        pthread_once(&once, install_sigquit);
    }
    wf_monitor_t *m = wf_calloc(1, sizeof *m);
    if (!m) return WEFT_ENOMEM;
    m->rt = rt;
    m->threshold = threshold;
    m->period = threshold > 0 ? fmin(fmax(threshold / 4, 1e-3), 25e-3) : DUMP_ONLY_PERIOD;
    m->seen = wf_calloc(rt->nworkers, sizeof *m->seen);
    /* No count yet: a worker caught between publishing its first task's
     * name and its count (0) is not held since time 0. */
    for (unsigned i = 0; m->seen && i < rt->nworkers; i++) m->seen[i].runs = ULONG_MAX;
    wf_cond_init_monotonic(&m->cond);
    pthread_mutex_init(&m->lock, NULL);
    if (!m->seen || pthread_create(&m->thread, NULL, monitor_main, m) != 0) {
        pthread_cond_destroy(&m->cond);
        pthread_mutex_destroy(&m->lock);
        wf_free(m->seen);
        wf_free(m);
        return WEFT_ENOMEM;
    }
    rt->monitor = m;
    return 0;
}

void wf_monitor_stop(wf_runtime_t *rt) {
    wf_monitor_t *m = rt->monitor;
    if (!m) return;
    pthread_mutex_lock(&m->lock);
    m->stop = 1;
    pthread_cond_signal(&m->cond);
    pthread_mutex_unlock(&m->lock);
    pthread_join(m->thread, NULL);
    pthread_cond_destroy(&m->cond);
    pthread_mutex_destroy(&m->lock);
    wf_free(m->seen);
    wf_free(m);
    rt->monitor = NULL;
}
