/*
 * Worker threads: find a task, run it until it switches back, repeat; park in
 * the worker's libuv loop when there is nothing to do.
 *
 * Finding work, in order: every 61st tick the injection queue and then the
 * oldest task of the ring first (so neither can starve), and the timers and
 * I/O; the LIFO stack (newest first); the ring (yielded and shared tasks,
 * oldest first); the injection queue; then stealing half of a random victim's
 * ring.  At most half the workers search at once.
 *
 * Waking (Tokio's protocol): whoever makes work runnable wakes one idle
 * worker only when no worker is searching; a searcher that finds work and was
 * the last searcher wakes the next one.  Going idle, a worker registers in the
 * idle list first and checks every queue after, so work pushed meanwhile is
 * either seen by it or seen by the pusher as an idle worker to wake.
 */
#define _GNU_SOURCE /* sched_getcpu */
#include <math.h>
#include <sched.h>
#include <stdio.h>

#include "sched/clock.h"
#include "sched/deadlock.h"
#include "sched/det.h"
#include "sched/inbox.h"
#include "sched/spinwait.h"
#include "sched/vclock.h"

#define GLOBAL_QUEUE_INTERVAL 61
#define SPIN_ROUNDS 8
#define OFFLOAD_SPIN_SECONDS 50e-6

static __thread wf_worker_t *tls_worker;

__attribute__((noinline)) wf_worker_t *wf_current_worker(void) {
    wf_worker_t *w = tls_worker;
    __asm__ __volatile__("" ::: "memory");
    return w;
}

/* ---------------------------------------------------------------- waking */

void wf_runtime_notify(wf_runtime_t *rt) {
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&rt->n_searching, memory_order_relaxed) != 0) return;
    if (atomic_load_explicit(&rt->n_idle, memory_order_relaxed) == 0) return;
    wf_worker_t *v = NULL;
    pthread_mutex_lock(&rt->idle_lock);
    if (rt->n_idle_list && atomic_load_explicit(&rt->n_searching, memory_order_relaxed) == 0) {
        v = &rt->workers[rt->idle_list[--rt->n_idle_list]];
        v->idle = 0;
        v->notified = 1; /* it wakes as a searcher, counted here so others don't */
        atomic_fetch_sub(&rt->n_idle, 1);
        atomic_fetch_add(&rt->n_searching, 1);
    }
    pthread_mutex_unlock(&rt->idle_lock);
    if (v) uv_async_send(&v->wakeup);
}

void wf_runtime_finish(wf_runtime_t *rt) {
    atomic_store(&rt->done, 1);
    wf_runtime_wake_all(rt);
    if (rt->has_spare) wf_runtime_want_spare(rt, 0); /* it sees `done` */
}

void wf_runtime_wake_all(wf_runtime_t *rt) {
    for (unsigned i = 0; i < rt->nworkers; i++) uv_async_send(&rt->workers[i].wakeup);
}

/* ---------------------------------------------------------------- the LIFO stack */

static void lifo_push(wf_worker_t *w, wf_task_t *t) {
    if (w->lifo_count == WF_LIFO_CAP) { /* full: the oldest half becomes stealable */
        for (unsigned i = 0; i < WF_LIFO_CAP / 2; i++) {
            wf_lq_push(&w->queue, w->lifo[w->lifo_bottom], &w->rt->inject);
            w->lifo_bottom = (w->lifo_bottom + 1) % WF_LIFO_CAP;
        }
        w->lifo_count -= WF_LIFO_CAP / 2;
    }
    w->lifo[(w->lifo_bottom + w->lifo_count++) % WF_LIFO_CAP] = t;
}

static wf_task_t *lifo_pop(wf_worker_t *w) {
    if (!w->lifo_count) return NULL;
    return w->lifo[(w->lifo_bottom + --w->lifo_count) % WF_LIFO_CAP];
}

/* Tasks other workers moved here to use this worker's loop. */
static int pinned_pending(const wf_worker_t *w) {
    return atomic_load_explicit(&w->pinned, memory_order_relaxed) != NULL;
}

