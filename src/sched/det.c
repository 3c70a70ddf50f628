#include "sched/det.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "sched/runtime.h"
#include "sched/task.h"
#include "sched/util.h"

/* A source's state. */
enum {
    DET_SOURCE_OFF,     /* not (or no longer) ordered: its thread goes on */
    DET_SOURCE_RUNNING, /* its thread is doing something the runtime cannot see */
    DET_SOURCE_READY,   /* its thread waits at a gate */
    DET_SOURCE_GRANTED, /* chosen: its thread does what it waited to do */
};

/* How long the worker waits for the call it chose before it believes that
 * the call's thread waits for another one's, and takes that one. */
#define GRANT_PATIENCE 1.0
#define GRANT_POLL 0.001

uint64_t wf_det_seed(unsigned long long config_seed) {
    if (config_seed) return config_seed;
    const char *env = getenv("WEFT_SEED");
    unsigned long long v = env ? strtoull(env, NULL, 0) : 0;
    return v ? v : 1;
}

/* splitmix64: every seed, 0 included, gives a full-period stream. */
static uint64_t next_random(wf_det_t *d) {
    uint64_t z = (d->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

int wf_det_new(wf_det_t **out, uint64_t seed) {
    wf_det_t *d = wf_calloc(1, sizeof *d);
    if (!d) return WEFT_ENOMEM;
    d->seed = d->rng = seed;
    d->hash = 0xcbf29ce484222325ull; /* FNV-1a's offset basis */
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->changed, NULL);
    *out = d;
    return 0;
}

void wf_det_free(wf_det_t *d) {
    if (!d) return;
    pthread_mutex_destroy(&d->lock);
    pthread_cond_destroy(&d->changed);
    wf_free(d->runnable);
    wf_free(d);
}

int wf_det_add(wf_det_t *d, wf_task_t *t) {
    if (d->n == d->cap) {
        size_t cap = d->cap ? 2 * d->cap : 64;
        wf_task_t **grown = wf_realloc(d->runnable, cap * sizeof *grown);
        if (!grown) return 0;
        d->runnable = grown;
        d->cap = cap;
    }
    d->runnable[d->n++] = t;
    return 1;
}

void wf_det_note(wf_det_t *d, uint64_t event) {
    for (int i = 0; i < 8; i++) { /* FNV-1a over the event's bytes */
        d->hash ^= (event >> (8 * i)) & 0xff;
        d->hash *= 0x100000001b3ull;
    }
}

/* The i-th source not paused; worker only (it alone changes the list). */
static wf_det_source_t *nth_source(wf_det_t *d, size_t i) {
    wf_det_source_t *s = d->first;
    for (;; s = s->next)
        if (!s->paused && i-- == 0) return s;
}

wf_task_t *wf_det_choose(wf_det_t *d, wf_det_source_t **source) {
    *source = NULL;
    size_t total = d->n + d->n_sources;
    if (!total) return NULL;
    size_t i = (size_t)(next_random(d) % total);
    d->choices++;
    if (i >= d->n) {
        *source = nth_source(d, i - d->n);
        wf_det_note(d, (*source)->id | 1ull << 63);
        return NULL;
    }
    wf_task_t *t = d->runnable[i];
    d->runnable[i] = d->runnable[--d->n];
    wf_det_note(d, t->det_id);
    return t;
}

/* ---------------------------------------------------------------- blocking calls */

static void unlink_source(wf_det_t *d, wf_det_source_t *s) {
    if (s->prev) s->prev->next = s->next;
    else d->first = s->next;
    if (s->next) s->next->prev = s->prev;
    else d->last = s->prev;
    s->next = s->prev = NULL;
    if (!s->paused) d->n_sources--;
}

void wf_det_source_add(wf_det_t *d, wf_det_source_t *s) {
    pthread_mutex_lock(&d->lock);
    *s = (wf_det_source_t){.id = ++d->next_id, .state = DET_SOURCE_RUNNING, .prev = d->last};
    if (d->last) d->last->next = s;
    else d->first = s;
    d->last = s;
    d->n_sources++;
    pthread_mutex_unlock(&d->lock);
}

void wf_det_source_remove(wf_det_t *d, wf_det_source_t *s) {
    pthread_mutex_lock(&d->lock);
    if (s->state != DET_SOURCE_OFF) {
        if (s->state != DET_SOURCE_GRANTED || !s->last) unlink_source(d, s);
        s->state = DET_SOURCE_OFF;
        pthread_cond_broadcast(&d->changed); /* a thread at its gate goes on */
    }
    pthread_mutex_unlock(&d->lock);
}

void wf_det_source_pause(wf_det_t *d, wf_det_source_t *s, int paused) {
    pthread_mutex_lock(&d->lock);
    if (s->state != DET_SOURCE_OFF && s->paused != paused) {
        s->paused = paused;
        if (paused) d->n_sources--;
        else d->n_sources++;
    }
    pthread_mutex_unlock(&d->lock);
}

static double real_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Another call whose thread waits at its gate. */
static wf_det_source_t *other_ready(wf_det_t *d, wf_det_source_t *chosen) {
    for (wf_det_source_t *s = d->first; s; s = s->next)
        if (s != chosen && s->state == DET_SOURCE_READY) return s;
    return NULL;
}

void wf_det_grant(wf_det_t *d, wf_det_source_t *s, void (*poll)(void *), void *arg) {
    double since = real_now();
    pthread_mutex_lock(&d->lock);
    while (s->state != DET_SOURCE_READY) {
        wf_det_source_t *other;
        if (real_now() - since > GRANT_PATIENCE && (other = other_ready(d, s))) {
            if (!d->warned++)
                fprintf(stderr, "weft: WEFT_CONFIG_DETERMINISTIC: a blocking call waited for another "
                                "one's thread; from here this run's order depends on timing\n");
            s = other;
            break;
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += (long)(GRANT_POLL * 1e9);
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&d->changed, &d->lock, &until);
        pthread_mutex_unlock(&d->lock);
        poll(arg); /* calls from outside and I/O, which the thread may wait for */
        pthread_mutex_lock(&d->lock);
    }
    if (s->last) unlink_source(d, s);
    s->state = DET_SOURCE_GRANTED;
    d->passed = 0;
    pthread_cond_broadcast(&d->changed);
    while (!d->passed) pthread_cond_wait(&d->changed, &d->lock);
    pthread_mutex_unlock(&d->lock);
}

int wf_det_gate(wf_det_t *d, wf_det_source_t *s, int last) {
    if (!d) return 0;
    pthread_mutex_lock(&d->lock);
    int chosen = 0;
    if (s->state != DET_SOURCE_OFF) {
        s->state = DET_SOURCE_READY;
        s->last = last;
        pthread_cond_broadcast(&d->changed);
        while (s->state == DET_SOURCE_READY) pthread_cond_wait(&d->changed, &d->lock);
        chosen = s->state == DET_SOURCE_GRANTED;
        if (chosen && last) s->state = DET_SOURCE_OFF; /* any later gate lets it by */
    }
    pthread_mutex_unlock(&d->lock);
    return chosen;
}

void wf_det_passed(wf_det_t *d) {
    pthread_mutex_lock(&d->lock);
    d->passed = 1;
    pthread_cond_broadcast(&d->changed);
    pthread_mutex_unlock(&d->lock);
}

unsigned long long weft_schedule_hash(void) {
    wf_task_t *t = wf_current_task();
    return t && t->rt->det ? t->rt->det->hash : 0;
}
