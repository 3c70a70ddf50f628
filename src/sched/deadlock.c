#include "sched/deadlock.h"

#include <math.h>
#include <stdio.h>

#include "sched/clock.h"
#include "sched/dump.h"
#include "sched/inbox.h"

#define GRACE_REAL 1.0 /* s without progress before a real-clock runtime believes it */

/* Nothing can wake a blocked task.  Read by an idle worker `w` while every
 * worker is idle: each one published `loop_alive` before registering.  w's
 * own LIFO stack counts too: the tasks a declaration's cancellation woke
 * land there while w is still registered idle. */
static int nothing_can_happen(wf_runtime_t *rt, const wf_worker_t *w) {
    if (w->lifo_count) return 0;
    unsigned asleep = (unsigned)atomic_load(&rt->n_idle);
    if (rt->has_spare && !atomic_load(&rt->spare_awake)) asleep++;
    if (asleep < rt->nworkers || atomic_load(&rt->done)) return 0;
    unsigned calling_in = atomic_load(&rt->offloads_calling_in);
    if (atomic_load(&rt->offloads) > calling_in || atomic_load(&rt->running_calls) > calling_in ||
        atomic_load(&rt->held_tokens) || atomic_load(&rt->posting) || wf_inbox_pending(rt) ||
        !wf_inject_empty(&rt->inject) || wf_runtime_next_deadline(rt) != INFINITY)
        return 0;
    for (unsigned i = 0; i < rt->nworkers; i++)
        if (atomic_load(&rt->workers[i].loop_alive) || wf_lq_len(&rt->workers[i].queue) ||
            atomic_load_explicit(&rt->workers[i].pinned, memory_order_relaxed))
            return 0;
    return 1;
}

/* Anything run since: a task switched to, time jumped. */
static unsigned long long progress(wf_runtime_t *rt) {
    unsigned long long p = atomic_load(&rt->clock_jumps);
    for (unsigned i = 0; i < rt->nworkers; i++) p += atomic_load(&rt->workers[i].runs);
    return p;
}

/* Every task still linked into the tree is blocked (a task links itself
 * before it waits): remember them to free once the workers stopped.  Out of
 * memory, the rest are left (leaked, never freed twice). */
static int collect(wf_scope_t *s, wf_scope_t *parent, unsigned depth, void *arg) {
    (void)parent;
    (void)depth;
    wf_runtime_t *rt = arg;
    if (!s->owner || s != &s->owner->root) return 1;
    if (rt->lost_n == rt->lost_cap) {
        size_t cap = rt->lost_cap ? 2 * rt->lost_cap : 64;
        wf_task_t **grown = wf_realloc(rt->lost, cap * sizeof *grown);
        if (!grown) return 1;
        rt->lost = grown;
        rt->lost_cap = cap;
    }
    rt->lost[rt->lost_n++] = s->owner;
    return 1;
}


static void give_up(wf_runtime_t *rt) {
    wf_scope_t *tops[2] = {&rt->root->root, &rt->detached_scope};
    pthread_mutex_lock(&rt->root_lock);
    for (int i = 0; i < 2; i++) {
        wf_spin_lock(&tops[i]->lock);
        if (i == 0) collect(tops[i], NULL, 0, rt);
        wf_scope_walk(tops[i], collect, NULL, rt);
        wf_spin_unlock(&tops[i]->lock);
    }
    rt->tree_lost = 1; /* the dump looks at it no more: the stacks go */
    pthread_mutex_unlock(&rt->root_lock);
    fprintf(stderr, "weft: still deadlocked after cancelling everything: %zu task(s) left blocked "
                    "(in shielded scopes?) are given up; weft_run returns WEFT_EDEADLK\n",
            rt->lost_n);
    wf_runtime_finish(rt);
}

static void declare(wf_runtime_t *rt) {
    if (rt->deadlocked) {
        rt->deadlocked = 2;
        give_up(rt);
        return;
    }
    rt->deadlocked = 1;
    fprintf(stderr, "weft: deadlock: every task is blocked and nothing can wake any of them "
                    "(no timer, I/O, blocking call or token); the tasks:\n");
    wf_dump_runtime(rt, stderr);
    /* As for any cancellation: tasks unwind, clean up, and main returns. */
    wf_scope_cancel(&rt->root->root);
    wf_scope_cancel(&rt->detached_scope);
}

double wf_deadlock_watch(wf_worker_t *w) {
    wf_runtime_t *rt = w->rt;
    wf_worker_t *watcher = atomic_load(&rt->dl_watcher);
    if (!nothing_can_happen(rt, w)) {
        if (watcher == w) atomic_store(&rt->dl_watcher, NULL);
        return INFINITY;
    }
    double grace = rt->vclock ? 0 : GRACE_REAL, now = wf_clock_real();
    unsigned long long p = progress(rt);
    if (watcher != w) { /* one watcher; the others park as long as they like */
        if (watcher || !atomic_compare_exchange_strong(&rt->dl_watcher, &watcher, w)) return INFINITY;
        rt->dl_since = now;
        rt->dl_progress = p;
    } else if (p != rt->dl_progress) {
        rt->dl_since = now;
        rt->dl_progress = p;
    }
    if (now - rt->dl_since < grace) return grace - (now - rt->dl_since);
    /* The watcher keeps its role: the tasks the cancellation wakes are on
     * its LIFO stack, unseen by the others, until it leaves idle and runs
     * them.  Another worker judging meanwhile would find them "blocked" and
     * give them up while they run (freed twice). */
    declare(rt);
    return 0;
}

void wf_deadlock_discard(wf_runtime_t *rt) {
    for (size_t i = 0; i < rt->lost_n; i++) wf_task_discard(rt->lost[i]);
    wf_free(rt->lost);
    rt->lost = NULL;
    rt->lost_n = 0;
}