/* An idle worker may help: hand it the oldest task of the LIFO stack, which in a
 * fork-join tree is the root of the largest pending subtree. */
static void share_lifo(wf_worker_t *w) {
    wf_runtime_t *rt = w->rt;
    if (w->lifo_count < 2 || !atomic_load_explicit(&rt->n_idle, memory_order_relaxed) ||
        atomic_load_explicit(&rt->n_searching, memory_order_relaxed))
        return;
    wf_lq_push(&w->queue, w->lifo[w->lifo_bottom], &rt->inject);
    w->lifo_bottom = (w->lifo_bottom + 1) % WF_LIFO_CAP;
    w->lifo_count--;
    wf_runtime_notify(rt);
}

void wf_schedule(wf_task_t *t) {
    wf_runtime_t *rt = t->rt;
    wf_worker_t *w = wf_current_worker();
    wf_vclock_count(rt, 1);
    if (w && w->rt == rt) {
        lifo_push(w, t);
        /* Woken by this worker's loop: the task will use the loop again,
         * and another worker would only have to send it back. */
        if (!w->polling) share_lifo(w);
    } else {
        /* From outside the runtime: once t is queued it may run and the
         * runtime end; keep weft_run from freeing it until our last touch. */
        atomic_fetch_add_explicit(&rt->posting, 1, memory_order_relaxed);
        wf_inject_push(&rt->inject, t);
        wf_runtime_notify(rt);
        atomic_fetch_sub_explicit(&rt->posting, 1, memory_order_release);
    }
}

static int work_visible(wf_worker_t *w);

/* The last searcher found work: anything pushed while it searched skipped
 * waking a worker (there was a searcher), so if work is still queued, wake
 * one now.  With nothing queued nobody is woken: a task handed back by a
 * blocking thread is not a sign of more work to come. */
static void stop_searching(wf_worker_t *w) {
    if (!w->searching) return;
    w->searching = 0;
    if (atomic_fetch_sub(&w->rt->n_searching, 1) != 1) return;
    atomic_thread_fence(memory_order_seq_cst); /* pairs with wf_runtime_notify's */
    if (work_visible(w)) wf_runtime_notify(w->rt);
}

/* ---------------------------------------------------------------- timers and I/O */

/* Fire the due timers of our heap, or with `all` of every heap: an idle
 * worker fires them all, since their callbacks are safe on any thread (see
 * timer.h) and a heap's owner may be stuck in a task.  Under a virtual clock,
 * firing excludes jumping (vclock.h). */
static unsigned fire_due(wf_worker_t *w, int all) {
    wf_runtime_t *rt = w->rt;
    if (WF_UNLIKELY(rt->vclock)) pthread_mutex_lock(&rt->vc_lock);
    w->now = wf_clock_now();
    unsigned fired = wf_timer_heap_fire(&w->timers, w->now);
    for (unsigned i = 0; all && i < rt->nworkers; i++)
        if (i != w->index) fired += wf_timer_heap_fire(&rt->workers[i].timers, w->now);
    if (WF_UNLIKELY(rt->vclock)) pthread_mutex_unlock(&rt->vc_lock);
    return fired;
}

static unsigned fire_timers(wf_worker_t *w) { return fire_due(w, 0); }
static unsigned fire_all_timers(wf_worker_t *w) { return fire_due(w, 1); }

/* Virtual clock: nothing but a timer can wake anyone, so its time is now. */
static int jump_clock(wf_worker_t *w) {
    wf_runtime_t *rt = w->rt;
    pthread_mutex_lock(&rt->vc_lock);
    int jumped = wf_vclock_try_jump(rt);
    if (jumped && rt->det) wf_det_note(rt->det, atomic_load(&rt->clock_jumps)); /* a choice too */
    pthread_mutex_unlock(&rt->vc_lock);
    if (jumped) fire_all_timers(w);
    return jumped;
}

double wf_runtime_next_deadline(wf_runtime_t *rt) {
    double next = INFINITY;
    for (unsigned i = 0; i < rt->nworkers; i++) {
        double d = wf_timer_heap_next(&rt->workers[i].timers);
        if (d < next) next = d;
    }
    return next;
}

int wf_worker_arm_timer(wf_worker_t *w, wf_timer_t *timer, double deadline) {
    int rc = wf_timer_add(&w->timers, timer, deadline);
    wf_runtime_t *rt = w->rt;
    if (rc) return rc;
    /* Pairs with a parking worker's NAN store before it reads the heaps:
     * either it sees this timer or we see it is not covering it. */
    atomic_thread_fence(memory_order_seq_cst);
    if (!atomic_load_explicit(&rt->n_idle, memory_order_relaxed)) return 0;
    for (unsigned i = 0; i < rt->nworkers; i++)
        if (atomic_load_explicit(&rt->workers[i].wake_at, memory_order_relaxed) <= deadline)
            return 0; /* someone parked will be up in time and fire it */
    wf_runtime_notify(rt);
    return 0;
}

static void poll_loop(wf_worker_t *w, uv_run_mode mode) {
    w->polling = 1;
    uv_run(&w->loop, mode);
    w->polling = 0;
    /* Where it goes on (it may wake on another CPU), for placing connections
     * near their packets (src/io/place.h). */
    atomic_store_explicit(&w->cpu, sched_getcpu(), memory_order_relaxed);
}

/* The worker's own handles are unreferenced, so the loop is alive only while
 * it has I/O of its users: without any, polling it would be a wasted system
 * call every 61 tasks. */
static void maintenance(wf_worker_t *w) {
    fire_timers(w);
    if (uv_loop_alive(&w->loop)) poll_loop(w, UV_RUN_NOWAIT);
}

/* ---------------------------------------------------------------- finding work */

static uint64_t next_random(wf_worker_t *w) {
    uint64_t x = w->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return w->rng = x;
}

static wf_task_t *steal(wf_worker_t *w) {
    wf_runtime_t *rt = w->rt;
    unsigned n = rt->nworkers;
    if (!w->searching) {
        if (2 * atomic_load(&rt->n_searching) >= n) return NULL;
        w->searching = 1;
        atomic_fetch_add(&rt->n_searching, 1);
    }
    unsigned start = (unsigned)(next_random(w) % n);
    for (unsigned i = 0; i < n; i++) {
        unsigned v = (start + i) % n;
        if (v == w->index) continue;
        wf_task_t *t = wf_lq_steal_into(&rt->workers[v].queue, &w->queue);
        if (t) {
            wf_count(&w->steals);
            return t;
        }
    }
    return wf_inject_pop(&rt->inject);
}

/* Something for the spinning searcher: a task posted from outside, a call
 * or a moved task for it, or no call left to wait for. */
static int offload_answered(const void *arg) {
    const wf_worker_t *w = arg;
    wf_runtime_t *rt = w->rt;
    return !atomic_load_explicit(&rt->offloads, memory_order_relaxed) || !wf_inject_empty(&rt->inject) ||
           wf_inbox_pending(rt) || pinned_pending(w);
}

/* Tasks wait for blocking threads that usually hand them back within
 * microseconds: the searcher waits for them a little, so that their wake-up
 * costs neither a system call nor a sleep in the kernel (Go's spinning M);
 * less when such waits have lately bought nothing (sched/spinwait.h). */
static wf_task_t *await_offloads(wf_worker_t *w) {
    wf_runtime_t *rt = w->rt;
    if (!w->searching || !atomic_load_explicit(&rt->offloads, memory_order_relaxed) ||
        atomic_exchange(&rt->offload_spinner, 1))
        return NULL; /* one spinner is enough */
    wf_task_t *t = NULL;
    if (wf_spinwait(&rt->offload_spins, OFFLOAD_SPIN_SECONDS, offload_answered, w) &&
        !wf_inject_empty(&rt->inject))
        t = wf_inject_pop(&rt->inject);
    atomic_store(&rt->offload_spinner, 0);
    return t;
}

/* ---------------------------------------------------------------- moving tasks between workers */

/* Take the tasks moved to us onto the LIFO stack (oldest runs last: they
 * all wait for the same loop, order among them does not matter). */
static void take_pinned(wf_worker_t *w) {
    wf_task_t *t = atomic_exchange_explicit(&w->pinned, NULL, memory_order_acquire);
    while (t) {
        wf_task_t *next = t->queue_next;
        lifo_push(w, t);
        t = next;
    }
}

void wf_task_move_to(wf_task_t *t, wf_worker_t *to) {
    /* A loop: on its way the task sits on `to`'s LIFO stack, from which an
     * idle worker may be handed it (share_lifo). */
    while (wf_current_worker() != to) {
        t->move_to = to;
        wf_task_switch_out(t, WF_SWITCH_MOVE);
    }
}

/* After the task switched away: hand it to its new worker and wake that one
 * if it is idle (it registers idle before it looks at `pinned` again). */
static void hand_over(wf_task_t *t) {
    wf_worker_t *to = t->move_to;
    wf_runtime_t *rt = to->rt;
    t->queue_next = atomic_load_explicit(&to->pinned, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&to->pinned, &t->queue_next, t,
                                                  memory_order_release, memory_order_relaxed)) {
    }
    atomic_thread_fence(memory_order_seq_cst);
    pthread_mutex_lock(&rt->idle_lock);
    int idle = to->idle;
    pthread_mutex_unlock(&rt->idle_lock);
    if (idle) uv_async_send(&to->wakeup);
}

void wf_schedule_on(wf_task_t *t, wf_worker_t *to) {
    if (to == wf_current_worker()) {
        wf_schedule(t);
        return;
    }
    wf_vclock_count(t->rt, 1);
    t->move_to = to;
    hand_over(t);
}

/* ---------------------------------------------------------------- the running task's name */

/* A Dekker pair with wf_worker_forget_name (both sequentially consistent):
 * either the reader sees the name gone, or the forgetter sees the reader and
 * waits for it. */
int wf_worker_running_name(wf_worker_t *w, char *buf, size_t len) {
    atomic_fetch_add(&w->name_readers, 1);
    const char *name = atomic_load(&w->running_name);
    if (name) snprintf(buf, len, "%s", name);
    atomic_fetch_sub(&w->name_readers, 1);
    return name != NULL;
}

void wf_worker_forget_name(wf_worker_t *w) {
    atomic_store(&w->running_name, NULL);
    while (atomic_load(&w->name_readers)) wf_cpu_relax();
}

static wf_task_t *local_task(wf_worker_t *w) {
    if (WF_UNLIKELY(pinned_pending(w))) take_pinned(w);
    wf_task_t *t = lifo_pop(w);
    return t ? t : wf_lq_pop(&w->queue);
}

/* A deterministic runtime's choice (det.h): everything runnable, gathered
 * from the worker's queues in a fixed order, and every blocking call whose
 * thread may do something next; then one of them at random.  A call chosen
 * does its thing (its task woken, a call posted) while the worker waits,
 * and the choice starts over.  I/O is polled every GLOBAL_QUEUE_INTERVAL
 * choices, as the normal path does, and stays outside the promise. */
static int det_gather(wf_worker_t *w, wf_task_t *t) {
    if (wf_det_add(w->rt->det, t)) return 1;
    lifo_push(w, t); /* no room: it waits for the next choice */
    return 0;
}

/* While a chosen call's thread is on its way to the gate. */
static void det_poll(void *arg) {
    wf_worker_t *w = arg;
    if (wf_inbox_pending(w->rt)) wf_inbox_drain(w);
    if (uv_loop_alive(&w->loop)) poll_loop(w, UV_RUN_NOWAIT);
}

static wf_task_t *det_next(wf_worker_t *w) {
    wf_runtime_t *rt = w->rt;
    wf_task_t *t;
    wf_det_source_t *call;
    if (++w->tick % GLOBAL_QUEUE_INTERVAL == 0 && uv_loop_alive(&w->loop)) poll_loop(w, UV_RUN_NOWAIT);
    do {
        if (WF_UNLIKELY(wf_inbox_pending(rt))) wf_inbox_drain(w);
        fire_timers(w);
        if (pinned_pending(w)) take_pinned(w);
        int room = 1;
        while (room && (t = lifo_pop(w))) room = det_gather(w, t);
        while (room && (t = wf_lq_pop(&w->queue))) room = det_gather(w, t);
        while (room && (t = wf_inject_pop(&rt->inject))) room = det_gather(w, t);
        t = wf_det_choose(rt->det, &call);
        if (call) wf_det_grant(rt->det, call, det_poll, w);
    } while (call);
    return t;
}

static wf_task_t *next_task(wf_worker_t *w) {
    wf_runtime_t *rt = w->rt;
    wf_task_t *t;
    if (WF_UNLIKELY(rt->det)) return det_next(w);
    if (++w->tick % GLOBAL_QUEUE_INTERVAL == 0) {
        /* Fairness: work from outside, then the oldest local task, before
         * the newest. */
        maintenance(w);
        if ((t = wf_inject_pop(&rt->inject)) || (t = wf_lq_pop(&w->queue))) return t;
    }
    if (WF_UNLIKELY(wf_inbox_pending(rt))) wf_inbox_drain(w);
    if ((t = local_task(w))) return t;
    if ((t = wf_inject_pop(&rt->inject))) return t;
    if (fire_timers(w) && (t = local_task(w))) return t;
    for (int round = 0; round < SPIN_ROUNDS; round++) {
        if ((t = steal(w))) return t;
        if (!w->searching) break;
        wf_cpu_relax();
    }
    return await_offloads(w);
}

static int work_visible(wf_worker_t *w) {
    wf_runtime_t *rt = w->rt;
    if (w->lifo_count || wf_lq_len(&w->queue) || !wf_inject_empty(&rt->inject) ||
        wf_inbox_pending(rt) || pinned_pending(w))
        return 1;
    for (unsigned i = 0; i < rt->nworkers; i++)
        if (wf_lq_len(&rt->workers[i].queue)) return 1;
    return 0;
}

/* ---------------------------------------------------------------- running */

/* A task has ended (or failed to start): count it, free it. */
static void retire(wf_worker_t *w, wf_task_t *t) {
    wf_count(&w->exited);
    wf_vclock_count(w->rt, -1);
    wf_task_free(t);
}

static void run_task(wf_worker_t *w, wf_task_t *t) {
    stop_searching(w);
    if (WF_UNLIKELY(!t->stack.lo) && wf_task_prepare(t) != 0) {
        /* No stack for its first run: the task fails before it starts, and
         * its group reports WEFT_ENOMEM under its name. */
        wf_task_complete(t, WEFT_ENOMEM);
        retire(w, t);
        return;
    }
    w->current = t;
    atomic_store_explicit(&w->running, t, memory_order_relaxed);
    atomic_store_explicit(&w->running_name, t->name, memory_order_release); /* readers copy it */
    atomic_store_explicit(&w->runs, atomic_load_explicit(&w->runs, memory_order_relaxed) + 1,
                          memory_order_release);
    wf_fiber_switch(&w->sched_fiber, &t->fiber);
    atomic_store_explicit(&w->running, NULL, memory_order_relaxed);
    atomic_store_explicit(&w->running_name, NULL, memory_order_relaxed);
    w->current = NULL;
    switch (t->reason) {
    case WF_SWITCH_YIELD:
        wf_lq_push(&w->queue, t, &w->rt->inject);
        break;
    case WF_SWITCH_PARK: {
        int s = WF_RUNNING;
        if (!atomic_compare_exchange_strong(&t->park, &s, WF_PARKED)) {
            /* Woken before it was off its stack: run it again. */
            atomic_store(&t->park, WF_RUNNING);
            lifo_push(w, t);
        } else {
            wf_count(&w->task_parks);
            wf_vclock_count(w->rt, -1); /* t may run elsewhere already: keep w->rt */
        }
        break;
    }
    case WF_SWITCH_MOVE:
        hand_over(t);
        break;
    case WF_SWITCH_EXIT:
        retire(w, t);
        break;
    }
}

/* ---------------------------------------------------------------- parking */

static void leave_idle(wf_worker_t *w) {
    wf_runtime_t *rt = w->rt;
    pthread_mutex_lock(&rt->idle_lock);
    if (w->idle) {
        for (unsigned i = 0; i < rt->n_idle_list; i++)
            if (rt->idle_list[i] == w->index) {
                rt->idle_list[i] = rt->idle_list[--rt->n_idle_list];
                break;
            }
        w->idle = 0;
        atomic_fetch_sub(&rt->n_idle, 1);
    }
    if (w->notified) { /* someone counted us as a searcher */
        w->notified = 0;
        w->searching = 1;
    }
    pthread_mutex_unlock(&rt->idle_lock);
}

static void on_wakeup(uv_async_t *h) { (void)h; }

/* uv_run(UV_RUN_ONCE) runs due timers before it computes the poll timeout
 * (libuv 1.44): a park timer that expires before the loop gets there would
 * fire early and leave the poll with no timeout at all.  Stopping the loop
 * makes that poll return at once. */
static void on_park_timer(uv_timer_t *h) { uv_stop(h->loop); }

/* Park until woken, the earliest timer, or `at_most` seconds of real time. */
static void park_once(wf_worker_t *w, double at_most) {
    /* NAN while looking: a timer armed meanwhile finds no one covering it and
     * wakes someone (see wf_worker_arm_timer). */
    atomic_store(&w->wake_at, NAN);
    double next = wf_runtime_next_deadline(w->rt);
    if (next <= w->now) return;
    atomic_store(&w->wake_at, next);
    double wait = next - w->now < at_most ? next - w->now : at_most;
    if (wait < INFINITY) {
        double ms = ceil(wait * 1e3);
        uv_update_time(&w->loop);
        uv_timer_start(&w->park_timer, on_park_timer, ms > 1e9 ? (uint64_t)1e9 : (uint64_t)ms, 0);
    }
    uv_ref((uv_handle_t *)&w->wakeup); /* keeps uv_run(ONCE) blocking until woken */
    poll_loop(w, UV_RUN_ONCE);
    uv_unref((uv_handle_t *)&w->wakeup);
    uv_timer_stop(&w->park_timer);
    atomic_store(&w->wake_at, NAN);
}

static void go_idle(wf_worker_t *w) {
    wf_runtime_t *rt = w->rt;
    /* Before registering: a deadlock watcher reads it once all are idle. */
    atomic_store(&w->loop_alive, uv_loop_alive(&w->loop));
    pthread_mutex_lock(&rt->idle_lock);
    rt->idle_list[rt->n_idle_list++] = w->index;
    w->idle = 1;
    atomic_fetch_add(&rt->n_idle, 1);
    pthread_mutex_unlock(&rt->idle_lock);
    if (w->searching) {
        w->searching = 0;
        atomic_fetch_sub(&rt->n_searching, 1);
    }
    atomic_thread_fence(memory_order_seq_cst);
    while (!work_visible(w) && !atomic_load(&rt->done)) {
        pthread_mutex_lock(&rt->idle_lock);
        int woken = !w->idle;
        pthread_mutex_unlock(&rt->idle_lock);
        if (woken) break;
        if (WF_UNLIKELY(rt->vclock) && jump_clock(w)) continue;
        double at_most = wf_deadlock_watch(w);
        if (at_most == 0) continue; /* declared: the cancellation made work */
        wf_count(&w->parks);
        park_once(w, at_most);
        fire_all_timers(w);
    }
    leave_idle(w);
}

/* ---------------------------------------------------------------- the spare worker */

void wf_runtime_want_spare(wf_runtime_t *rt, int wanted) {
    pthread_mutex_lock(&rt->spare_lock);
    atomic_store(&rt->spare_wanted, wanted);
    pthread_cond_signal(&rt->spare_cond); /* to work, or to see `done` */
    pthread_mutex_unlock(&rt->spare_lock);
}

/* The spare sleeps when nobody wants it and it holds nothing: no task queued
 * on it and no I/O handle on its loop (a handle's tasks come back to it). */
static int spare_may_sleep(wf_worker_t *w) {
    return !atomic_load(&w->rt->spare_wanted) && !w->lifo_count && !wf_lq_len(&w->queue) &&
           !pinned_pending(w) && !uv_loop_alive(&w->loop);
}

static void spare_sleep(wf_worker_t *w) {
    wf_runtime_t *rt = w->rt;
    stop_searching(w); /* a searcher asleep would stop others from being woken */
    pthread_mutex_lock(&rt->spare_lock);
    atomic_store(&rt->spare_awake, 0);
    while (!atomic_load(&rt->spare_wanted) && !atomic_load(&rt->done))
        pthread_cond_wait(&rt->spare_cond, &rt->spare_lock);
    atomic_store(&rt->spare_awake, 1);
    pthread_mutex_unlock(&rt->spare_lock);
}

void wf_worker_run(wf_worker_t *w) {
    wf_runtime_t *rt = w->rt;
    tls_worker = w;
    if (rt->vclock) wf_clock_bind(&rt->clock_offset, rt->det != NULL);
    wf_fiber_init_thread(&w->sched_fiber);
    wf_altstack_init(&w->altstack);
    w->now = wf_clock_now();
    while (!atomic_load(&rt->done)) {
        if (WF_UNLIKELY(w->spare) && spare_may_sleep(w)) {
            spare_sleep(w);
            continue;
        }
        wf_task_t *t = next_task(w);
        if (t) run_task(w, t);
        else go_idle(w);
    }
    wf_altstack_fini(&w->altstack);
    wf_fiber_destroy(&w->sched_fiber);
    wf_clock_bind(NULL, 0);
    tls_worker = NULL;
}

int wf_worker_init(wf_worker_t *w, wf_runtime_t *rt, unsigned index) {
    w->rt = rt;
    w->index = index;
    w->rng = 0x9E3779B97F4A7C15ull * (index + 1);
    atomic_init(&w->pinned, NULL);
    atomic_init(&w->wake_at, NAN);
    atomic_init(&w->cpu, -1);
    wf_lq_init(&w->queue);
    if (wf_timer_heap_init(&w->timers)) return WEFT_ENOMEM;
    if (wf_stack_cache_init(&w->stacks)) goto fail_timers;
    if (uv_loop_init(&w->loop)) goto fail_stacks;
    if (uv_async_init(&w->loop, &w->wakeup, on_wakeup)) goto fail_loop;
    uv_timer_init(&w->loop, &w->park_timer);
    uv_unref((uv_handle_t *)&w->wakeup);
    uv_unref((uv_handle_t *)&w->park_timer);
    return 0;
fail_loop:
    uv_loop_close(&w->loop);
fail_stacks:
    wf_stack_cache_fini(rt->stacks, &w->stacks);
fail_timers:
    wf_timer_heap_destroy(&w->timers);
    return WEFT_ENOMEM;
}

void wf_worker_fini(wf_worker_t *w, uv_walk_cb close_leftover) {
    wf_task_records_flush(w);
    /* Our wake-up handles, and any I/O object a program never closed: an
     * open socket would keep the loop, and weft_run, running for ever. */
    uv_walk(&w->loop, close_leftover, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_loop_close(&w->loop);
    wf_stack_cache_fini(w->rt->stacks, &w->stacks);
    wf_timer_heap_destroy(&w->timers);
}
